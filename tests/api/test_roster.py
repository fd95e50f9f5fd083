"""The roster API: schools, students, their determinations, imports, and who may do what."""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from typing import Any

import openpyxl
import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from aidservice.extensions import db
from aidservice.identity import id_hmac, mask
from aidservice.models import AuditEvent, Determination, Guardian, Region, School, Student
from tests.world.factories import (
    HMAC_KEY,
    VAULT,
    bearer,
    id_number,
    make_client,
    make_school,
    make_student,
    make_user,
)

pytestmark = pytest.mark.databases

GUARDIAN_BORN = date(1980, 1, 1)


@dataclass
class World:
    """Two cities, three counties, three schools, a student, and a token for each kind of caller."""

    tokens: dict[str, str]

    def headers(self, who: str) -> dict[str, str]:
        return bearer(self.tokens[who]) if who in self.tokens else {}


@pytest.fixture
def world(app: Flask) -> World:
    session = db.session
    s1 = make_school(session, "S1", "320102", stages=("primary", "junior"))
    make_school(session, "S1B", "320102", stages=("junior",))
    make_school(session, "S2", "320213", stages=("primary", "junior"))
    make_school(session, "V1", "320104", stages=("vocational",), tuition_fee_fen=240000)
    make_student(session, "A1", s1, seed=1, stage="junior", grade=2)
    tokens = {
        "province_admin": make_user(session, "province_admin", region_code="320000")[1],
        "city_admin": make_user(session, "city_admin", region_code="320100")[1],
        "other_city_admin": make_user(session, "city_admin", username="wuxi", region_code="320200")[1],
        "county_admin": make_user(session, "county_admin", region_code="320102")[1],
        "other_county_admin": make_user(session, "county_admin", username="qinhuai", region_code="320104")[1],
        "officer": make_user(session, "school_officer", school_code="S1")[1],
        "other_officer": make_user(session, "school_officer", school_code="S2")[1],
        "auditor": make_user(session, "auditor")[1],
        "client": make_client(session, "civil_affairs"),
    }
    db.session.commit()
    return World(tokens)


def student_payload(**changes: Any) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "id_number": id_number(101),
        "name": "李四",
        "school_code": "S1",
        "class_name": "初一(2)班",
        "stage": "junior",
        "grade": 1,
        "boarding": False,
        "rural_hukou": True,
        "agri_major": False,
        "arts_performance_major": False,
        "retired_soldier": False,
        "salaried": False,
        "guardians": [
            {"id_number": id_number(201, born=GUARDIAN_BORN), "name": "李父", "relation": "father"},
            {"id_number": id_number(202, born=GUARDIAN_BORN), "name": "王母", "relation": "mother"},
        ],
    }
    payload.update(changes)
    return payload


def school_payload(**changes: Any) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "name": "南京市玄武区第九中学",
        "region_code": "320102",
        "stages": ["junior", "senior_high"],
        "kind": "public",
        "inclusive_kindergarten": False,
        "tuition_fee": "1250.00",
        "central_university": False,
    }
    payload.update(changes)
    return payload


def audit_events(action: str | None = None) -> list[AuditEvent]:
    query = sa.select(AuditEvent).order_by(AuditEvent.seq)
    if action is not None:
        query = query.where(AuditEvent.action == action)
    return list(db.session.execute(query).scalars())


def student(student_id: str) -> Student | None:
    return db.session.execute(sa.select(Student).where(Student.student_id == student_id)).scalar_one_or_none()


def put_student(client: FlaskClient, world: World, student_id: str, who: str = "officer", **changes: Any):  # type: ignore[no-untyped-def]
    return client.put(
        f"/api/v1/students/{student_id}", json=student_payload(**changes), headers=world.headers(who)
    )


# ================================================================================ schools


def test_an_admin_creates_a_school_with_its_city_derived_from_the_region(
    client: FlaskClient, world: World
) -> None:
    response = client.put("/api/v1/schools/N9", json=school_payload(), headers=world.headers("city_admin"))
    assert response.status_code == 201, response.json
    assert response.json == {
        "code": "N9",
        "name": "南京市玄武区第九中学",
        "region_code": "320102",
        "city_code": "320100",
        "stages": ["junior", "senior_high"],
        "kind": "public",
        "inclusive_kindergarten": False,
        "tuition_fee": "1250.00",
        "central_university": False,
    }
    [event] = audit_events("school.create")
    assert event.subject == "school:N9" and event.summary["before"] is None
    assert event.summary["after"]["tuition_fee"] == "1250.00"


def test_updating_a_school_answers_200_and_audits_before_and_after(client: FlaskClient, world: World) -> None:
    client.put("/api/v1/schools/N9", json=school_payload(), headers=world.headers("city_admin"))
    response = client.put(
        "/api/v1/schools/N9",
        json=school_payload(tuition_fee=None, kind="private"),
        headers=world.headers("county_admin"),
    )
    assert response.status_code == 200 and response.json["tuition_fee"] is None
    [event] = audit_events("school.update")
    assert event.summary["before"]["tuition_fee"] == "1250.00" and event.summary["before"]["kind"] == "public"
    assert event.summary["after"]["tuition_fee"] is None and event.summary["after"]["kind"] == "private"
    assert event.actor == "user:county_admin-320102"


def test_putting_the_same_school_again_changes_nothing(client: FlaskClient, world: World) -> None:
    client.put("/api/v1/schools/N9", json=school_payload(), headers=world.headers("city_admin"))
    again = client.put("/api/v1/schools/N9", json=school_payload(), headers=world.headers("city_admin"))
    assert again.status_code == 200
    assert len(audit_events("school.create")) == 1 and audit_events("school.update") == []


def test_a_school_in_an_unknown_county_adds_the_county_under_its_city(
    client: FlaskClient, world: World
) -> None:
    response = client.put(
        "/api/v1/schools/N10", json=school_payload(region_code="320115"), headers=world.headers("city_admin")
    )
    assert response.status_code == 201 and response.json["city_code"] == "320100"
    county = db.session.get(Region, "320115")
    assert county is not None and (county.level, county.parent_code, county.name) == (
        "county",
        "320100",
        "320115",
    )
    assert [e.subject for e in audit_events("region.create")] == ["region:320115"]


@pytest.mark.parametrize(
    ("region_code", "message"),
    [
        ("329901", "its city 329900 is not a known prefecture city"),
        ("329900", "unknown region 329900"),
        ("110101", "must be a Jiangsu division code"),
        ("3201", "must be a 6-digit division code"),
        ("320000", "place the school in its city or county"),
    ],
)
def test_a_school_region_must_be_a_known_jiangsu_city_or_county(
    client: FlaskClient, world: World, region_code: str, message: str
) -> None:
    response = client.put(
        "/api/v1/schools/N11",
        json=school_payload(region_code=region_code),
        headers=world.headers("province_admin"),
    )
    assert response.status_code == 422
    assert any(message in m for m in response.json["errors"]["region_code"]), response.json
    assert db.session.get(School, "N11") is None


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"stages": ["junior", "kindergarten"]}, "stages.1"),
        ({"stages": ["junior", "junior"]}, "stages"),
        ({"stages": []}, "stages"),
        ({"kind": "charity"}, "kind"),
        ({"tuition_fee": "12.345"}, "tuition_fee"),
        ({"tuition_fee": 1250.5}, "tuition_fee"),
        ({"tuition_fee": "-1.00"}, "tuition_fee"),
        ({"inclusive_kindergarten": "yes"}, "inclusive_kindergarten"),
        ({"name": "  "}, "name"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_a_school_payload_is_validated_field_by_field(
    client: FlaskClient, world: World, changes: dict[str, Any], field: str
) -> None:
    response = client.put(
        "/api/v1/schools/N12", json=school_payload(**changes), headers=world.headers("city_admin")
    )
    assert response.status_code == 422, response.json
    assert field in response.json["errors"], response.json


def test_a_school_payload_names_every_missing_field(client: FlaskClient, world: World) -> None:
    response = client.put("/api/v1/schools/N12", json={}, headers=world.headers("city_admin"))
    assert response.status_code == 422
    assert set(response.json["errors"]) == {"name", "region_code", "stages", "kind"}


def test_a_malformed_school_code_is_refused(client: FlaskClient, world: World) -> None:
    response = client.put(
        "/api/v1/schools/bad%20code", json=school_payload(), headers=world.headers("city_admin")
    )
    assert response.status_code == 422 and "code" in response.json["errors"]


def test_an_admin_may_not_move_a_school_out_of_their_region(client: FlaskClient, world: World) -> None:
    response = client.put(
        "/api/v1/schools/S1", json=school_payload(region_code="320104"), headers=world.headers("county_admin")
    )
    assert response.status_code == 403
    assert db.session.get(School, "S1").region_code == "320102"  # type: ignore[union-attr]


def test_a_stage_with_students_cannot_be_dropped_from_a_school(client: FlaskClient, world: World) -> None:
    response = client.put(
        "/api/v1/schools/S1", json=school_payload(stages=["primary"]), headers=world.headers("city_admin")
    )
    assert response.status_code == 422
    assert "junior (1 students)" in response.json["errors"]["stages"][0]


def test_changing_a_schools_tuition_fee_re_evaluates_its_students(client: FlaskClient, world: World) -> None:
    created = put_student(
        client, world, "V100", who="city_admin", school_code="V1", stage="vocational", grade=1
    )
    assert created.status_code == 201, created.json
    waiver = _award(created.json, "vocational_tuition_waiver")
    assert waiver["amount"] == "2400.00"
    payload = school_payload(region_code="320104", stages=["vocational"], tuition_fee="3000.00")
    assert (
        client.put("/api/v1/schools/V1", json=payload, headers=world.headers("city_admin")).status_code == 200
    )
    after = client.get("/api/v1/students/V100", headers=world.headers("city_admin")).json
    assert _award(after, "vocational_tuition_waiver")["amount"] == "3000.00"


def _award(student_json: dict[str, Any], program: str) -> dict[str, Any]:
    return next(a for a in student_json["determination"]["awards"] if a["program"] == program)


# ================================================================================ students: PUT


def test_an_officer_creates_a_student_and_gets_it_back_masked_with_a_determination(
    client: FlaskClient, world: World
) -> None:
    response = put_student(client, world, "B1")
    assert response.status_code == 201, response.json
    body = response.json
    number = id_number(101)
    assert body["id_number"] == number[:6] + "*" * 11 + number[-1:]
    assert [g["id_number"] for g in body["guardians"]] == [
        id_number(201, born=GUARDIAN_BORN)[:6] + "*" * 11 + id_number(201, born=GUARDIAN_BORN)[-1:],
        id_number(202, born=GUARDIAN_BORN)[:6] + "*" * 11 + id_number(202, born=GUARDIAN_BORN)[-1:],
    ]
    assert number not in response.get_data(as_text=True)
    determination = body["determination"]
    assert determination is not None
    assert determination["level"] == "none" and determination["total"] == "0.00"
    assert determination["as_of"] == "2021-03-01"
    assert determination["rule_set_version"].startswith("sha256:")


def test_a_student_and_guardians_are_stored_with_their_keyed_hashes(
    client: FlaskClient, world: World
) -> None:
    put_student(client, world, "B1")
    stored = student("B1")
    assert stored is not None
    assert VAULT.open_row("student", stored) == id_number(101) and stored.id_hmac == id_hmac(
        HMAC_KEY, id_number(101)
    )
    assert stored.id_mask == mask(id_number(101)) and id_number(101).encode() not in stored.id_cipher
    assert {g.id_hmac for g in stored.guardians} == {
        id_hmac(HMAC_KEY, id_number(201, born=GUARDIAN_BORN)),
        id_hmac(HMAC_KEY, id_number(202, born=GUARDIAN_BORN)),
    }


def test_a_lower_case_x_check_character_is_stored_upper_case(client: FlaskClient, world: World) -> None:
    number = next(n for n in (id_number(s) for s in range(300, 400)) if n.endswith("X"))
    response = put_student(client, world, "B2", id_number=number.lower())
    assert response.status_code == 201, response.json
    assert VAULT.open_row("student", student("B2")) == number


def test_creating_a_student_is_audited_with_masked_numbers_only(client: FlaskClient, world: World) -> None:
    put_student(client, world, "B1")
    [event] = audit_events("student.create")
    assert event.subject == "student:B1" and event.actor == "user:school_officer-S1"
    text = str(event.summary)
    for seed, born in ((101, date(2008, 3, 1)), (201, GUARDIAN_BORN), (202, GUARDIAN_BORN)):
        assert id_number(seed, born=born) not in text
    assert event.summary["after"]["id_number"] == id_number(101)[:6] + "*" * 11 + id_number(101)[-1:]
    assert event.summary["after"]["name"] == "李*" and "李四" not in text


def test_updating_a_student_answers_200_and_audits_only_what_changed(
    client: FlaskClient, world: World
) -> None:
    put_student(client, world, "B1")
    response = put_student(client, world, "B1", grade=2, boarding=True)
    assert response.status_code == 200 and response.json["grade"] == 2
    [event] = audit_events("student.update")
    assert event.summary["changed"] == ["grade", "boarding"]
    assert event.summary["before"] == {"grade": 1, "boarding": False}


def test_putting_the_same_student_again_writes_nothing(client: FlaskClient, world: World) -> None:
    put_student(client, world, "B1")
    before = len(audit_events())
    again = put_student(client, world, "B1")
    assert again.status_code == 200 and again.json["determination"] is not None
    assert len(audit_events()) == before


def test_guardians_are_updated_in_place_added_and_removed(client: FlaskClient, world: World) -> None:
    put_student(client, world, "B1")
    first_ids = {g.id_hmac: g.id for g in student("B1").guardians}  # type: ignore[union-attr]
    father = {"id_number": id_number(201, born=GUARDIAN_BORN), "name": "李爸爸", "relation": "father"}
    grandma = {"id_number": id_number(203, born=GUARDIAN_BORN), "name": "奶奶", "relation": "guardian"}
    response = put_student(client, world, "B1", guardians=[father, grandma])
    assert response.status_code == 200
    db.session.expire_all()
    guardians = {g.id_hmac: g for g in db.session.execute(sa.select(Guardian)).scalars()}
    father_hmac = id_hmac(HMAC_KEY, father["id_number"])
    assert guardians[father_hmac].name == "李爸爸" and guardians[father_hmac].id == first_ids[father_hmac]
    assert id_hmac(HMAC_KEY, id_number(202, born=GUARDIAN_BORN)) not in guardians
    assert id_hmac(HMAC_KEY, grandma["id_number"]) in guardians


def _bad_check_character(number: str) -> str:
    return number[:17] + ("0" if number[17] != "0" else "1")


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"id_number": _bad_check_character(id_number(101))}, "id_number", "check character"),
        ({"id_number": "320102" + "20080231" + "0017"}, "id_number", "birth date"),
        ({"id_number": "32010220080301001"}, "id_number", "18 characters"),
        ({"id_number": 320102200803010011}, "id_number", "18-character"),
        (
            {
                "guardians": [
                    {"id_number": _bad_check_character(id_number(201)), "name": "父", "relation": "father"}
                ]
            },
            "guardians.0.id_number",
            "check character",
        ),
        (
            {"guardians": [{"id_number": id_number(101), "name": "我", "relation": "father"}]},
            "guardians.0.id_number",
            "the student's own number",
        ),
        ({"school_code": "NOPE"}, "school_code", "unknown school NOPE"),
        ({"stage": "senior_high"}, "stage", "does not offer senior_high"),
        ({"stage": "kindergarten"}, "stage", "is not one of"),
        ({"grade": 0}, "grade", "between 1 and 12"),
        ({"grade": 13}, "grade", "between 1 and 12"),
        ({"grade": "2"}, "grade", "Not a valid integer"),
        ({"grade": 1.5}, "grade", "Not a valid integer"),
        ({"grade": True}, "grade", "Not a valid integer"),
        ({"boarding": "yes"}, "boarding", "Not a valid boolean"),
        ({"name": ""}, "name", "Length"),
        ({"guardians": "father"}, "guardians", "Not a valid list"),
        ({"nickname": "小李"}, "nickname", "Unknown field"),
    ],
)
def test_a_student_payload_is_refused_naming_the_field_and_the_reason(
    client: FlaskClient, world: World, changes: dict[str, Any], field: str, message: str
) -> None:
    response = put_student(client, world, "B3", **changes)
    assert response.status_code == 422, response.json
    assert response.mimetype == "application/problem+json"
    messages = response.json["errors"].get(field, [])
    assert any(message.lower() in m.lower() for m in messages), response.json["errors"]
    assert student("B3") is None


def test_a_student_payload_names_every_missing_field(client: FlaskClient, world: World) -> None:
    response = client.put("/api/v1/students/B3", json={"guardians": [{}]}, headers=world.headers("officer"))
    assert response.status_code == 422
    assert set(response.json["errors"]) == {
        "id_number",
        "name",
        "school_code",
        "stage",
        "grade",
        "guardians.0.id_number",
        "guardians.0.name",
        "guardians.0.relation",
    }


def test_a_student_body_must_be_json(client: FlaskClient, world: World) -> None:
    response = client.put("/api/v1/students/B3", data="id_number=1", headers=world.headers("officer"))
    assert response.status_code == 415


def test_an_identity_number_already_on_another_student_is_a_conflict(
    client: FlaskClient, world: World
) -> None:
    response = put_student(client, world, "B4", id_number=id_number(1))  # A1's number
    assert response.status_code == 409 and "id_number" in response.json["errors"]
    assert id_number(1) not in response.get_data(as_text=True)


def test_an_officer_may_not_change_another_schools_student(client: FlaskClient, world: World) -> None:
    response = put_student(client, world, "A1", who="other_officer", school_code="S2")
    assert response.status_code == 403
    assert student("A1").school_code == "S1"  # type: ignore[union-attr]


def test_an_officer_may_not_put_a_student_into_another_school(client: FlaskClient, world: World) -> None:
    assert put_student(client, world, "B5", school_code="S2").status_code == 403
    assert student("B5") is None


def test_an_admin_may_not_move_a_student_to_a_school_outside_their_region(
    client: FlaskClient, world: World
) -> None:
    response = put_student(client, world, "A1", who="county_admin", id_number=id_number(1), school_code="S2")
    assert response.status_code == 403
    assert student("A1").school_code == "S1"  # type: ignore[union-attr]


def test_an_admin_moves_a_student_between_schools_of_their_region(client: FlaskClient, world: World) -> None:
    response = put_student(client, world, "A1", who="city_admin", id_number=id_number(1), school_code="S1B")
    assert response.status_code == 200 and response.json["school_code"] == "S1B"


# ================================================================================ students: GET


def test_get_student_shows_the_current_determination_with_amounts_as_strings(
    client: FlaskClient, world: World
) -> None:
    put_student(
        client, world, "V2", who="city_admin", school_code="V1", stage="vocational", grade=1, agri_major=True
    )
    body = client.get("/api/v1/students/V2", headers=world.headers("auditor")).json
    determination = body["determination"]
    assert determination["total"] == "4400.00"
    assert {(a["program"], a["kind"], a["amount"]) for a in determination["awards"]} == {
        ("vocational_tuition_waiver", "waiver", "2400.00"),
        ("vocational_grant", "grant", "2000.00"),
    }
    assert all(a["basis"] and a["status"] in ("confirmed", "provisional") for a in determination["awards"])
    assert set(determination) >= {
        "level",
        "awards",
        "total",
        "reasons",
        "missing",
        "rule_set_version",
        "as_of",
    }
    stored = (
        db.session.execute(sa.select(Determination).where(Determination.current.is_(True))).scalars().all()
    )
    assert len([d for d in stored if d.student_pk == student("V2").id]) == 1  # type: ignore[union-attr]


def test_get_student_without_a_determination_yet_shows_null(client: FlaskClient, world: World) -> None:
    body = client.get("/api/v1/students/A1", headers=world.headers("officer")).json
    assert body["student_id"] == "A1" and body["determination"] is None
    assert body["id_number"] == id_number(1)[:6] + "*" * 11 + id_number(1)[-1:]


def test_get_unknown_student_is_404(client: FlaskClient, world: World) -> None:
    response = client.get("/api/v1/students/NOBODY", headers=world.headers("province_admin"))
    assert response.status_code == 404 and response.mimetype == "application/problem+json"


def test_roster_refuses_expired_and_revoked_tokens(client: FlaskClient, world: World) -> None:
    from datetime import timedelta

    _user, expired = make_user(db.session, "auditor", username="old", lifetime=timedelta(minutes=-5))
    revoked_client = make_client(db.session, "civil_affairs", revoked=True)
    for token in (expired, revoked_client):
        assert client.get("/api/v1/students/A1", headers=bearer(token)).status_code == 401


# ================================================================================ access matrix

CALLERS = (
    "province_admin",
    "city_admin",
    "other_city_admin",
    "county_admin",
    "other_county_admin",
    "officer",
    "other_officer",
    "auditor",
    "client",
    "anonymous",
)
READ = {"province_admin": 200, "city_admin": 200, "county_admin": 200, "officer": 200, "auditor": 200}
WRITE = {"province_admin": 200, "city_admin": 200, "county_admin": 200, "officer": 200}
CREATE = dict.fromkeys(WRITE, 201)
SCHOOL = {"province_admin": 200, "city_admin": 200, "county_admin": 200}
IMPORT = {
    **WRITE,
    "other_city_admin": 422,
    "other_county_admin": 422,
    "other_officer": 422,  # the row is out of scope
}


def _expected(table: dict[str, int], caller: str) -> int:
    if caller == "anonymous":
        return 401
    if table is READ and caller.startswith("other_"):
        return 404  # issue 16: a student outside the scope is one that does not exist
    return table.get(caller, 403)


def _call(client: FlaskClient, world: World, route: str, caller: str):  # type: ignore[no-untyped-def]
    headers = world.headers(caller)
    if route == "GET student":
        return client.get("/api/v1/students/A1", headers=headers)
    if route == "PUT existing student":
        payload = student_payload(id_number=id_number(1), stage="junior", grade=2)
        return client.put("/api/v1/students/A1", json=payload, headers=headers)
    if route == "PUT new student":
        return client.put("/api/v1/students/NEW", json=student_payload(), headers=headers)
    if route == "PUT school":
        payload = school_payload(name="S1", stages=["primary", "junior"])
        return client.put("/api/v1/schools/S1", json=payload, headers=headers)
    if route == "POST import":
        csv_text = (
            "student_id,school_code,id_number,name,stage,grade\nNEW,S1," + id_number(101) + ",李四,junior,1\n"
        )
        return client.post(
            "/api/v1/students/import",
            data={"file": (io.BytesIO(csv_text.encode()), "r.csv")},
            headers=headers,
            content_type="multipart/form-data",
        )
    raise AssertionError(route)


MATRIX = [
    pytest.param(route, caller, _expected(table, caller), id=f"{route}-{caller}")
    for route, table in (
        ("GET student", READ),
        ("PUT existing student", WRITE),
        ("PUT new student", CREATE),
        ("PUT school", SCHOOL),
        ("POST import", IMPORT),
    )
    for caller in CALLERS
]


def test_authentication_comes_before_body_validation(client: FlaskClient, world: World) -> None:
    assert client.put("/api/v1/students/B9", json={}).status_code == 401
    assert client.put("/api/v1/schools/N1", json={}, headers=world.headers("auditor")).status_code == 403


@pytest.mark.parametrize(("route", "caller", "status"), MATRIX)
def test_access_control_matrix(
    client: FlaskClient, world: World, route: str, caller: str, status: int
) -> None:
    response = _call(client, world, route, caller)
    assert response.status_code == status, response.json


# ================================================================================ import

HEADER = (
    "student_id,id_number,name,class_name,stage,grade,boarding,rural_hukou,"
    "guardian1_id_number,guardian1_name,guardian1_relation,guardian2_id_number,guardian2_name,guardian2_relation"
)


def csv_row(student_id: str, seed: int, **cells: str) -> str:
    values = {
        "student_id": student_id,
        "id_number": id_number(seed),
        "name": "学生",
        "class_name": "一班",
        "stage": "junior",
        "grade": "1",
        "boarding": "否",
        "rural_hukou": "是",
        "guardian1_id_number": id_number(seed + 5000, born=GUARDIAN_BORN),
        "guardian1_name": "父亲",
        "guardian1_relation": "father",
        "guardian2_id_number": "",
        "guardian2_name": "",
        "guardian2_relation": "",
    }
    values.update(cells)
    return ",".join(values[c] for c in HEADER.split(","))


def upload(
    client: FlaskClient,
    world: World,
    content: bytes,
    name: str = "roster.csv",
    who: str = "officer",
    partial: bool = False,
):  # type: ignore[no-untyped-def]
    url = "/api/v1/students/import" + ("?partial=true" if partial else "")
    return client.post(
        url,
        data={"file": (io.BytesIO(content), name)},
        headers=world.headers(who),
        content_type="multipart/form-data",
    )


def csv_file(*rows: str, bom: bool = False, header: str = HEADER) -> bytes:
    return ("\ufeff" if bom else "").encode() + "\r\n".join([header, *rows]).encode("utf-8") + b"\r\n"


@pytest.mark.parametrize("bom", [True, False], ids=["with-bom", "without-bom"])
def test_a_csv_import_creates_students_of_the_officers_school(
    client: FlaskClient, world: World, bom: bool
) -> None:
    response = upload(client, world, csv_file(csv_row("C1", 401), csv_row("C2", 402), bom=bom))
    assert response.status_code == 200, response.json
    assert response.json == {"created": 2, "updated": 0, "unchanged": 0, "rejected": []}
    c1 = student("C1")
    assert c1 is not None and c1.school_code == "S1" and c1.rural_hukou and not c1.boarding
    assert [g.relation for g in c1.guardians] == ["father"]
    got = client.get("/api/v1/students/C2", headers=world.headers("officer")).json
    assert got["determination"] is not None


def test_an_xlsx_import_reads_typed_cells(client: FlaskClient, world: World) -> None:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(
        [
            "student_id",
            "school_code",
            "id_number",
            "name",
            "stage",
            "grade",
            "boarding",
            "guardian1_id_number",
            "guardian1_name",
            "guardian1_relation",
            None,
        ]
    )
    sheet.append(
        [
            20200001,
            "S1",
            id_number(501),
            "赵五",
            "primary",
            3,
            True,
            id_number(5501, born=GUARDIAN_BORN),
            "赵父",
            "father",
            None,
        ]
    )
    sheet.append(["X2", "S1", id_number(502), "钱六", "junior", 2.0, 0, None, None, None])
    buffer = io.BytesIO()
    workbook.save(buffer)
    response = upload(client, world, buffer.getvalue(), name="roster.xlsx")
    assert response.status_code == 200, response.json
    assert response.json["created"] == 2
    first = student("20200001")
    assert first is not None and first.grade == 3 and first.boarding and first.stage == "primary"
    second = student("X2")
    assert second is not None and second.grade == 2 and not second.boarding and second.guardians == []


def test_an_import_with_invalid_rows_writes_nothing_and_lists_every_problem(
    client: FlaskClient, world: World
) -> None:
    content = csv_file(
        csv_row("C1", 401),
        csv_row("C2", 402, id_number=_bad_check_character(id_number(402))),
        csv_row("C3", 403, stage="senior_high"),
        csv_row("C4", 404, guardian1_id_number="320102198001019999"),
        csv_row("C5", 405, grade="two", boarding="maybe"),
    )
    before = len(audit_events())
    response = upload(client, world, content)
    assert response.status_code == 422
    errors = response.json["errors"]
    assert set(errors) == {
        "rows.3.id_number",
        "rows.4.stage",
        "rows.5.guardian1_id_number",
        "rows.6.grade",
        "rows.6.boarding",
    }
    assert errors["rows.3.id_number"] == ["校验位不正确（请核对号码）"]
    assert "5 行数据中有 4 行有错误" in response.json["detail"]
    assert student("C1") is None and len(audit_events()) == before


def test_a_partial_import_writes_the_valid_rows_and_reports_the_others(
    client: FlaskClient, world: World
) -> None:
    content = csv_file(
        csv_row("C1", 401),
        csv_row("C2", 402, id_number="320102200802300011"),
        csv_row("C3", 403, guardian2_id_number=id_number(9403, born=GUARDIAN_BORN), guardian2_name=""),
        csv_row("C1", 406),
    )
    response = upload(client, world, content, partial=True)
    assert response.status_code == 200, response.json
    assert response.json["created"] == 1 and response.json["updated"] == 0
    assert response.json["rejected"] == [
        {"row": 3, "field": "id_number", "message": "出生日期不是有效日期"},
        {"row": 4, "field": "guardian2_name", "message": "必填，不能为空"},
        {"row": 4, "field": "guardian2_relation", "message": "必填，不能为空"},
        {"row": 5, "field": "student_id", "message": "学号与第 2 行重复"},
    ]
    assert student("C1") is not None and student("C2") is None and student("C3") is None


def test_importing_again_updates_what_changed_and_leaves_the_rest(client: FlaskClient, world: World) -> None:
    upload(client, world, csv_file(csv_row("C1", 401), csv_row("C2", 402)))
    response = upload(client, world, csv_file(csv_row("C1", 401), csv_row("C2", 402, grade="2")))
    assert response.json == {"created": 0, "updated": 1, "unchanged": 1, "rejected": []}
    assert student("C2").grade == 2  # type: ignore[union-attr]


def test_an_import_is_one_audit_event_with_counts_and_no_identity_numbers(
    client: FlaskClient, world: World
) -> None:
    content = csv_file(csv_row("C1", 401), csv_row("C2", 402))
    upload(client, world, content)
    [event] = audit_events("student.import")
    assert event.subject == "school:S1"
    summary = event.summary
    assert (summary["created"], summary["updated"], summary["rejected_rows"]) == (2, 0, 0)
    assert summary["students"] == {"created": ["C1", "C2"], "updated": []}
    assert summary["file"]["format"] == "csv" and len(summary["file"]["sha256"]) == 64
    assert id_number(401) not in str(summary) and id_number(402) not in str(summary)
    assert audit_events("student.create") == []


def test_an_admins_import_needs_school_codes_and_rejects_rows_outside_their_region(
    client: FlaskClient, world: World
) -> None:
    header = HEADER + ",school_code"
    content = csv_file(csv_row("C1", 401) + ",S1", csv_row("C2", 402) + ",S2", header=header)
    response = upload(client, world, content, who="city_admin", partial=True)
    assert response.json["created"] == 1
    assert response.json["rejected"] == [
        {"row": 3, "field": "school_code", "message": "学校 S2 不在您的管理范围内"}
    ]
    without = upload(client, world, csv_file(csv_row("C3", 403)), who="city_admin")
    assert without.status_code == 422 and without.json["errors"] == {"rows.1.school_code": ["缺少此必填列"]}


@pytest.mark.parametrize(
    ("header", "errors"),
    [
        (HEADER + ",nickname", {"rows.1.nickname": ["无法识别的列名"]}),
        (HEADER.replace("grade,", ""), {"rows.1.grade": ["缺少此必填列"]}),
        (
            HEADER + ",guardian3_name",
            {
                "rows.1.guardian3_id_number": ["缺少此必填列"],
                "rows.1.guardian3_relation": ["缺少此必填列"],
            },
        ),
        (HEADER + ",grade", {"rows.1.grade": ["列名重复"]}),
    ],
)
def test_header_problems_reject_the_whole_file(
    client: FlaskClient, world: World, header: str, errors: dict[str, list[str]]
) -> None:
    response = upload(client, world, csv_file(header=header))
    assert response.status_code == 422 and response.json["errors"] == errors


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"\xff\xfe\x00bad", "无法作为CSV 文件（UTF-8 或 GBK/GB18030 编码）读取"),
        (b"PK\x03\x04not really a zip", "could not be read as an XLSX workbook"),
        (b"\xd0\xcf\x11\xe0old", "old Excel"),
        (b"", "is empty"),
        (HEADER.encode(), "表头下没有数据行"),
    ],
)
def test_an_unreadable_file_is_refused(
    client: FlaskClient, world: World, content: bytes, message: str
) -> None:
    response = upload(client, world, content)
    assert response.status_code == 422 and message in response.json["errors"]["file"][0]


def test_an_import_without_a_file_names_the_field(client: FlaskClient, world: World) -> None:
    response = client.post(
        "/api/v1/students/import",
        data={},
        headers=world.headers("officer"),
        content_type="multipart/form-data",
    )
    assert response.status_code == 422 and "file" in response.json["errors"]


def test_a_file_over_the_size_limit_is_413(app: Flask, client: FlaskClient, world: World) -> None:
    app.config["AID_IMPORT_MAX_BYTES"] = 500
    response = upload(client, world, csv_file(*(csv_row(f"C{i}", 400 + i) for i in range(5))))
    assert response.status_code == 413 and response.mimetype == "application/problem+json"
    assert "500 bytes" in response.json["detail"] and student("C0") is None


def test_a_file_over_the_row_limit_is_413(app: Flask, client: FlaskClient, world: World) -> None:
    app.config["AID_IMPORT_MAX_ROWS"] = 3
    response = upload(client, world, csv_file(*(csv_row(f"C{i}", 400 + i) for i in range(4))))
    assert response.status_code == 413 and "more than 3 rows" in response.json["detail"]


def test_a_body_over_the_request_limit_is_413(app: Flask, client: FlaskClient, world: World) -> None:
    app.config["MAX_CONTENT_LENGTH"] = 300
    response = upload(client, world, csv_file(*(csv_row(f"C{i}", 400 + i) for i in range(5))))
    assert response.status_code == 413


@pytest.fixture
def statements(app: Flask) -> Iterator[list[str]]:
    seen: list[str] = []

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        seen.append(statement)

    sa.event.listen(db.engine, "before_cursor_execute", count)
    yield seen
    sa.event.remove(db.engine, "before_cursor_execute", count)


def test_an_import_issues_the_same_number_of_queries_for_20_or_400_rows(
    client: FlaskClient, world: World, statements: list[str]
) -> None:
    def queries_for(rows: int, start: int) -> int:
        statements.clear()
        content = csv_file(*(csv_row(f"Q{start + i}", start + i) for i in range(rows)))
        assert upload(client, world, content).status_code == 200
        return len(statements)

    small = queries_for(20, 1000)
    large = queries_for(400, 2000)
    assert large <= small + 4, (small, large)


def test_a_student_created_concurrently_is_a_conflict_not_a_500(
    client: FlaskClient, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    from aidservice.services.roster import roster

    monkeypatch.setattr(
        roster, "_load_student", lambda session, student_id: None
    )  # as if A1 were not there yet
    response = put_student(client, world, "A1", who="city_admin", id_number=id_number(1), grade=2)
    assert response.status_code == 409 and "at the same time" in response.json["detail"]
