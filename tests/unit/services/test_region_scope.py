"""A region's scope in SQL (a range of codes, index-friendly) reaches exactly the codes its prefix reaches."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from aidservice.services.actors import Actor, in_region, region_prefix

CODES = [
    "320000",
    "320100",
    "320102",
    "320199",
    "320200",
    "320900",
    "320999",
    "321000",
    "321002",
    "329999",
    "330100",
    "310000",
    "3201",
    "32",
    "3209",
    "32090",
    "320",
    "3",
    "",
    "990100",
    "99",
]
REGIONS = ["320000", "320100", "320102", "320900", "320990", "321000", "329900", "990000"]


@pytest.fixture(scope="module")
def codes() -> tuple[sa.Engine, sa.Table]:
    engine = sa.create_engine("sqlite://")
    table = sa.Table("codes", sa.MetaData(), sa.Column("code", sa.String, primary_key=True))
    table.create(engine)
    with engine.begin() as connection:
        connection.execute(table.insert(), [{"code": c} for c in CODES])
    return engine, table


@pytest.mark.parametrize("region", REGIONS)
def test_the_range_reaches_the_codes_the_prefix_reaches(
    codes: tuple[sa.Engine, sa.Table], region: str
) -> None:
    engine, table = codes
    with engine.connect() as connection:
        found = set(connection.scalars(sa.select(table.c.code).where(in_region(table.c.code, region))))
    assert found == {c for c in CODES if c.startswith(region_prefix(region))}
    admin = Actor("user", "a", 1, role="county_admin", region_code=region)
    assert found == {c for c in CODES if admin.reaches_region(c)}  # the same scope as the checks in Python


def test_a_region_ending_in_nine_carries_into_the_next_code(codes: tuple[sa.Engine, sa.Table]) -> None:
    clause = in_region(codes[1].c.code, "320900")
    compiled = clause.compile(compile_kwargs={"literal_binds": True})
    assert "'3209'" in str(compiled) and "'3210'" in str(compiled)  # not '320:', which collations order apart
