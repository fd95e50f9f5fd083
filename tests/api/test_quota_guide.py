"""Guide ratios and proposed places (动态调整资助比例): enrolment, identified and aided shares against the
preschool guide (南京 8 %, 徐州 12 %), proposals rounded up with special-group students as a floor, and no
number for a stage without a guide; who may read it."""

from __future__ import annotations

import csv
import io

import pytest
from flask import Flask
from flask.testing import FlaskClient

from aidservice.extensions import db
from aidservice.services.applications import submission
from aidservice.services.applications.guide import NO_GUIDE, GuideRow, quota_guide
from aidservice.services.errors import Forbidden
from tests.world.applications import (
    World,
    approve_through_services,
    body,
    declared,
    ok,
    service_settings,
    student_row,
    subsistence,
    world_fixture,  # noqa: F401 - fixture "world"
)
from tests.world.factories import make_school, make_user

pytestmark = pytest.mark.databases
YEAR = "2020-2021"
URL = "/api/v1/quotas/guide"
RICH = "90000.00"  # far above every line: identified as none


@pytest.fixture
def kindergartens(app: Flask, world: World) -> World:
    """K1 (玄武区, 13 children: one approved and aided), K2 (玄武区, 5 children, 2 of them 低保), K3 (徐州, 1)."""
    session = db.session
    k1 = make_school(
        session, "K1", "320102", stages=("preschool",), name="玄武幼儿园", inclusive_kindergarten=True
    )
    k2 = make_school(
        session, "K2", "320102", stages=("preschool",), name="=梅园幼儿园", inclusive_kindergarten=True
    )
    k3 = make_school(
        session, "K3", "320302", stages=("preschool",), name="徐州幼儿园", inclusive_kindergarten=True
    )
    for code in ("K1", "K2"):
        world.tokens[f"officer_{code}"] = make_user(
            session, "school_officer", username=f"officer-{code}", school_code=code
        )[1]
    session.commit()
    for i in range(13):
        world.student(f"A{i}", school=k1, stage="preschool", grade=1, guardians=[7000 + i])
    for i in range(5):
        world.student(f"B{i}", school=k2, stage="preschool", grade=1, guardians=[7100 + i])
    world.student("C0", school=k3, stage="preschool", grade=1, guardians=[7200])
    approve_through_services(app, world, student_row("A0"), who="officer_K1")  # low income: difficult, aided
    settings = service_settings(app)
    actor = world.actor("officer_K2")
    for i in (0, 1):
        subsistence(world, 7100 + i, f"DB-{i}")
        submission.create_application(
            db.session,
            actor=actor,
            settings=settings,
            payload=body(f"B{i}", declared=declared(per_capita_income=RICH)),
        )
    db.session.commit()
    return world


def rows(
    app: Flask, world: World, who: str = "county_admin", **query: object
) -> dict[tuple[str, str], GuideRow]:
    view = quota_guide(
        db.session,
        actor=world.actor(who),
        settings=service_settings(app),
        region=query.get("region"),  # type: ignore[arg-type]
        school_year=YEAR,
        stage=str(query.get("stage", "preschool")),
    )
    return {(r.code, r.program): r for r in view.rows}


def test_proposals_round_up_and_never_fall_below_the_special_groups(
    app: Flask, world: World, kindergartens: World
) -> None:
    got = rows(app, world)
    k1 = got[("K1", "preschool_aid")]
    assert (k1.enrolled, k1.identified, k1.aided, k1.special) == (13, 1, 1, 0)
    assert k1.guide_share == 0.08 and k1.proposed_places == 2  # 0.08 × 13 = 1.04: rounded up
    assert k1.identified_share == k1.aided_share == round(1 / 13, 4)
    k2 = got[("K2", "preschool_aid")]
    assert (k2.enrolled, k2.special, k2.identified) == (5, 2, 0)
    assert k2.proposed_places == 2  # 0.08 × 5 = 0.4 -> 1, but both 低保 children get a place
    county = got[("320102", "preschool_aid")]
    assert (county.level, county.enrolled, county.special, county.proposed_places) == ("county", 18, 2, 4)
    assert ("K3", "preschool_aid") not in got  # 徐州 is outside the 玄武区 administrator's county


def test_another_region_group_reads_its_own_guide(app: Flask, world: World, kindergartens: World) -> None:
    got = rows(app, world, who="province_admin", region="320302")
    k3 = got[("K3", "preschool_aid")]
    assert k3.guide_share == 0.12 and k3.proposed_places == 1  # 0.12 × 1 -> 1 (苏北)


def test_a_stage_without_a_guide_proposes_nothing(app: Flask, world: World, kindergartens: World) -> None:
    world.student("P1", stage="primary", grade=3)
    got = rows(app, world, stage="primary")
    s1 = got[("S1", "compulsory_living_subsidy")]
    assert s1.enrolled == 1
    assert s1.guide_share is None and s1.proposed_places is None and s1.note == NO_GUIDE
    assert got[("320102", "compulsory_living_subsidy")].proposed_places is None


def test_only_administrators_and_auditors_read_it(app: Flask, world: World) -> None:
    with pytest.raises(Forbidden):
        rows(app, world, who="officer")


@pytest.mark.parametrize(
    ("who", "region", "status"),
    [
        ("officer", "", 403),
        ("county_admin", "", 200),
        ("county_admin", "320102", 200),
        ("county_admin", "320213", 403),  # another county (无锡 梁溪区)
        ("county_admin", "320100", 403),  # the city above
        ("other_city_admin", "320102", 403),
        ("province_admin", "320213", 200),
        ("other_city_admin", "320213", 200),
        ("auditor", "320102", 200),
        ("client", "", 403),
        ("anonymous", "", 401),
    ],
)
def test_api_access(client: FlaskClient, world: World, who: str, region: str, status: int) -> None:
    response = client.get(f"{URL}?region={region}&school_year={YEAR}", headers=world.headers(who))
    assert response.status_code == status, response.json


def test_api_json_and_csv(client: FlaskClient, world: World, kindergartens: World) -> None:
    view = ok(client.get(f"{URL}?school_year={YEAR}&stage=preschool", headers=world.headers("county_admin")))
    assert view["region"]["code"] == "320102" and view["guide_parameter"] == "preschool_guide_ratio"
    assert view["guide_status"] == "provisional" and any("第29项" in b for b in view["basis"])
    k1 = next(r for r in view["rows"] if r["code"] == "K1" and r["program"] == "preschool_aid")
    assert (k1["guide_share"], k1["proposed_places"]) == (0.08, 2)
    response = client.get(f"{URL}?school_year={YEAR}&format=csv", headers=world.headers("county_admin"))
    assert response.status_code == 200 and response.mimetype == "text/csv"
    table = list(csv.reader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))
    assert table[0][:3] == ["层级", "代码", "名称"] and "建议名额" in table[0]
    assert any(row[1] == "K2" and row[2] == "'=梅园幼儿园" for row in table[1:])  # no formula in a sheet


@pytest.mark.parametrize(
    ("query", "field"), [("stage=kindergarten", "stage"), ("school_year=2020", "school_year")]
)
def test_bad_input_names_the_field(client: FlaskClient, world: World, query: str, field: str) -> None:
    response = client.get(f"{URL}?{query}", headers=world.headers("county_admin"))
    assert response.status_code == 422 and list(response.json["errors"]) == [field], response.json


def test_the_regions_report_compares_preschool_shares_with_the_guide_per_county(
    client: FlaskClient, world: World, kindergartens: World
) -> None:
    response = client.get(
        "/api/v1/reports/regions",
        query_string={"period": "2020-2021", "region": "320100"},
        headers=world.headers("province_admin"),
    )
    assert response.status_code == 200, response.json
    section = response.json["sections"]["guide"]
    assert "指导比例" in section["title"]
    (xuanwu,) = [r for r in section["rows"] if r["code"] == "320102"]
    assert (xuanwu["stage"], xuanwu["students"], xuanwu["identified"], xuanwu["aided"]) == (
        "preschool",
        18,
        1,
        1,
    )
    assert xuanwu["guide_share"] == 0.08 and xuanwu["gap"] == round(1 / 18 - 0.08, 4)
