"""What the officer UI reads about students (the roster as a list is services.lists.students): one
student with every fact's source, the facts an application would start from, and the full ID number
for the school's own aid officer (audited). Reads only, except that reading a full number is recorded.

ID numbers are masked (region and check character: aidservice.identity.mask) everywhere here but in
`reveal_id_number`. What the pages read are typed views (TypedDicts: the templates get the plain dicts they are).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, TypedDict

from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import Session

from aidservice.identity import mask
from aidservice.models import AgencyRecord, Application, FeedBatch, School, Student
from aidservice.models.application import ACTIVE_STATES
from aidservice.services import audit
from aidservice.services.actors import Actor, in_region
from aidservice.services.applications.decisions import list_decisions
from aidservice.services.applications.scope import check_act, check_read, may_act
from aidservice.services.applications.views import DecisionView
from aidservice.services.context import Settings
from aidservice.services.determinations.facts_assembly import assemble
from aidservice.services.determinations.store import current_determination
from aidservice.services.errors import DomainError, Forbidden
from aidservice.services.hidden import not_found
from aidservice.services.roster import roster
from aidservice.services.roster.roster import StudentView
from aidservice.services.sheets.spreadsheets import read_table

ID_READ_ACTION = "student.id_number.read"
ID_COLUMN = re.compile(r"^(id_number|guardian[1-9]_id_number)$")
ID_LIKE = re.compile(r"^\d{17}[\dXx]$")


# ------------------------------------------------------------------------------------------- views


class RecordRef(TypedDict):
    """An agency record a fact came from: its batch and validity."""

    id: int
    batch_id: str
    received_at: datetime
    valid_from: date | None
    valid_to: date | None


class FactRow(TypedDict):
    name: str
    label: str
    type: str
    value: Any  # as the snapshot holds it (JSON)
    source: str
    records: list[RecordRef]


class ApplicationLine(TypedDict):
    """An application on the student's page; `conflicts` is their count."""

    id: int
    school_year: str
    state: str
    level: str
    submitted_at: datetime
    conflicts: int


class StudentPage(StudentView):
    """`roster.get_student` with what the officer's page adds."""

    school_name: str
    facts: list[FactRow]
    applications: list[ApplicationLine]
    decisions: list[DecisionView]
    may_apply: bool
    may_read_full_id: bool


class StudentLine(TypedDict):
    student_id: str
    name: str
    id_number: str  # masked
    school_code: str
    school_name: str
    class_name: str
    stage: str
    grade: int


class Blocking(TypedDict):
    id: int
    state: str


class ApplicationStart(TypedDict):
    student: StudentLine
    as_of: date
    school_year: str
    facts: list[FactRow]
    blocking: Blocking | None  # the open or approved application that blocks a new one


class RejectedCell(TypedDict):
    column: str
    value: str  # ID numbers masked
    errors: list[str]


class RejectedRow(TypedDict):
    row: int  # as numbered in the file (the header is row 1)
    cells: list[RejectedCell]
    other: dict[str, list[str]]  # messages of columns the file does not have


# ------------------------------------------------------------------------------------------- scope


def scope_condition(actor: Actor) -> ColumnElement[bool] | None:
    """SQL condition on students joined with schools: the caller's scope (None: the whole province)."""
    if actor.kind == "system" or actor.is_auditor:
        return None
    if actor.kind == "user" and actor.role == "school_officer" and actor.school_code:
        return Student.school_code == actor.school_code
    if actor.kind == "user" and actor.is_admin and actor.region_code:
        return in_region(School.region_code, actor.region_code)
    raise Forbidden("The roster is for signed-in officers, administrators and auditors.")


def may_read_full_id(actor: Actor, school_code: str) -> bool:
    """Only the aid officer of the student's own school sees the full number (to check the commitment)."""
    return actor.kind == "user" and actor.role == "school_officer" and actor.school_code == school_code


# ------------------------------------------------------------------------------------------ listing


def looks_like_id_number(text: str) -> bool:
    """18 characters of digits (the last may be X): never searched in the clear, nor echoed back."""
    return bool(ID_LIKE.fullmatch(text.strip()))


# ------------------------------------------------------------------------------------------ one student


def _student(session: Session, student_id: str) -> Student:
    student = session.execute(select(Student).where(Student.student_id == student_id)).scalar_one_or_none()
    if student is None:
        raise not_found("student")
    return student


def student_page(session: Session, *, actor: Actor, settings: Settings, student_id: str) -> StudentPage:
    """The student (ID numbers masked) with the current determination, every fact with its source, the
    applications and current decisions of the school year, and what the caller may do here."""
    view = roster.get_student(session, actor=actor, settings=settings, student_id=student_id)  # scope: 404
    student = _student(session, student_id)
    school = student.school
    determination = current_determination(session, student.id, settings.school_year)
    applications = (
        session.execute(
            select(Application).where(Application.student_pk == student.id).order_by(Application.id.desc())
        )
        .scalars()
        .all()
    )
    active = [a for a in applications if a.school_year == settings.school_year and a.state in ACTIVE_STATES]
    decisions = list_decisions(
        session,
        actor=actor,
        settings=settings,
        student_id=student_id,
        school_year=settings.school_year,
        current_only=True,
    )["items"]
    return {
        **view,
        "school_name": school.name,
        "facts": fact_rows(session, settings, determination.facts if determination is not None else {}),
        "applications": [
            {
                "id": a.id,
                "school_year": a.school_year,
                "state": a.state,
                "level": a.level,
                "submitted_at": a.submitted_at,
                "conflicts": len(a.conflicts or []),
            }
            for a in applications
        ],
        "decisions": decisions,
        "may_apply": may_act(actor, school) and not active,
        "may_read_full_id": may_read_full_id(actor, school.code),
    }


def reveal_id_number(
    session: Session,
    *,
    actor: Actor,
    settings: Settings,
    student_id: str,
    request_id: str | None = None,
    channel: str = "student detail",
) -> str:
    """The full ID number, for the aid officer of the student's school only; every read is an audit event.

    The only place a stored number is decrypted (aidservice.crypto); the event is in the caller's transaction."""
    student = _student(session, student_id)
    school = student.school
    check_read(actor, school, f"Student {student_id}")
    if not may_read_full_id(actor, school.code):
        raise Forbidden("Only the aid officer of the student's school may read the full ID number.")
    audit.record(
        session,
        actor=actor,
        action=ID_READ_ACTION,
        subject=f"student:{student_id}",
        summary={"field": "id_number", "page": channel},
        request_id=request_id,
    )
    return settings.ids.open_row("student", student)


def application_start(
    session: Session, *, actor: Actor, settings: Settings, student_id: str
) -> ApplicationStart:
    """What a new application starts from: the student (masked), the facts the roster, the school and the
    agencies give today with their sources, and the open or approved application that would block a new one."""
    student = _student(session, student_id)
    check_act(actor, student.school, f"Student {student_id}", "student")
    as_of = settings.default_as_of()
    (found,) = assemble(session, [student.id], as_of, settings.rules)
    blocking = session.execute(
        select(Application.id, Application.state).where(
            Application.student_pk == student.id,
            Application.school_year == settings.school_year,
            Application.state.in_(ACTIVE_STATES),
        )
    ).first()
    return {
        "student": {
            "student_id": student.student_id,
            "name": student.name,
            "id_number": student.id_mask,
            "school_code": student.school_code,
            "school_name": student.school.name,
            "class_name": student.class_name,
            "stage": student.stage,
            "grade": student.grade,
        },
        "as_of": as_of,
        "school_year": settings.school_year,
        "facts": fact_rows(session, settings, found.snapshot),
        "blocking": None if blocking is None else {"id": blocking.id, "state": blocking.state},
    }


def fact_rows(
    session: Session, settings: Settings, snapshot: Mapping[str, Mapping[str, Any]]
) -> list[FactRow]:
    """Facts of a snapshot in catalogue order, grouped by source, each with where it came from: agency facts
    name their records' batches and validity. Facts not listed are false (booleans) or unknown."""
    catalogue = settings.rules.facts
    record_ids = sorted({i for entry in snapshot.values() for i in entry.get("record_ids") or ()})
    records = _records(session, record_ids)
    order = {name: index for index, name in enumerate(catalogue)}
    rows: list[FactRow] = []
    for name, entry in snapshot.items():
        spec = catalogue.get(name)
        source = entry.get("source") or ""
        rows.append(
            {
                "name": name,
                "label": spec.label if spec is not None else name,
                "type": spec.type if spec is not None else "",
                "value": entry.get("value"),
                "source": source,
                "records": [records[i] for i in entry.get("record_ids") or () if i in records],
            }
        )
    rank = {
        s: i for i, s in enumerate(("roster", "school", *settings.rules.vocabulary.agency_ids, "declared"))
    }
    rows.sort(key=lambda r: (rank.get(r["source"], len(rank)), order.get(r["name"], len(order))))
    return rows


def _records(session: Session, record_ids: list[int]) -> dict[int, RecordRef]:
    if not record_ids:
        return {}
    rows = session.execute(
        select(
            AgencyRecord.id,
            AgencyRecord.valid_from,
            AgencyRecord.valid_to,
            FeedBatch.batch_id,
            FeedBatch.received_at,
        )
        .join(FeedBatch, FeedBatch.id == AgencyRecord.batch_pk)
        .where(AgencyRecord.id.in_(record_ids))
    )
    return {
        r.id: {
            "id": r.id,
            "batch_id": r.batch_id,
            "received_at": r.received_at,
            "valid_from": r.valid_from,
            "valid_to": r.valid_to,
        }
        for r in rows
    }


# ------------------------------------------------------------------------------------------- import


@dataclass(slots=True)
class RejectedRows:
    """An import's rejected rows as the file had them (ID numbers masked), each cell with its messages."""

    header: list[str] = field(default_factory=list)
    rows: list[RejectedRow] = field(default_factory=list)
    file_errors: list[str] = field(default_factory=list)
    total: int = 0


def rejected_rows(
    filename: str, data: bytes, errors: Mapping[str, Sequence[str]], *, max_rows: int, shown: int
) -> RejectedRows:
    """Put the import's messages (`rows.<row>.<column>`, header problems as row 1, `file`) beside the rows
    of the uploaded file, so the officer sees each bad row with what is wrong in it."""
    out = RejectedRows()
    by_row: dict[int, dict[str, list[str]]] = {}
    for key, messages in errors.items():
        parts = key.split(".", 2)
        if parts[0] == "rows" and len(parts) == 3 and parts[1].isdigit() and int(parts[1]) > 1:
            by_row.setdefault(int(parts[1]), {}).setdefault(parts[2], []).extend(messages)
        elif parts[0] == "rows" and len(parts) == 3:
            out.file_errors.extend(f"{parts[2]}: {m}" for m in messages)  # the header row
        else:
            out.file_errors.extend(messages if key == "file" else [f"{key}: {m}" for m in messages])
    out.total = len(by_row)
    if not by_row:
        return out
    try:
        table = read_table(filename, data, max_rows)
    except DomainError:
        table = []
    out.header = ["" if c is None else str(c).strip() for c in table[0]] if table else []
    for number in sorted(by_row)[:shown]:
        raw = table[number - 1] if 0 < number - 1 < len(table) else []
        problems = by_row[number]
        cells: list[RejectedCell] = []
        for index, column in enumerate(out.header):
            value = raw[index] if index < len(raw) else None
            text = "" if value is None else str(value)
            if text and ID_COLUMN.match(column):
                text = mask(text.strip())
            cells.append({"column": column, "value": text, "errors": problems.get(column, [])})
        other = {column: messages for column, messages in problems.items() if column not in out.header}
        out.rows.append({"row": number, "cells": cells, "other": other})
    return out
