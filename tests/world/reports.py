"""A small province for the report tests, built through the services, with every number written out by hand.

Schools: S1 (南京 320102, primary+junior; quota of 0 places for compulsory_living_subsidy), K1 (南京 320102, a
kindergarten that is not inclusive), S2 (南京 320104, senior high, fee 1600.00), S3 (无锡 320213, primary+junior).

| student | school, stage | special group (how) | what happened | outcome |
|---|---|---|---|---|
| AIDED | S1 junior | registered_poor (guardian 6001) | approved: living subsidy 1250.00 (special: funded beyond the quota) | aided |
| NOAPP | S1 primary | orphan (own) | nothing | no_application |
| REVIEW | S1 junior | subsistence_allowance (guardian 6003) | submitted | in_review |
| REJECT | S3 junior | disabled grade 1 (own) | rejected, note "家庭情况核实不符" | rejected |
| QUOTA | S1 junior | martyr_child (own; the record arrives after approval) | approved as difficult: not funded (quota 0) | quota_shortfall |
| CONFLICT | S3 primary | subsistence_allowance (guardian 6006) | submitted declaring no 低保 | data_conflict |
| NOAWARD | K1 preschool | orphan (own) | approved special; no program pays (not inclusive) | no_award |
| SENIOR | S2 senior_high | registered_poor (own) + subsistence_allowance (guardian 6008) | approved: fee waiver 1600.00 + grant 3000.00 | aided |
| PLAIN | S3 junior | none | approved as difficult: living subsidy 1250.00 | aided (not special) |
| EXPIRED | S1 junior | subsistence_allowance ended 2020-06-01 | nothing | not special in 2020-2021 |

Unmatched records: registered_poor of a 南京 (320102) stranger, disabled of a 无锡 (320213) stranger.
Amounts are paid half per semester (autumn due 2020-09-01, spring due 2021-03-01).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from flask import Flask

from aidservice.extensions import db
from aidservice.models import Student
from aidservice.services.accounts.auth import resolve_token
from aidservice.services.actors import Actor
from aidservice.services.applications import actions, reading, submission
from aidservice.services.applications.quotas import put_quota
from aidservice.services.applications.values import ActionRequest
from aidservice.services.context import Settings
from aidservice.services.determinations.students import redetermine_students
from aidservice.services.registry.feeds import apply_batch
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
from tests.world.feeds import committed_app, scratch_database

YEAR = "2020-2021"
SUBMITTED = date(2020, 10, 12)
AFTER_NOTICE = date(2020, 10, 26)
LOW_INCOME = "5000.00"


def settings_for(app: Flask, today: date = SUBMITTED) -> Settings:
    return Settings(
        rules=app.extensions["aid_rules"],
        school_year=YEAR,
        id_hmac_key=HMAC_KEY,
        ids=VAULT,
        today=today,
        holidays=(),
    )


def person(seed: int) -> str:
    return id_number(seed, born=date(1980, 1, 1))


def rec(number: str, status: str, valid_to: str | None = None, **attributes: Any) -> dict[str, Any]:
    return {
        "id_number": number,
        "name": "某人",
        "status": status,
        "valid_from": "2020-01-01",
        "valid_to": valid_to,
        "attributes": attributes,
    }


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
    }
    base.update(changes)
    return base


@dataclass
class Province:
    """The built province: the Flask app, tokens per caller, students by key, application ids."""

    app: Flask
    tokens: dict[str, str]
    students: dict[str, Student] = field(default_factory=dict)
    applications: dict[str, int] = field(default_factory=dict)
    batches: int = 0

    def headers(self, who: str) -> dict[str, str]:
        return bearer(self.tokens[who]) if who in self.tokens else {}

    def officer(self, school: str) -> Actor:
        return resolve_token(db.session, self.tokens[f"officer_{school}"])

    def agency(self, source: str, records: list[dict[str, Any]]) -> None:
        self.batches += 1
        actor = resolve_token(db.session, self.tokens[f"client_{source}"])
        apply_batch(
            db.session,
            actor=actor,
            settings=settings_for(self.app),
            source=source,
            body={"batch_id": f"R-{self.batches}", "records": records},
        )
        db.session.commit()

    def submit(self, key: str, school: str, **declared_changes: Any) -> Any:
        application = submission.create_application(
            db.session,
            actor=self.officer(school),
            settings=settings_for(self.app),
            payload={
                "student_id": self.students[key].student_id,
                "school_year": YEAR,
                "declared": declared(**declared_changes),
                "commitment_signed": True,
            },
        )
        db.session.commit()
        self.applications[key] = application.id
        return application

    def step(self, key: str, school: str, action: str, today: date = SUBMITTED, note: str = "") -> Any:
        application = reading.load(db.session, self.applications[key])
        application = actions.act(
            db.session,
            actor=self.officer(school),
            settings=settings_for(self.app, today),
            application_id=application.id,
            request=ActionRequest(action=action, version=application.version, note=note),
        )
        db.session.commit()
        return application

    def approve(self, key: str, school: str) -> None:
        self.step(key, school, "review")
        self.step(key, school, "publish_notice")
        self.step(key, school, "approve", today=AFTER_NOTICE)


def build_province(app: Flask) -> Province:
    """The province of the module docstring, through the services (feeds, applications, quotas)."""
    session = db.session
    s1 = make_school(session, "S1", "320102", stages=("primary", "junior"), name="南京一中")
    k1 = make_school(
        session,
        "K1",
        "320102",
        stages=("preschool",),
        name="南京一幼",
        inclusive_kindergarten=False,
        tuition_fee_fen=300000,
    )
    s2 = make_school(
        session, "S2", "320104", stages=("senior_high",), name="南京二高", tuition_fee_fen=160000
    )
    s3 = make_school(session, "S3", "320213", stages=("primary", "junior"), name="无锡三中")
    tokens = {
        "officer_S1": make_user(session, "school_officer", username="officer-s1", school_code="S1")[1],
        "officer_K1": make_user(session, "school_officer", username="officer-k1", school_code="K1")[1],
        "officer_S2": make_user(session, "school_officer", username="officer-s2", school_code="S2")[1],
        "officer_S3": make_user(session, "school_officer", username="officer-s3", school_code="S3")[1],
        "county_admin": make_user(session, "county_admin", region_code="320102")[1],
        "nanjing_admin": make_user(session, "city_admin", username="nanjing", region_code="320100")[1],
        "wuxi_admin": make_user(session, "city_admin", username="wuxi", region_code="320200")[1],
        "province_admin": make_user(session, "province_admin", region_code="320000")[1],
        "auditor": make_user(session, "auditor")[1],
    }
    for source in ("poverty_alleviation", "civil_affairs", "disabled_persons_federation", "veterans_affairs"):
        tokens[f"client_{source}"] = make_client(session, source)
    session.commit()
    province = Province(app, tokens)
    people = {
        "AIDED": (s1, "junior", 101, [6001]),
        "NOAPP": (s1, "primary", 102, []),
        "REVIEW": (s1, "junior", 103, [6003]),
        "REJECT": (s3, "junior", 104, []),
        "QUOTA": (s1, "junior", 105, []),
        "CONFLICT": (s3, "primary", 106, [6006]),
        "NOAWARD": (k1, "preschool", 107, []),
        "SENIOR": (s2, "senior_high", 108, [6008]),
        "PLAIN": (s3, "junior", 109, []),
        "EXPIRED": (s1, "junior", 110, [6010]),
    }
    for key, (school, stage, seed, guardians) in people.items():
        province.students[key] = make_student(
            session,
            f"ST-{key}",
            school,
            seed=seed,
            stage=stage,
            grade=1 if stage != "junior" else 2,
            name=f"学生{key}",
            guardians=[(g, f"家长{g}", "father") for g in guardians],
        )
    session.commit()
    system = Actor.system("test")
    put_quota(
        session,
        actor=system,
        settings=settings_for(app),
        school_code="S1",
        program="compulsory_living_subsidy",
        school_year=YEAR,
        places=0,
    )
    session.commit()
    province.agency(
        "poverty_alleviation",
        [
            rec(person(6001), "registered_poor"),
            rec(id_number(108), "registered_poor"),
            rec(id_number(900, county="320102", born=date(1975, 5, 5)), "registered_poor"),
        ],
    )
    province.agency(
        "civil_affairs",
        [
            rec(person(6003), "subsistence_allowance"),
            rec(person(6006), "subsistence_allowance"),
            rec(person(6008), "subsistence_allowance"),
            rec(person(6010), "subsistence_allowance", valid_to="2020-06-01"),
            rec(id_number(102), "orphan"),
            rec(id_number(107), "orphan"),
        ],
    )
    province.agency(
        "disabled_persons_federation",
        [
            rec(id_number(104), "disabled", disability_grade=1),
            rec(id_number(901, county="320213", born=date(1970, 7, 7)), "disabled", disability_grade=2),
        ],
    )
    # applications: AIDED approved (special, funded beyond the quota of 0), QUOTA approved before its
    # martyr record arrives (difficult by income: not funded), the others as the table says
    province.submit("AIDED", "S1")
    province.approve("AIDED", "S1")
    province.submit("QUOTA", "S1")
    province.approve("QUOTA", "S1")
    province.agency("veterans_affairs", [rec(id_number(105), "martyr_child")])
    province.submit("REVIEW", "S1")
    province.submit("REJECT", "S3")
    province.step("REJECT", "S3", "reject", note="家庭情况核实不符")
    province.submit("CONFLICT", "S3", subsistence_allowance=False)
    province.submit("NOAWARD", "K1", per_capita_income="90000.00")
    province.approve("NOAWARD", "K1")
    province.submit("SENIOR", "S2")
    province.approve("SENIOR", "S2")
    province.submit("PLAIN", "S3")
    province.approve("PLAIN", "S3")
    redetermine_students(
        session,
        actor=system,
        settings=settings_for(app),
        student_pks=[s.id for s in province.students.values()],
        cause="test",
    )
    session.commit()
    return province


def seeded_province_database(db_url: str, tmp_path: Any, tokens: dict[str, dict[str, str]]) -> Iterator[str]:
    """A migrated scratch database of `db_url`'s backend holding the province, committed; its callers' tokens
    go to `tokens[url]` (for session fixtures that override `db_url` in one directory or module)."""
    for url in scratch_database(db_url, tmp_path):
        app = committed_app(url)
        with app.app_context():
            tokens[url] = dict(build_province(app).tokens)
            db.session.remove()
            db.engine.dispose()
        yield url


@pytest.fixture(name="province")
def province_fixture(app: Flask) -> Province:
    return build_province(app)


def later(moment: datetime, seconds: float = 0.001) -> datetime:
    return moment + timedelta(seconds=seconds)


def now() -> datetime:
    return datetime.now(UTC)


# ----------------------------------------------------------------------------------------- reading


def rows_by(section: dict[str, Any], *keys: str) -> dict[tuple, dict[str, Any]]:
    """A JSON section's rows keyed by the values of `keys`."""
    return {tuple(row[k] for k in keys): row for row in section["rows"]}


def csv_sections(data: bytes) -> dict[str, list[list[str]]]:
    """CSV report -> {section title: [header, rows...]} (the record lines come under '')."""
    assert data.startswith("\ufeff".encode())
    text = data.decode("utf-8-sig")
    out: dict[str, list[list[str]]] = {"": []}
    current = ""
    for row in csv.reader(io.StringIO(text)):
        if not row:
            continue
        if row[0].startswith("【") and row[0].endswith("】"):
            current = row[0][1:-1]
            out[current] = []
            continue
        out[current].append(row)
    return out


def xlsx_sheets(data: bytes) -> dict[str, list[list[Any]]]:
    from openpyxl import load_workbook

    book = load_workbook(io.BytesIO(data), read_only=True)
    return {sheet.title: [list(r) for r in sheet.iter_rows(values_only=True)] for sheet in book.worksheets}


def as_json(data: bytes) -> dict[str, Any]:
    return json.loads(data.decode("utf-8"))
