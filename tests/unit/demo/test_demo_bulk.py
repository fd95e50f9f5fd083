"""`aid demo-data --path bulk` (province scale) leaves the same roster and determinations as the services path."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskCliRunner
from sqlalchemy import func, select

from aidservice.extensions import db
from aidservice.models import AgencyRecord, Determination, Guardian, School, Student
from aidservice.services import audit
from aidservice.services.roster.roster import school_view
from aidservice.services.roster.roster_schema import ROW_FIELDS
from aidservice.wiring import settings

STUDENTS = 2000


def _snapshot() -> dict[str, Any]:
    """What a load leaves behind, keyed so that two loads compare equal when they are equivalent."""
    session = db.session
    vault = settings().ids
    guardians: dict[int, list[tuple[str, str, str, str, str]]] = {}
    for row in session.execute(select(Guardian)).scalars():
        number = vault.open_row("guardian", row)
        guardians.setdefault(row.student_pk, []).append(
            (number, row.id_hmac, row.id_mask, row.name, row.relation)
        )
    students = {
        row.student_id: (
            vault.open_row("student", row),
            tuple(getattr(row, f) for f in ROW_FIELDS),
            row.id_hmac,
            row.id_mask,
            sorted(guardians.get(row.id, [])),
        )
        for row in session.execute(select(Student)).scalars()
    }
    current = session.execute(
        select(
            Student.student_id,
            Determination.level,
            Determination.total_fen,
            Determination.awards,
            Determination.facts,
            Determination.rule_set_version,
            Determination.as_of,
            Determination.school_year,
        )
        .join(Student, Student.id == Determination.student_pk)
        .where(Determination.current)
    ).all()
    checked, broken = audit.verify(session)
    return {
        "schools": sorted((s.code, repr(school_view(s))) for s in session.execute(select(School)).scalars()),
        "students": students,
        "determinations": {row[0]: _outcome(*row[1:]) for row in current},
        "current_per_student": session.scalar(
            select(func.count(func.distinct(Determination.student_pk))).where(Determination.current)
        ),
        "records": session.scalar(select(func.count()).select_from(AgencyRecord)),
        "audit_broken": broken,
        "audit_events": checked,
    }


def _outcome(
    level: str, total: int, awards: list[dict[str, Any]], facts: dict[str, Any], *rest: Any
) -> tuple:
    """A determination without its agency record ids (sequences are not rolled back on PostgreSQL)."""
    kept = {
        name: (f.get("value"), f.get("source"), len(f.get("record_ids") or ())) for name, f in facts.items()
    }
    return level, total, sorted((a["program"], a["amount"]) for a in awards), sorted(kept.items()), *rest


def _load(runner: FlaskCliRunner, path: str, logins: Path) -> dict[str, Any]:
    """Run demo-data in a savepoint, snapshot what it wrote, and roll it back."""
    connection = db.session.get_bind()
    savepoint = connection.begin_nested()
    try:
        result = runner.invoke(
            args=[
                "aid",
                "demo-data",
                "--students",
                str(STUDENTS),
                "--seed",
                "11",
                "--path",
                path,
                "--logins",
                str(logins),
            ]
        )
        assert result.exit_code == 0, result.output
        return _snapshot()
    finally:
        db.session.close()
        savepoint.rollback()


@pytest.mark.databases
def test_bulk_path_leaves_the_same_students_and_determinations_as_the_services_path(
    app: Flask, tmp_path: Path
) -> None:
    runner = app.test_cli_runner()
    services = _load(runner, "services", tmp_path / "services.txt")
    bulk = _load(runner, "bulk", tmp_path / "bulk.txt")
    assert len(bulk["students"]) == STUDENTS and bulk["students"] == services["students"]
    assert bulk["schools"] == services["schools"]
    assert bulk["records"] == services["records"] > 0
    assert bulk["current_per_student"] == len(bulk["determinations"]) == STUDENTS
    differing = sorted(
        k
        for k in services["determinations"]
        if services["determinations"][k] != bulk["determinations"].get(k)
    )
    assert not differing, f"{len(differing)} students differ, e.g. {differing[:3]}"
    assert {d[0] for d in bulk["determinations"].values()} >= {"none", "special"}
    assert bulk["audit_broken"] is None and services["audit_broken"] is None
    assert bulk["audit_events"] > len(bulk["schools"]), "every school and every import slice is audited"


@pytest.mark.databases
@pytest.mark.parametrize("path", ["services", "bulk"])
def test_demo_data_refuses_a_database_that_already_has_a_roster(
    app: Flask, tmp_path: Path, path: str
) -> None:
    runner = app.test_cli_runner()
    args = ["aid", "demo-data", "--students", "200", "--path", path, "--logins", str(tmp_path / "l.txt")]
    assert runner.invoke(args=args).exit_code == 0
    count = db.session.scalar(select(func.count()).select_from(Student))
    again = runner.invoke(args=args)
    assert again.exit_code != 0
    assert "empty database" in again.output and f"{count} students" in again.output
    assert db.session.scalar(select(func.count()).select_from(Student)) == count
