"""The audit trail: events appended in the caller's transaction and chained by hash.

The chain head lives in the `counters` row 'audit', taken FOR UPDATE, so concurrent writers
append one after another and the chain has no forks.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from aidservice.models.audit import AuditEvent
from aidservice.models.determination import Counter

from .actors import Actor

GENESIS = "0" * 64


def canonical(value: Any) -> str:
    """Stable JSON for hashing: sorted keys, no spaces, exact text for dates and decimals."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def _utc_text(moment: datetime) -> str:
    """Timestamps hash the same whichever database returned them (SQLite drops the zone)."""
    aware = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    return aware.isoformat(timespec="microseconds")


def event_hash(event: AuditEvent) -> str:
    """The hash of an event's content and its predecessor's hash."""
    body = canonical({
        "seq": event.seq,
        "occurred_at": _utc_text(event.occurred_at),
        "actor": event.actor,
        "action": event.action,
        "subject": event.subject,
        "summary": event.summary,
        "request_id": event.request_id,
        "prev_hash": event.prev_hash,
    })
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


def lock_counter(session: Session, name: str) -> Counter:
    """Take a named counter row under a row lock (created on first use)."""
    counter = session.execute(select(Counter).where(Counter.name == name).with_for_update()).scalar_one_or_none()
    if counter is None:
        counter = Counter(name=name, value=0, last_hash=GENESIS if name == "audit" else "")
        session.add(counter)
        session.flush()
        counter = session.execute(select(Counter).where(Counter.name == name).with_for_update()).scalar_one()
    return counter


def record(
    session: Session,
    *,
    actor: Actor,
    action: str,
    subject: str,
    summary: Mapping[str, Any] | None = None,
    request_id: str | None = None,
) -> AuditEvent:
    """Append one event to the chain in the caller's transaction (the caller commits)."""
    head = lock_counter(session, "audit")
    event = AuditEvent(
        seq=head.value + 1,
        occurred_at=datetime.now(UTC),
        actor=actor.label,
        action=action,
        subject=subject,
        summary=json.loads(canonical(dict(summary or {}))),
        request_id=request_id,
        prev_hash=head.last_hash or GENESIS,
    )
    event.hash = event_hash(event)
    head.value, head.last_hash = event.seq, event.hash
    session.add(event)
    session.flush()
    return event


@dataclass(frozen=True, slots=True)
class Broken:
    """The first event whose hash or link does not hold."""

    seq: int
    id: int
    reason: str


def iter_events(session: Session, batch: int = 5000) -> Iterator[AuditEvent]:
    """All events in chain order, read in pages."""
    last = 0
    while True:
        rows = session.execute(
            select(AuditEvent).where(AuditEvent.seq > last).order_by(AuditEvent.seq).limit(batch)
        ).scalars().all()
        if not rows:
            return
        yield from rows
        last = rows[-1].seq
        session.expunge_all()


def verify(session: Session) -> tuple[int, Broken | None]:
    """Walk the chain; returns (events checked, first broken event or None)."""
    expected_prev, expected_seq, count = GENESIS, 1, 0
    for event in iter_events(session):
        count += 1
        if event.seq != expected_seq:
            return count, Broken(event.seq, event.id, f"sequence gap: expected {expected_seq}")
        if event.prev_hash != expected_prev:
            return count, Broken(event.seq, event.id, "link to the previous event does not match")
        if event_hash(event) != event.hash:
            return count, Broken(event.seq, event.id, "content does not match its hash (edited)")
        expected_prev, expected_seq = event.hash, event.seq + 1
    head = session.execute(select(Counter).where(Counter.name == "audit")).scalar_one_or_none()
    if head is not None and (head.value != expected_seq - 1 or (count and head.last_hash != expected_prev)):
        return count, Broken(expected_seq, 0, "chain head does not match the last event (events removed)")
    return count, None


def events_for(session: Session, subject: str, limit: int = 500) -> list[AuditEvent]:
    """Events about one subject, oldest first."""
    return list(session.execute(
        select(AuditEvent).where(AuditEvent.subject == subject).order_by(AuditEvent.seq).limit(limit)
    ).scalars())


def subject_in_scope(session: Session, actor: Actor, subject: str) -> bool:
    """Auditors and the province see every subject; others the students and schools of their scope."""
    from aidservice.models import School, Student

    if actor.kind == "system" or actor.is_auditor or (actor.role == "province_admin"):
        return True
    kind, _, key = subject.partition(":")
    school: School | None = None
    if kind == "student":
        student = session.execute(select(Student).where(Student.student_id == key)).scalar_one_or_none()
        school = student.school if student is not None else None
    elif kind == "school":
        school = session.get(School, key)
    if school is None:
        return False
    return actor.reaches_school(school.code, school.region_code)
