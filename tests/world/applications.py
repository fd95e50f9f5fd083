"""Shared by the application, workflow, decision, quota, notice and semester tests: a small world of schools,
students and callers, a pinned clock for the API, and the procedure driven through the services or the API."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from aidservice import wiring
from aidservice.extensions import db
from aidservice.models import Application, AuditEvent, Decision, School, Student
from aidservice.services.accounts.auth import resolve_token
from aidservice.services.actors import Actor
from aidservice.services.applications import actions, notices, submission
from aidservice.services.applications.values import ActionRequest
from aidservice.services.context import Settings
from aidservice.services.registry.feeds import apply_batch
from tests.world.factories import HMAC_KEY, VAULT, bearer, make_client, make_school, make_student, make_user
from tests.world.feeds import committed_app, person, record, scratch_database  # noqa: F401 - re-exported

SUBMITTED = date(2020, 10, 12)  # a Monday in the autumn semester: evaluations are as of 2020-09-01
NOTICE_LAST_DAY = date(2020, 10, 16)  # five working days from Monday 12 October
AFTER_NOTICE = date(2020, 10, 19)
AS_OF = date(2020, 9, 1)
YEAR = "2020-2021"
LOW_INCOME = "5000.00"  # below 1.5 × 南京 line (900 × 12 × 1.5 = 16200): difficult


@dataclass
class Clock:
    """The services' today, as the API sees it (Settings.today)."""

    today: date = SUBMITTED


@pytest.fixture(name="clock")
def clock_fixture(app: Flask, monkeypatch: pytest.MonkeyPatch) -> Clock:
    """Pin the API's Settings.today; move `clock.today` to let time pass."""
    pinned = Clock()
    original = wiring.settings

    def settings() -> Settings:
        return dataclasses.replace(original(), today=pinned.today)

    monkeypatch.setattr(wiring, "settings", settings)
    return pinned


def service_settings(app: Flask, today: date = SUBMITTED, **changes: Any) -> Settings:
    config = app.config
    values: dict[str, Any] = {
        "rules": app.extensions["aid_rules"],
        "school_year": YEAR,
        "id_hmac_key": HMAC_KEY,
        "ids": VAULT,
        "today": today,
        "holidays": tuple(config["AID_HOLIDAYS"]),
    }
    return Settings(**{**values, **changes})


@dataclass
class World:
    """School S1 (南京, county 320102) with its officer, S2 (无锡) with its own; administrators, an auditor,
    an agency client; students are added with `student()`."""

    app: Flask
    tokens: dict[str, str]
    s1: School
    s2: School
    seeds: dict[str, int] = field(default_factory=dict)

    def headers(self, who: str) -> dict[str, str]:
        return bearer(self.tokens[who]) if who in self.tokens else {}

    def actor(self, who: str) -> Actor:
        return resolve_token(db.session, self.tokens[who])

    def student(
        self,
        student_id: str,
        *,
        school: School | None = None,
        seed: int | None = None,
        stage: str = "junior",
        grade: int = 2,
        name: str = "李四",
        class_name: str = "初二(1)班",
        guardians: Sequence[int] = (),
        **flags: bool,
    ) -> Student:
        seed = seed if seed is not None else 100 + len(self.seeds)
        self.seeds[student_id] = seed
        made = make_student(
            db.session,
            student_id,
            school or self.s1,
            seed=seed,
            stage=stage,
            grade=grade,
            name=name,
            guardians=[(g, f"家长{g}", "father" if i == 0 else "mother") for i, g in enumerate(guardians)],
            **flags,
        )
        made.class_name = class_name
        db.session.commit()
        return made

    def agency(self, source: str, batch_id: str, records: list[dict[str, Any]]) -> None:
        """An agency batch through the feed service, as that agency's client."""
        actor = resolve_token(db.session, make_client(db.session, source, name=f"{source} {batch_id}"))
        apply_batch(
            db.session,
            actor=actor,
            settings=service_settings(self.app),
            source=source,
            body={"batch_id": batch_id, "records": records},
        )
        db.session.commit()


@pytest.fixture(name="world")
def world_fixture(app: Flask) -> World:
    session = db.session
    s1 = make_school(session, "S1", "320102", stages=("primary", "junior"), name="南京市第一中学")
    s2 = make_school(session, "S2", "320213", stages=("primary", "junior"), name="无锡市第二中学")
    tokens = {
        "officer": make_user(session, "school_officer", school_code="S1")[1],
        "officer2": make_user(session, "school_officer", username="officer-2", school_code="S1")[1],
        "other_officer": make_user(session, "school_officer", school_code="S2")[1],
        "county_admin": make_user(session, "county_admin", region_code="320102")[1],
        "other_city_admin": make_user(session, "city_admin", username="wuxi", region_code="320200")[1],
        "province_admin": make_user(session, "province_admin", region_code="320000")[1],
        "auditor": make_user(session, "auditor")[1],
        "client": make_client(session, "civil_affairs"),
    }
    session.commit()
    return World(app, tokens, s1, s2)


def declared(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "household_size": 4,
        "per_capita_income": LOW_INCOME,
        "major_illness": False,
        "disaster": False,
        "unemployed_parent": False,
        "single_parent": False,
        "covid_impact": False,
        "covid_infected_family": False,
        "academic_rank_pct": "40.00",
    }
    base.update(changes)
    return base


def body(student_id: str, **changes: Any) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "student_id": student_id,
        "school_year": YEAR,
        "declared": declared(),
        "commitment_signed": True,
    }
    payload.update(changes)
    return payload


# ------------------------------------------------------------------------------------------ the API


def submit(client: FlaskClient, world: World, student_id: str, who: str = "officer", **changes: Any) -> Any:
    return client.post("/api/v1/applications", json=body(student_id, **changes), headers=world.headers(who))


def act(
    client: FlaskClient,
    world: World,
    application: dict[str, Any],
    action: str,
    who: str = "officer",
    **fields: Any,
) -> Any:
    payload = {"action": action, "version": application["version"], **fields}
    return client.post(
        f"/api/v1/applications/{application['id']}/actions", json=payload, headers=world.headers(who)
    )


def ok(response: Any, status: int = 200) -> dict[str, Any]:
    assert response.status_code == status, response.json
    return response.json


# ------------------------------------------------------------------------------------- the services


def approve_through_services(
    app: Flask,
    world: World,
    student: Student,
    *,
    declared_facts: dict[str, Any] | None = None,
    review_level: str | None = None,
    submitted: date = SUBMITTED,
    who: str = "officer",
) -> Application:
    """Submit, review, publish and (after the notice) approve one application as the school's officer."""
    actor = world.actor(who)
    settings = service_settings(app, submitted)
    application = submission.create_application(
        db.session,
        actor=actor,
        settings=settings,
        payload=body(
            student.student_id, declared=declared_facts if declared_facts is not None else declared()
        ),
    )
    steps: list[tuple[str, dict[str, Any]]] = [
        ("review", {"level": review_level, "note": "班级评议小组调整" if review_level else ""}),
        ("publish_notice", {}),
    ]
    for action, extra in steps:
        application = actions.act(
            db.session,
            actor=actor,
            settings=settings,
            application_id=application.id,
            request=ActionRequest(action=action, version=application.version, **extra),
        )
    later = service_settings(app, notices.notice_period_end(settings, submitted) + timedelta(days=1))
    application = actions.act(
        db.session,
        actor=actor,
        settings=later,
        application_id=application.id,
        request=ActionRequest(action="approve", version=application.version),
    )
    db.session.commit()
    return application


def student_row(student_id: str) -> Student:
    return db.session.execute(sa.select(Student).where(Student.student_id == student_id)).scalar_one()


def decisions_of(application_id: int, *, current: bool | None = None) -> list[Decision]:
    query = sa.select(Decision).where(Decision.application_id == application_id).order_by(Decision.id)
    if current is not None:
        query = query.where(Decision.current.is_(current))
    return list(db.session.execute(query).scalars())


def events(action: str, subject: str | None = None) -> list[AuditEvent]:
    query = sa.select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.seq)
    if subject is not None:
        query = query.where(AuditEvent.subject == subject)
    return list(db.session.execute(query).scalars())


def subsistence(world: World, guardian_seed: int, batch_id: str, valid_to: str | None = None) -> None:
    """A 低保 record for a guardian (household status reaches the student)."""
    world.agency(
        "civil_affairs", batch_id, [record(person(guardian_seed), "subsistence_allowance", valid_to=valid_to)]
    )
