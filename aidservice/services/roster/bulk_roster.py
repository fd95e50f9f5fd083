"""Province-scale roster loading for `aid demo-data`: schools, students and guardians written set-based.

The services path (`put_school`, `upsert_students`) checks and re-evaluates every row as it goes,
which is right for real imports and far too slow for a synthetic province of a million students.
This path writes the same rows with COPY on PostgreSQL (executemany elsewhere) and the same audit
trail: one `school.create` event per school and one `student.import` event per 2,000 students with
the import's digest, appended to the hash chain in bulk. It does not evaluate anyone: the caller
runs the agency batches through the feed service and then the columnar re-determination.
Only for generated data that is valid by construction (no payload checks, no scope checks).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from aidservice.models import AuditEvent, Guardian, School, Student
from aidservice.services import audit
from aidservice.services.actors import Actor
from aidservice.services.bulk import backend, insert_many
from aidservice.services.context import Settings
from aidservice.services.roster.roster import school_view
from aidservice.services.roster.roster_schema import ROW_FIELDS
from aidservice.services.roster.roster_upsert import ImportResult, audit_import

AUDIT_SLICE = (
    2_000  # students per `student.import` event, as `aid demo-data` imports them on the services path
)


class NotEmpty(Exception):
    """The database already holds a roster: a bulk load would collide with it."""


def refuse_if_loaded(session: Session) -> None:
    """Bulk loading is for an empty roster only; say so before writing anything."""
    students = session.scalar(select(func.count()).select_from(Student))
    schools = session.scalar(select(func.count()).select_from(School))
    if students or schools:
        raise NotEmpty(f"the database already holds {schools} schools and {students} students")


def load_schools(session: Session, *, actor: Actor, schools: Sequence[Mapping[str, Any]]) -> int:
    """Insert the schools (their counties must exist) and audit each as `put_school` does."""
    stamp = datetime.now(UTC)
    rows = [_school_row(school, stamp) for school in schools]
    insert_many(session, School, rows)
    append_events(
        session,
        actor,
        [
            ("school.create", f"school:{row['code']}", {"before": None, "after": school_view(School(**row))})
            for row in rows
        ],
    )
    return len(rows)


def _school_row(school: Mapping[str, Any], stamp: datetime) -> dict[str, Any]:
    fee = school.get("tuition_fee")
    return {
        "code": school["code"],
        "name": school["name"],
        "region_code": school["region_code"],
        "city_code": school["region_code"][:4] + "00",
        "stages": list(school["stages"]),
        "kind": school["kind"],
        "inclusive_kindergarten": bool(school["inclusive_kindergarten"]),
        "tuition_fee_fen": None if fee is None else int(Decimal(str(fee)).scaleb(2)),
        "central_university": bool(school["central_university"]),
        "created_at": stamp,
        "updated_at": stamp,
    }


def load_students(
    session: Session,
    *,
    actor: Actor,
    settings: Settings,
    students: Sequence[Mapping[str, Any]],
    chunk: int = 50_000,
    progress: Callable[[int], None] | None = None,
    checkpoint: Callable[[], None] | None = None,
) -> int:
    """Insert students and guardians `chunk` at a time (the caller's `checkpoint` commits each chunk)."""
    for start in range(0, len(students), chunk):
        part = students[start : start + chunk]
        _insert_chunk(session, settings, part)
        for offset in range(0, len(part), AUDIT_SLICE):
            written = [("created", dict(s)) for s in part[offset : offset + AUDIT_SLICE]]
            audit_import(
                session, actor, written, ImportResult(created=len(written)), None, {"source": "demo-data"}
            )
        if checkpoint is not None:
            checkpoint()
        if progress is not None:
            progress(len(part))
    return len(students)


def _insert_chunk(session: Session, settings: Settings, students: Sequence[Mapping[str, Any]]) -> None:
    """Students and guardians of one chunk; ID numbers sealed (AES-GCM, keyed hash, mask) as every writer does."""
    stamp = datetime.now(UTC)
    vault = settings.ids
    pks = take_ids(session, Student, len(students))
    rows, guardians = [], []
    for pk, student in zip(pks, students, strict=True):
        rows.append(
            {
                "id": pk,
                "student_id": student["student_id"],
                **vault.seal("student", student["id_number"]),
                **{name: student[name] for name in ROW_FIELDS},
                "created_at": stamp,
                "updated_at": stamp,
            }
        )
        guardians.extend(
            {
                "student_pk": pk,
                **vault.seal("guardian", g["id_number"]),
                "name": g["name"],
                "relation": g["relation"],
            }
            for g in student["guardians"]
        )
    insert_many(session, Student, rows)
    insert_many(session, Guardian, guardians)


def analyze(session: Session, *tables: str) -> None:
    """PostgreSQL: fresh planner statistics for tables that just grew by orders of magnitude.

    Until autovacuum gets to them, the planner estimates a freshly loaded table from default
    selectivities (a handful of rows) and picks nested loops that are quadratic at this size.
    """
    if backend(session) == "postgresql":
        for table in tables:
            session.execute(text(f"ANALYZE {table}"))


def take_ids(session: Session, model: Any, count: int) -> list[int]:
    """`count` fresh primary keys: from the table's sequence on PostgreSQL, after the largest key elsewhere."""
    if count == 0:
        return []
    if backend(session) == "postgresql":
        table = model.__tablename__
        return list(
            session.scalars(
                text(f"SELECT nextval(pg_get_serial_sequence('{table}', 'id')) FROM generate_series(1, :n)"),
                {"n": count},
            )
        )
    top = session.scalar(select(func.coalesce(func.max(model.id), 0))) or 0
    return list(range(top + 1, top + 1 + count))


def append_events(session: Session, actor: Actor, items: Iterable[tuple[str, str, Mapping[str, Any]]]) -> int:
    """Append (action, subject, summary) events to the audit chain in one bulk insert, under the chain's lock."""
    audit.append_pending(session)  # events queued earlier in this transaction come first
    head = audit.lock_counter(session, "audit")
    seq, prev = head.value, head.last_hash or audit.GENESIS
    now = datetime.now(UTC)
    rows = []
    for action, subject, summary in items:
        seq += 1
        event = AuditEvent(
            seq=seq,
            occurred_at=now,
            actor=actor.label,
            action=action,
            subject=subject,
            summary=json.loads(audit.canonical(dict(summary))),
            request_id=None,
            prev_hash=prev,
        )
        prev = audit.event_hash(event)
        rows.append(
            {
                "seq": seq,
                "occurred_at": now,
                "actor": event.actor,
                "action": action,
                "subject": subject,
                "summary": event.summary,
                "request_id": None,
                "prev_hash": event.prev_hash,
                "hash": prev,
            }
        )
    insert_many(session, AuditEvent, rows)
    head.value, head.last_hash = seq, prev
    session.flush()
    return len(rows)


__all__ = [
    "NotEmpty",
    "analyze",
    "append_events",
    "load_schools",
    "load_students",
    "refuse_if_loaded",
    "take_ids",
]
