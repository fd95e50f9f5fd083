"""A small province for the web UI's tests, built through the services (roster, feeds), so students have their
determinations and agency facts as in production: two schools in two cities, students, two agency batches.

Used by the Flask test-client tests (inside the rolled-back test transaction) and by the browser tests (a
real SQLite file behind a real server).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from flask import Flask
from sqlalchemy.orm import Session

from aidservice.services.accounts.auth import client_actor
from aidservice.services.accounts.clients import create_client
from aidservice.services.actors import Actor
from aidservice.services.context import Settings
from aidservice.services.regions import ensure_county
from aidservice.services.registry.feeds import apply_batch
from aidservice.services.roster import roster
from tests.world.factories import HMAC_KEY, TEST_PASSWORD, VAULT, id_number, make_user

YEAR = "2020-2021"
SUBMITTED = date(2020, 10, 12)  # a Monday of the autumn semester: determinations as of 2020-09-01
AFTER_NOTICE = date(2020, 10, 19)  # after a notice of up to 5 working days opened on SUBMITTED
PASSWORD = TEST_PASSWORD
SYSTEM = Actor.system("tests:web")

S1, S2 = "3201020001", "3202130001"
USERS = {  # username: (role, school, region)
    "officer1": ("school_officer", S1, None),
    "officer2": ("school_officer", S2, None),
    "county1": ("county_admin", None, "320102"),
    "city1": ("city_admin", None, "320100"),
    "city2": ("city_admin", None, "320200"),
    "province1": ("province_admin", None, "320000"),
    "auditor1": ("auditor", None, None),
}
ROLES_OF = {name: role for name, (role, _school, _region) in USERS.items()}


def settings_for(app: Flask, today: date = SUBMITTED) -> Settings:
    config = app.config
    return Settings(
        rules=app.extensions["aid_rules"],
        school_year=YEAR,
        id_hmac_key=HMAC_KEY,
        ids=VAULT,
        today=today,
        holidays=tuple(config["AID_HOLIDAYS"]),
    )


@dataclass
class Pupil:
    student_id: str
    name: str
    id_number: str
    school: str
    guardian: str


@dataclass
class World:
    pupils: dict[str, Pupil] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)

    def number(self, student_id: str) -> str:
        return self.pupils[student_id].id_number


def adult(seed: int, county: str = "320102") -> str:
    return id_number(seed, county=county, born=date(1980, 1, 1))


def build(session: Session, settings: Settings, *, users: bool = True) -> World:
    """Schools, students (through the roster service), agency records (through the feed service), users."""
    world = World()
    ensure_county(session, "320102", "玄武区", actor=SYSTEM)
    ensure_county(session, "320213", "梁溪区", actor=SYSTEM)
    schools = {
        S1: {
            "name": "南京市玄武区第一中学",
            "region_code": "320102",
            "stages": ["junior"],
            "kind": "public",
            "inclusive_kindergarten": False,
            "tuition_fee": None,
            "central_university": False,
        },
        S2: {
            "name": "无锡市梁溪区实验小学",
            "region_code": "320213",
            "stages": ["primary"],
            "kind": "public",
            "inclusive_kindergarten": False,
            "tuition_fee": None,
            "central_university": False,
        },
    }
    for code, payload in schools.items():
        roster.put_school(session, actor=SYSTEM, settings=settings, code=code, payload=payload)
    students = [  # student_id, name, school, class, stage, grade, seed, county
        ("S1-001", "王小明", S1, "初二(1)班", "junior", 2, 11, "320102"),
        ("S1-002", "李娜", S1, "初二(1)班", "junior", 2, 12, "320102"),
        ("S1-003", "张伟", S1, "初二(2)班", "junior", 2, 13, "320102"),
        ("S1-004", "陈静", S1, "初一(1)班", "junior", 1, 14, "320102"),
        ("S1-005", "刘洋", S1, "初一(1)班", "junior", 1, 15, "320102"),
        ("S2-001", "赵六", S2, "三(2)班", "primary", 3, 21, "320213"),
    ]
    for index, (student_id, name, school, class_name, stage, grade, seed, county) in enumerate(students):
        number = id_number(seed, county=county)
        guardian = adult(500 + index, county)
        roster.put_student(
            session,
            actor=SYSTEM,
            settings=settings,
            student_id=student_id,
            payload={
                "id_number": number,
                "name": name,
                "school_code": school,
                "class_name": class_name,
                "stage": stage,
                "grade": grade,
                "boarding": False,
                "rural_hukou": index % 2 == 0,
                "guardians": [{"id_number": guardian, "name": f"{name[0]}家长", "relation": "father"}],
            },
        )
        world.pupils[student_id] = Pupil(student_id, name, number, school, guardian)
    session.flush()
    _agency(
        session,
        settings,
        "poverty_alleviation",
        "B-2020-09-01",
        [
            _record(world.pupils["S1-002"].guardian, "registered_poor"),  # the household, through the father
        ],
    )
    _agency(
        session,
        settings,
        "civil_affairs",
        "M-2020-09-01",
        [
            _record(world.pupils["S1-003"].id_number, "orphan"),
            _record(
                world.pupils["S1-001"].guardian, "subsistence_allowance", valid_from="2021-03-01"
            ),  # later
        ],
    )
    if users:
        for username, (role, school, region) in USERS.items():
            _user, token = make_user(session, role, username=username, school_code=school, region_code=region)
            world.tokens[username] = token
    return world


def _record(
    number: str, status: str, valid_from: str = "2020-01-01", valid_to: str | None = None, **attributes: Any
) -> dict[str, Any]:
    return {
        "id_number": number,
        "name": "某人",
        "status": status,
        "valid_from": valid_from,
        "valid_to": valid_to,
        "attributes": attributes,
    }


def _agency(
    session: Session, settings: Settings, source: str, batch_id: str, records: list[dict[str, Any]]
) -> None:
    agencies = settings.rules.vocabulary.agency_ids
    made = create_client(session, actor=SYSTEM, name=f"{source} test", source=source, agencies=agencies)
    apply_batch(
        session,
        actor=client_actor(made.client),
        settings=settings,
        source=source,
        body={"batch_id": batch_id, "records": records},
    )
