"""The roster's seed-item fields: east–west cooperation (item 35) and the enrolment state (item 30), through the
students API and the import, checked against the rules' vocabulary."""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import date
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from aidservice.extensions import db
from aidservice.models import AuditEvent, Student
from tests.world.factories import bearer, id_number, make_school, make_user

pytestmark = pytest.mark.databases


@dataclass
class World:
    tokens: dict[str, str]

    def headers(self, who: str = "county_admin") -> dict[str, str]:
        return bearer(self.tokens[who])


@pytest.fixture
def world(app: Flask) -> World:
    session = db.session
    make_school(session, "V1", "320102", stages=("vocational",), tuition_fee_fen=240000)
    make_school(session, "P1", "320102", stages=("primary", "junior"))
    make_school(session, "P2", "320104", stages=("primary", "junior"))
    tokens = {
        "county_admin": make_user(session, "county_admin", region_code="320102")[1],
        "city_admin": make_user(session, "city_admin", region_code="320100")[1],
        "officer_v1": make_user(session, "school_officer", school_code="V1")[1],
    }
    db.session.commit()
    return World(tokens)


def payload(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id_number": id_number(301, born=date(2004, 5, 6)),
        "name": "马小青",
        "school_code": "V1",
        "class_name": "数控一班",
        "stage": "vocational",
        "grade": 1,
        "east_west_cooperation": True,
        "east_west_origin": "qinghai_haidong",
    }
    body.update(changes)
    return body


def put(
    client: FlaskClient, world: World, student_id: str = "EW1", who: str = "county_admin", **changes: Any
):  # type: ignore[no-untyped-def]
    return client.put(f"/api/v1/students/{student_id}", json=payload(**changes), headers=world.headers(who))


def stored(student_id: str) -> Student:
    return db.session.execute(sa.select(Student).where(Student.student_id == student_id)).scalar_one()


def test_an_east_west_student_is_stored_shown_and_audited(client: FlaskClient, world: World) -> None:
    response = put(client, world)
    assert response.status_code == 201, response.json
    body = response.json
    assert body["east_west_cooperation"] is True and body["east_west_origin"] == "qinghai_haidong"
    assert body["enrolment_state"] == "enrolled" and body["enrolment_date"] is None
    fetched = client.get("/api/v1/students/EW1", headers=world.headers()).json
    assert fetched["east_west_origin"] == "qinghai_haidong"
    event = db.session.execute(
        sa.select(AuditEvent).where(AuditEvent.action == "student.create")
    ).scalar_one()
    assert event.summary["after"]["east_west_origin"] == "qinghai_haidong"


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"east_west_origin": None}, "east_west_origin"),  # the flag needs its origin
        ({"east_west_cooperation": False}, "east_west_origin"),  # an origin needs the flag
        ({"east_west_origin": "gansu"}, "east_west_origin"),  # not a partner region of the rules
        ({"school_code": "P1", "stage": "junior"}, "east_west_cooperation"),  # vocational students only
        ({"enrolment_state": "expelled"}, "enrolment_state"),
        ({"enrolment_state": "dropped_out"}, "enrolment_date"),  # a state other than enrolled needs its date
        ({"enrolment_date": "2020-13-01", "enrolment_state": "suspended"}, "enrolment_date"),
    ],
)
def test_bad_seed_fields_are_refused_naming_the_field_and_nothing_is_stored(
    client: FlaskClient, world: World, changes: dict[str, Any], field: str
) -> None:
    response = put(client, world, **changes)
    assert response.status_code == 422 and response.mimetype == "application/problem+json"
    assert field in response.json["errors"], response.json
    assert db.session.execute(sa.select(sa.func.count()).select_from(Student)).scalar() == 0


def test_a_record_no_longer_on_the_roll_frees_the_number_for_another_school(
    client: FlaskClient, world: World
) -> None:
    number = id_number(311)
    common = {
        "id_number": number,
        "east_west_cooperation": False,
        "east_west_origin": None,
        "stage": "junior",
    }
    assert put(client, world, "T1", school_code="P1", **common).status_code == 201
    # enrolled twice: refused (no more said than "taken")
    assert put(client, world, "T2", who="city_admin", school_code="P2", **common).status_code == 409
    moved = put(
        client,
        world,
        "T1",
        school_code="P1",
        enrolment_state="transferred",
        enrolment_date="2020-09-20",
        **common,
    )
    assert moved.status_code == 200 and moved.json["enrolment_state"] == "transferred"
    assert put(client, world, "T2", who="city_admin", school_code="P2", **common).status_code == 201
    # and the transferred record cannot come back on the roll while the other one is
    back = put(client, world, "T1", school_code="P1", **common)
    assert back.status_code == 409
    change = db.session.execute(
        sa.select(AuditEvent).where(AuditEvent.action == "student.update", AuditEvent.subject == "student:T1")
    ).scalar_one()
    assert change.summary["before"]["enrolment_state"] == "enrolled"
    assert change.summary["after"] == {"enrolment_state": "transferred", "enrolment_date": "2020-09-20"}


HEADER = "student_id,school_code,id_number,name,stage,grade,east_west_cooperation,east_west_origin,enrolment_state,enrolment_date"


def import_csv(client: FlaskClient, world: World, *rows: str, who: str = "officer_v1"):  # type: ignore[no-untyped-def]
    content = "\r\n".join([HEADER, *rows]).encode("utf-8") + b"\r\n"
    return client.post(
        "/api/v1/students/import",
        data={"file": (io.BytesIO(content), "roster.csv")},
        headers=world.headers(who),
        content_type="multipart/form-data",
    )


def test_an_import_takes_the_rules_chinese_labels_of_origin_and_state(
    client: FlaskClient, world: World
) -> None:
    response = import_csv(
        client,
        world,
        f"EW1,V1,{id_number(321, born=date(2004, 1, 1))},甲,vocational,1,是,贵州铜仁,在读,",
        f"EW2,V1,{id_number(322, born=date(2004, 1, 1))},乙,vocational,2,是,shaanxi,休学,2020-11-02",
        f"PL1,V1,{id_number(323, born=date(2004, 1, 1))},丙,vocational,3,否,,辍学,2020-10-08",
    )
    assert response.status_code == 200, response.json
    assert response.json["created"] == 3
    assert (stored("EW1").east_west_origin, stored("EW1").enrolment_state) == ("guizhou_tongren", "enrolled")
    assert (stored("EW2").east_west_origin, stored("EW2").enrolment_state) == ("shaanxi", "suspended")
    assert stored("EW2").enrolment_date == date(2020, 11, 2)
    assert (stored("PL1").east_west_cooperation, stored("PL1").enrolment_state) == (False, "dropped_out")


def test_an_import_row_with_an_unknown_label_is_refused_naming_its_column(
    client: FlaskClient, world: World
) -> None:
    response = import_csv(
        client,
        world,
        f"EW1,V1,{id_number(331, born=date(2004, 1, 1))},甲,vocational,1,是,甘肃,在读,",
        f"EW2,V1,{id_number(332, born=date(2004, 1, 1))},乙,vocational,1,是,陕西,退学,2020-10-01",
        f"EW3,V1,{id_number(333, born=date(2004, 1, 1))},丙,vocational,1,是,,在读,",
    )
    assert response.status_code == 422
    assert set(response.json["errors"]) == {
        "rows.2.east_west_origin",
        "rows.3.enrolment_state",
        "rows.4.east_west_origin",
    }
    assert db.session.execute(sa.select(sa.func.count()).select_from(Student)).scalar() == 0


def test_one_import_may_hold_a_transfer_and_the_new_enrolment_of_the_same_person(
    client: FlaskClient, world: World
) -> None:
    same = id_number(341, born=date(2004, 1, 1))
    response = import_csv(
        client,
        world,
        f"OLD,V1,{same},甲,vocational,1,否,,转出,2020-09-15",
        f"NEW,V1,{same},甲,vocational,1,否,,在读,",
        f"DUP,V1,{same},甲,vocational,1,否,,休学,2020-10-01",  # a second record on the roll: refused
        who="county_admin",
    )
    assert response.status_code == 422 and set(response.json["errors"]) == {"rows.4.id_number"}
    response = import_csv(
        client,
        world,
        f"OLD,V1,{same},甲,vocational,1,否,,转出,2020-09-15",
        f"NEW,V1,{same},甲,vocational,1,否,,在读,",
        who="county_admin",
    )
    assert response.status_code == 200 and response.json["created"] == 2
