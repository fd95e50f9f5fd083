"""Helpers for the background-job tests: a small province with users of every scope, and job lookups."""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from flask.testing import FlaskClient

from aidservice.extensions import db
from aidservice.models import AuditEvent, Determination, Job
from tests.world.factories import bearer, id_number, make_client, make_school, make_student, make_user

AS_OF = "2020-09-01"
IMPORT_HEADER = (
    "student_id,id_number,name,class_name,stage,grade,guardian1_id_number,guardian1_name,guardian1_relation"
)


@dataclass
class Province:
    """Schools in two Nanjing counties and one Wuxi county, students in each, and a token per caller."""

    tokens: dict[str, str]
    students: dict[str, list[int]]  # county -> student primary keys

    def headers(self, who: str, **extra: str) -> dict[str, str]:
        return {**bearer(self.tokens[who]), **extra}


def make_province(per_school: int = 3) -> Province:
    """Commit a province: schools A (320102), B (320104), W (320213), `per_school` students each."""
    session = db.session
    schools = {
        "320102": make_school(session, "A", "320102"),
        "320104": make_school(session, "B", "320104"),
        "320213": make_school(session, "W", "320213"),
    }
    students: dict[str, list[int]] = {}
    seed = 1
    for county, school in schools.items():
        for n in range(per_school):
            students.setdefault(county, []).append(
                make_student(session, f"{school.code}{n:03d}", school, seed=seed, grade=1 + n % 6).id
            )
            seed += 1
    tokens = {
        "province_admin": make_user(session, "province_admin", region_code="320000")[1],
        "city_admin": make_user(session, "city_admin", region_code="320100")[1],
        "county_admin": make_user(session, "county_admin", region_code="320102")[1],
        "other_county_admin": make_user(session, "county_admin", username="qinhuai", region_code="320104")[1],
        "wuxi_admin": make_user(session, "city_admin", username="wuxi", region_code="320200")[1],
        "officer_a": make_user(session, "school_officer", username="officer-a", school_code="A")[1],
        "officer_b": make_user(session, "school_officer", username="officer-b", school_code="B")[1],
        "auditor": make_user(session, "auditor")[1],
        "client": make_client(session, "civil_affairs"),
    }
    db.session.commit()
    return Province(tokens, students)


def import_csv(*student_ids: str, seed: int = 500, bad_grade: str | None = None) -> bytes:
    """A roster file for school A (the officer's school is implied): one row per id; `bad_grade` spoils row 2."""
    rows = [IMPORT_HEADER]
    for n, sid in enumerate(student_ids):
        grade = bad_grade if (bad_grade is not None and n == 0) else "1"
        rows.append(
            f"{sid},{id_number(seed + n)},学生,一班,primary,{grade},{id_number(seed + n + 1000)},家长,father"
        )
    return ("\r\n".join(rows) + "\r\n").encode("utf-8")


def post_import(
    client: FlaskClient,
    province: Province,
    content: bytes,
    who: str = "officer_a",
    query: str = "?async=true",
    **headers: str,
) -> Any:
    return client.post(
        "/api/v1/students/import" + query,
        data={"file": (io.BytesIO(content), "roster.csv")},
        headers=province.headers(who, **headers),
        content_type="multipart/form-data",
    )


def job_row(job_id: int) -> Job:
    return db.session.execute(
        sa.select(Job).where(Job.id == job_id).execution_options(populate_existing=True)
    ).scalar_one()


def audit_actions(subject: str) -> list[str]:
    return list(
        db.session.execute(
            sa.select(AuditEvent.action).where(AuditEvent.subject == subject).order_by(AuditEvent.seq)
        ).scalars()
    )


def current_determinations(pks: list[int]) -> int:
    return (
        db.session.scalar(
            sa.select(sa.func.count())
            .select_from(Determination)
            .where(Determination.student_pk.in_(pks), Determination.current.is_(True))
        )
        or 0
    )


def determinations(pks: list[int]) -> int:
    return (
        db.session.scalar(
            sa.select(sa.func.count()).select_from(Determination).where(Determination.student_pk.in_(pks))
        )
        or 0
    )
