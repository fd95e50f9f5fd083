"""One standing per student (issue 19): the API's student detail, the roster row, the student page, the
application page, the region dashboard and the regions report tell the same level and the same funded total,
whatever the student's history: applications in every state, quotas full or not, agency records arriving
before or after approval, reassessments, re-determinations.

The property test builds random histories (hypothesis, bounded); each example gets a school of its own in
the test's database, so the examples never share a quota or a roster row, and the dashboard is compared by
its change over the example.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aidservice.engine.result import COUNTED_KINDS
from aidservice.extensions import db
from aidservice.models import Application, Decision, School, Student
from aidservice.services.accounts.auth import resolve_token
from aidservice.services.actors import Actor
from aidservice.services.applications import actions, notices, submission
from aidservice.services.applications.quotas import put_quota
from aidservice.services.applications.values import ActionRequest
from aidservice.services.determinations.students import redetermine_students
from aidservice.services.standing.standing import level_counts, standing_of, standings
from tests.world.applications import (
    SUBMITTED,
    World,
    body,
    declared,
    service_settings,
    world_fixture,  # noqa: F401 - fixture "world"
)
from tests.world.factories import bearer, make_school, make_user
from tests.world.feeds import person, record

SYSTEM = Actor.system("tests:standing")
PROGRAM = "compulsory_living_subsidy"
YEAR = "2020-2021"
COUNTY = "320102"
INCOMES = {"difficult": "5000.00", "general": "20000.00", "none": "90000.00"}
TARGETS = (
    "none",
    "submitted",
    "reviewed",
    "notice",
    "objected",
    "approved",
    "rejected",
    "rejected_reapplied",
)
LEVEL_ATTR = re.compile(r'data-level="(\w+)" data-source="(\w+)"(?: data-funded="([\d.]+)")?')


# ------------------------------------------------------------------------------------------ histories


@dataclass
class History:
    income: str  # the declared income's level: difficult, general or none
    poor_before: bool  # a 低保 record for the guardian before anything else
    target: str
    review_level: str | None
    poor_after: bool  # a 低保 record arriving after the application's last step (re-determination)
    reassess: bool  # an approved application reassessed after that


@dataclass
class Place:
    """An example's school: its row, its officer's token, the county administrator's, its students' ids."""

    row: School
    officer: str
    county_admin: str
    students: list[str] = field(default_factory=list)

    @property
    def code(self) -> str:
        return self.row.code


histories = st.builds(
    History,
    income=st.sampled_from(tuple(INCOMES)),
    poor_before=st.booleans(),
    target=st.sampled_from(TARGETS),
    review_level=st.sampled_from((None, "general", "difficult")),
    poor_after=st.booleans(),
    reassess=st.booleans(),
)
SEQ = itertools.count(1)
SYSTEM_OFFICER: dict[str, Actor] = {}  # each example school's officer


def after_notice(app: Flask) -> date:
    settings_ = service_settings(app, SUBMITTED)
    return notices.notice_period_end(settings_, SUBMITTED) + timedelta(days=1)


def step(
    app: Flask, application: Application, action: str, today: date = SUBMITTED, **extra: Any
) -> Application:
    return actions.act(
        db.session,
        actor=SYSTEM_OFFICER[application.school_code],
        settings=service_settings(app, today),
        application_id=application.id,
        request=ActionRequest(action=action, version=application.version, **extra),
    )


def new_school(app: Flask, world: World, places: int | None) -> Place:
    n = next(SEQ)
    code = f"H{n:03d}"
    row = make_school(db.session, code, COUNTY, stages=("primary", "junior"), name=f"性质测试学校{n}")
    _user, token = make_user(db.session, "school_officer", username=f"officer-{code}", school_code=code)
    db.session.commit()
    SYSTEM_OFFICER[code] = resolve_token(db.session, token)
    if places is not None:
        set_places(app, code, places)
    return Place(row, token, world.tokens["county_admin"])


def set_places(app: Flask, code: str, places: int) -> None:
    put_quota(
        db.session,
        actor=SYSTEM,
        settings=service_settings(app),
        school_code=code,
        program=PROGRAM,
        school_year=YEAR,
        places=places,
    )
    db.session.commit()


def poor(world: World, guardian: int) -> None:
    world.agency("civil_affairs", f"P-{guardian}", [record(person(guardian), "subsistence_allowance")])


def live(app: Flask, world: World, school: Place, history: History, index: int) -> None:
    """One student's history, step by step through the services."""
    guardian = 7000 + next(SEQ)
    student_id = f"{school.code}-{index}"
    student = world.student(student_id, school=school.row, guardians=[guardian])
    school.students.append(student_id)
    redetermine_students(
        db.session, actor=SYSTEM, settings=service_settings(app), student_pks=[student.id], cause="test"
    )
    db.session.commit()
    if history.poor_before:
        poor(world, guardian)
    if history.target != "none":
        application = apply(app, student_id, history)
        if history.target == "rejected_reapplied":
            application = apply(app, student_id, History(**{**history.__dict__, "target": "approved"}))
        if history.reassess and application.state == "approved":
            step(app, application, "reassess", after_notice(app), note="学期复核", level=history.review_level)
        db.session.commit()
    if history.poor_after:
        poor(world, guardian)


def apply(app: Flask, student_id: str, history: History) -> Application:
    """Take an application and lead it to the history's target (or as far as the procedure allows)."""
    code = student_id.split("-")[0]
    application = submission.create_application(
        db.session,
        actor=SYSTEM_OFFICER[code],
        settings=service_settings(app),
        payload=body(student_id, declared=declared(per_capita_income=INCOMES[history.income])),
    )
    target = history.target
    if target == "submitted":
        return application
    if target in ("rejected", "rejected_reapplied"):
        application = step(app, application, "reject", note="家庭情况核实不符")
        db.session.commit()
        return application
    adjust = {"level": history.review_level, "note": "班级评议小组调整"} if history.review_level else {}
    application = step(app, application, "review", **adjust)
    if target == "reviewed" or application.level == "none":
        return application  # level none is never published: it stays reviewed
    application = step(app, application, "publish_notice")
    if target == "objected":
        application = step(app, application, "object", note="家长提出异议")
    elif target == "approved":
        application = step(app, application, "approve", after_notice(app))
    db.session.commit()
    return application


# ------------------------------------------------------------------------------------------------ views


@dataclass(frozen=True)
class Told:
    """What one view says: the level (None: no standing), the source and the funded total where shown."""

    level: str | None
    source: str | None = None
    funded: Decimal | None = None


def web_client(
    app: Flask, token: str, username: str, role: str, school: str | None, region: str | None
) -> FlaskClient:
    client = app.test_client()
    with client.session_transaction() as session:
        session["token"] = token
        session["user"] = {"username": username, "role": role, "school_code": school, "region_code": region}
    return client


def told_by_attrs(html: str) -> Told:
    match = LEVEL_ATTR.search(html)
    if match is None:
        return Told(None)
    level, source, funded = match.groups()
    return Told(level, source, None if funded is None else Decimal(funded))


def api_detail(client: FlaskClient, token: str, student_id: str) -> Told:
    response = client.get(f"/api/v1/students/{student_id}", headers=bearer(token))
    assert response.status_code == 200, response.json
    standing = response.json["standing"]
    if standing is None:
        return Told(None)
    return Told(standing["level"], standing["source"], Decimal(standing["funded_total"]))


def roster_row(page: FlaskClient, student_id: str) -> Told:
    html = page.get(f"/students?q={student_id}").get_data(as_text=True)
    row = re.search(rf'<tr>\s*<td><a href="/students/{re.escape(student_id)}">.*?</tr>', html, re.S)
    assert row is not None, f"no roster row for {student_id}"
    cell = re.search(r'data-level="(\w+)" data-source="(\w+)"', row.group(0))
    return Told(None) if cell is None else Told(cell.group(1), cell.group(2))


def student_page(page: FlaskClient, student_id: str) -> Told:
    html = page.get(f"/students/{student_id}").get_data(as_text=True)
    assert "当前认定结果" not in html
    return told_by_attrs(html)


def application_pages(page: FlaskClient, student_pk: int) -> list[Told]:
    """The header of every application page of the student (each shows the student's standing); an approved
    application's own 合计 is its funded money."""
    out = []
    ids = db.session.scalars(sa.select(Application.id).where(Application.student_pk == student_pk)).all()
    for application_id in ids:
        html = page.get(f"/applications/{application_id}").get_data(as_text=True)
        told = told_by_attrs(html)
        total = re.search(r'合计（已资助） <span class="funded">¥([\d,.]+)</span>', html)
        if total is not None:
            assert Decimal(total.group(1).replace(",", "")) == told.funded
        out.append(told)
    return out


def dashboard_counts(page: FlaskClient) -> dict[str, int]:
    html = page.get("/").get_data(as_text=True)
    return {level: int(n) for level, n in re.findall(r'data-level="(\w+)" data-count="(\d+)"', html)}


def regions_row(client: FlaskClient, token: str, code: str) -> dict[str, Any]:
    response = client.get(
        "/api/v1/reports/regions", query_string={"period": "2020-2021-autumn"}, headers=bearer(token)
    )
    assert response.status_code == 200
    (row,) = [r for r in response.json["sections"]["regions"]["rows"] if r["code"] == code]
    return row


def oracle(student_id: str) -> Told:
    """The rule, read from the tables: the approved application's level and awarded money, else the current
    determination's level."""
    student = db.session.execute(sa.select(Student).where(Student.student_id == student_id)).scalar_one()
    approved = db.session.execute(
        sa.select(Application).where(
            Application.student_pk == student.id,
            Application.school_year == YEAR,
            Application.state == "approved",
        )
    ).scalar_one_or_none()
    if approved is None:
        found = standing_of(db.session, student.id, YEAR)
        return Told(None) if found is None else Told(found.level, "pre_assessment", Decimal("0.00"))
    fen = sum(
        d.amount_fen or 0
        for d in db.session.scalars(
            sa.select(Decision).where(Decision.application_id == approved.id, Decision.current.is_(True))
        )
        if d.status == "awarded" and d.kind in COUNTED_KINDS
    )
    return Told(approved.level, "decision", Decimal(fen).scaleb(-2))


# ------------------------------------------------------------------------------------------------ tests


@settings(
    max_examples=8,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(lives=st.lists(histories, min_size=1, max_size=3), places=st.sampled_from((None, 0, 1, 5)))
def test_every_view_tells_the_same_standing(
    app: Flask, world: World, lives: list[History], places: int | None
) -> None:
    client = app.test_client()
    admin_page = web_client(app, world.tokens["county_admin"], "county-admin", "county_admin", None, COUNTY)
    before = dashboard_counts(admin_page)
    school = new_school(app, world, places)
    for index, history in enumerate(lives):
        live(app, world, school, history, index)
    page = web_client(app, school.officer, f"officer-{school.code}", "school_officer", school.code, None)
    counted: dict[str, int] = {}
    funded = Decimal("0.00")
    for student_id in school.students:
        expected = oracle(student_id)
        pk = db.session.scalar(sa.select(Student.id).where(Student.student_id == student_id))
        assert pk is not None
        told = {
            "api": api_detail(client, school.officer, student_id),
            "student page": student_page(page, student_id),
        }
        for n, header in enumerate(application_pages(page, pk)):
            told[f"application page {n}"] = header
        for where, what in told.items():
            assert what == expected, (where, student_id, what, expected)
        row = roster_row(page, student_id)
        assert (row.level, row.source) == (expected.level, expected.source), ("roster", student_id)
        if expected.level is not None:
            counted[expected.level] = counted.get(expected.level, 0) + 1
            funded += expected.funded or 0
    after = dashboard_counts(admin_page)
    assert {k: after[k] - before.get(k, 0) for k in after if after[k] != before.get(k, 0)} == counted
    report = regions_row(client, school.county_admin, school.code)
    assert {k: report[f"level_{k}"] for k in INCOMES | {"special": ""}} == {
        k: counted.get(k, 0) for k in ("difficult", "general", "none", "special")
    }
    assert Decimal(report["committed"]) == funded


def first_approved_at_general_with_the_quota_full(app: Flask, world: World) -> tuple[Place, str]:
    """The issue's scenario: a quota of 0 places, an application approved at 一般困难 (not funded)."""
    school = new_school(app, world, 0)
    live(app, world, school, History("general", False, "approved", None, False, False), 0)
    return school, school.students[0]


@pytest.mark.databases
def test_the_issue_scenario_one_answer(app: Flask, world: World) -> None:
    school, student_id = first_approved_at_general_with_the_quota_full(app, world)
    pk = db.session.scalar(sa.select(Student.id).where(Student.student_id == student_id))
    assert pk is not None
    found = standing_of(db.session, pk, YEAR)
    assert found is not None
    assert (found.level, found.source, found.funded_total) == ("general", "decision", Decimal("0.00"))
    assert found.unfunded_total > 0  # the not-funded living subsidy, shown apart
    assert standings(db.session, [pk], YEAR) == {pk: found}
    counts = level_counts(db.session, YEAR, sa.select(Student.id).where(Student.school_code == school.code))
    assert counts == {"general": {"level": "general", "count": 1, "decided": 1}}
    view = api_detail(app.test_client(), school.officer, student_id)
    assert view == Told("general", "decision", Decimal("0.00"))
