"""The regions report against the hand-computed province of tests/world/reports.py."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient

from aidservice.extensions import db
from tests.world.factories import make_student
from tests.world.reports import (
    Province,
    as_json,
    csv_sections,
    province_fixture,  # noqa: F401 - fixture "province"
)

pytestmark = pytest.mark.databases
CELLS = (
    "code",
    "students",
    "level_special",
    "level_difficult",
    "level_general",
    "level_none",
    "undetermined",
    "aided",
    "committed",
    "paid",
    "special_group_students",
    "special_group_aided",
    "coverage",
)
EMPTY_CITY = (0, 0, 0, 0, 0, 0, 0, "0.00", "0.00", 0, 0, None)


def get(client: FlaskClient, province: Province, who: str = "province_admin", **query: str):  # type: ignore[no-untyped-def]
    params = {"period": "2020-2021-autumn", **query}
    return client.get("/api/v1/reports/regions", query_string=params, headers=province.headers(who))


def rows(report: dict) -> list[tuple]:
    return [tuple(row[c] for c in CELLS) for row in report["sections"]["regions"]["rows"]]


def test_the_province_by_city_weakest_coverage_first(client: FlaskClient, province: Province) -> None:
    # levels are standings: PLAIN and QUOTA were approved as difficult (their determinations say none and
    # special), every other approved student at the determination's level
    report = as_json(get(client, province).data)
    table = rows(report)
    assert table[0] == ("320200", 3, 2, 1, 0, 0, 0, 1, "1250.00", "625.00", 2, 0, 0.0)
    assert table[1] == ("320100", 7, 5, 1, 0, 1, 0, 2, "5850.00", "2925.00", 6, 2, 0.3333)
    others = table[2:-1]
    assert [r[0] for r in others] == [
        "320300",
        "320400",
        "320500",
        "320600",
        "320700",
        "320800",
        "320900",
        "321000",
        "321100",
        "321200",
        "321300",
    ]
    assert all(r[1:] == EMPTY_CITY for r in others)
    assert table[-1] == ("320000", 10, 7, 2, 0, 1, 0, 3, "7100.00", "3550.00", 8, 2, 0.25)
    assert report["sections"]["regions"]["rows"][-1]["name"] == "江苏省合计"
    assert report["rule_set_versions"]["determinations"] == [report["running_rule_set_version"]]


def test_a_city_by_county_and_a_county_by_school(client: FlaskClient, province: Province) -> None:
    nanjing = rows(as_json(get(client, province, "nanjing_admin").data))
    assert nanjing == [
        ("320102", 6, 4, 1, 0, 1, 0, 1, "1250.00", "625.00", 5, 1, 0.2),
        ("320104", 1, 1, 0, 0, 0, 0, 1, "4600.00", "2300.00", 1, 1, 1.0),
        ("320100", 7, 5, 1, 0, 1, 0, 2, "5850.00", "2925.00", 6, 2, 0.3333),
    ]
    county = rows(as_json(get(client, province, "county_admin").data))
    assert county == [
        ("K1", 1, 1, 0, 0, 0, 0, 0, "0.00", "0.00", 1, 0, 0.0),
        ("S1", 5, 3, 1, 0, 1, 0, 1, "1250.00", "625.00", 4, 1, 0.25),
        ("320102", 6, 4, 1, 0, 1, 0, 1, "1250.00", "625.00", 5, 1, 0.2),
    ]
    school = rows(as_json(get(client, province, "officer_S2").data))
    assert school == [
        ("S2", 1, 1, 0, 0, 0, 0, 1, "4600.00", "2300.00", 1, 1, 1.0),
        ("S2", 1, 1, 0, 0, 0, 0, 1, "4600.00", "2300.00", 1, 1, 1.0),
    ]


def test_a_student_without_a_determination_is_undetermined(client: FlaskClient, province: Province) -> None:
    make_student(db.session, "ST-NEW", province.students["PLAIN"].school, seed=120, stage="junior", grade=1)
    db.session.commit()
    wuxi = rows(as_json(get(client, province, "wuxi_admin").data))
    assert wuxi[0][:8] == ("320213", 4, 2, 1, 0, 0, 1, 1)


def test_csv_and_html_carry_the_ranking(client: FlaskClient, province: Province) -> None:
    sections = csv_sections(get(client, province, format="csv").data)
    (title,) = [t for t in sections if t.startswith("分地区情况")]  # then the guide-ratio section
    assert any(t.startswith("资助比例与省定指导比例对照") for t in sections)
    header, first = sections[title][0], sections[title][1]
    assert dict(zip(header, first, strict=True))["名称"] == "无锡市"
    assert dict(zip(header, first, strict=True))["特殊群体资助覆盖率"] == "0.00%"
    page = get(client, province, format="html").data.decode("utf-8")
    assert page.count("<svg") == 2 and page.index("无锡市") < page.index("南京市")
