"""Reading the current determinations and writing new ones under the change-log locks, with audit events.

Lock order: the writers' mutex ('writers'), then the change log ('changes'), both `counters` rows
taken FOR UPDATE and held until the caller commits; the audit chain head ('audit') last, at commit
(`services.audit` appends queued events then). Every writer of determinations takes them in this
order, so writers queue instead of deadlocking and `seq` grows in commit order: a reader paging by
seq never skips a late commit.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from aidservice.models import Counter, Determination
from aidservice.models import RuleSet as RuleSetRow
from aidservice.services import audit
from aidservice.services.actors import Actor
from aidservice.services.bulk import backend, insert_many, where_in
from aidservice.services.determinations.records import (
    Batch,
    Candidate,
    Previous,
    Stored,
    award_key_of,
    content_text,
    sha256,
)
from aidservice.services.rule_sets import publish_current

if TYPE_CHECKING:
    from aidservice.engine import RuleSet


# ------------------------------------------------------------------------------------------ reading


def current_determination(session: Session, student_pk: int, school_year: str) -> Determination | None:
    """The student's current determination for the school year, if any."""
    return session.execute(
        select(Determination).where(
            Determination.student_pk == student_pk,
            Determination.school_year == school_year,
            Determination.current.is_(True),
        )
    ).scalar_one_or_none()


def current_previous(session: Session, student_pks: Sequence[int], school_year: str) -> dict[int, Previous]:
    """The current determinations of these students: what new candidates compare with and supersede."""
    found: dict[int, Previous] = {}
    columns = (Determination.id, Determination.student_pk, Determination.level, Determination.outcome_hash)
    for condition in where_in(session, Determination.student_pk, student_pks):
        query = select(*columns).where(
            condition,
            Determination.school_year == school_year,
            Determination.current.is_(True),
        )
        for det_id, pk, level, digest in session.execute(query).all():
            found[pk] = Previous(det_id, level, digest)
    return found


def with_award_keys(
    session: Session, previous: Mapping[int, Previous], student_pks: Iterable[int]
) -> dict[int, Previous]:
    """`previous` with the award keys of these students' determinations read (stored JSON: read only these)."""
    wanted = {previous[pk].id: pk for pk in student_pks if pk in previous}
    out = dict(previous)
    for condition in where_in(session, Determination.id, list(wanted)):
        for det_id, awards in session.execute(
            select(Determination.id, Determination.awards).where(condition)
        ):
            before = previous[wanted[det_id]]
            out[wanted[det_id]] = Previous(before.id, before.level, before.outcome_hash, award_key_of(awards))
    return out


def change_log_head(session: Session) -> int:
    """The last seq handed out and committed (as this transaction sees it): a watermark for optimistic work."""
    return session.execute(select(Counter.value).where(Counter.name == "changes")).scalar_one_or_none() or 0


# ------------------------------------------------------------------------------------------ writing


def lock(session: Session, name: str) -> Counter:
    """A counter row under its row lock; a concurrent first use waits for the other's row instead of failing."""
    exists = session.execute(select(Counter.name).where(Counter.name == name)).first() is not None
    if not exists:
        try:
            with session.begin_nested():
                session.add(Counter(name=name, value=0, last_hash=audit.GENESIS if name == "audit" else ""))
        except IntegrityError:
            pass  # another transaction created it first; taking the lock below waits for it
    return audit.lock_counter(session, name)


def lock_changes(session: Session) -> None:
    """Take the writers' mutex, then the change log, in the one order every writer uses."""
    lock(session, "writers")
    lock(session, "changes")


def to_store(candidates: Iterable[Candidate], previous: Mapping[int, Previous]) -> list[Candidate]:
    """Candidates that differ from the current determination (or have none)."""
    out = []
    for candidate in candidates:
        before = previous.get(candidate.student.pk)
        if before is None or before.outcome_hash != candidate.outcome_hash:
            out.append(candidate)
    return out


def is_changed(candidate: Candidate, before: Previous | None) -> bool:
    """Level or awards differ from the superseded determination (a first determination is a change)."""
    return before is None or before.level != candidate.level or before.award_key != candidate.award_key


def determination_rows(
    todo: Sequence[Candidate],
    previous: Mapping[int, Previous],
    batch: Batch,
    first_seq: int,
    stored: Stored,
    *,
    as_text: bool = False,
) -> list[dict[str, Any]]:
    """Rows for the new determinations, with seq and content hash; records them in `stored`.

    `as_text`: JSON columns as their canonical texts (for COPY) instead of objects.
    """
    now = datetime.now(UTC)
    rows = []
    for offset, candidate in enumerate(todo):
        before = previous.get(candidate.student.pk)
        changed = is_changed(candidate, before)
        digest = sha256(content_text(candidate, batch))
        seq = first_seq + offset
        stored.seqs.append(seq)
        stored.hashes.append(digest)
        stored.changed += changed
        rows.append(
            {
                "seq": seq,
                "student_pk": candidate.student.pk,
                "school_year": batch.school_year,
                "as_of": batch.as_of,
                "rule_set_version": batch.rule_set_version,
                "level": candidate.level,
                "awards": candidate.awards_text if as_text else candidate.awards,
                "total_fen": candidate.total_fen,
                "facts": candidate.facts_text if as_text else candidate.student.snapshot,
                "explanation": candidate.explanation_text if as_text else candidate.explanation,
                "changed": changed,
                "current": True,
                "supersedes": None if before is None else before.id,
                "cause": batch.cause,
                "created_at": now,
                "content_hash": digest,
                "outcome_hash": candidate.outcome_hash,
            }
        )
    return rows


def take_seqs(session: Session, count: int) -> int:
    """Reserve `count` change-log numbers under the lock; returns the first."""
    counter = lock(session, "changes")
    first = counter.value + 1
    counter.value = counter.value + count
    session.flush()
    return first


def retire(session: Session, determination_ids: Sequence[int]) -> None:
    """Mark superseded determinations not current (the only change ever made to a stored determination)."""
    table = Determination.__table__
    for condition in where_in(session, table.c.id, determination_ids):
        session.execute(update(table).where(condition).values(current=False))
    retired = set(determination_ids)
    for obj in list(session.identity_map.values()):  # loaded copies must not keep saying current
        if isinstance(obj, Determination) and obj.id in retired:
            session.expire(obj, ["current"])


def insert_rows(session: Session, rows: list[dict[str, Any]]) -> None:
    """Bulk insert: COPY on PostgreSQL (JSON columns as text), executemany through the model elsewhere."""
    insert_many(session, Determination, rows)


def store(
    session: Session, todo: Sequence[Candidate], previous: Mapping[int, Previous], batch: Batch
) -> Stored:
    """Supersede the current determinations of `todo` and insert the new ones, numbered in commit order."""
    stored = Stored()
    if not todo:
        return stored
    first = take_seqs(session, len(todo))
    retire(session, [previous[c.student.pk].id for c in todo if c.student.pk in previous])
    as_text = backend(session) == "postgresql"
    insert_rows(session, determination_rows(todo, previous, batch, first, stored, as_text=as_text))
    return stored


def audit_stored(
    session: Session,
    *,
    actor: Actor,
    batch: Batch,
    stored: Stored,
    evaluated: int,
    request_id: str | None,
    single: tuple[str, Candidate] | None = None,
) -> None:
    """One event for the batch (count and digest over content hashes); one more when it is one student."""
    if not stored.seqs:
        return
    audit.record(
        session,
        actor=actor,
        action="determinations.stored",
        subject=f"determinations:{batch.cause}"[:160],
        summary={
            "count": len(stored.seqs),
            "changed": stored.changed,
            "evaluated": evaluated,
            "first_seq": stored.seqs[0],
            "last_seq": stored.seqs[-1],
            "digest": stored.digest,
            "school_year": batch.school_year,
            "as_of": batch.as_of.isoformat(),
            "rule_set_version": batch.rule_set_version,
        },
        request_id=request_id,
    )
    if single is not None:
        student_id, candidate = single
        audit.record(
            session,
            actor=actor,
            action="determination.stored",
            subject=f"student:{student_id}",
            summary={
                "seq": stored.seqs[0],
                "level": candidate.level,
                "changed": bool(stored.changed),
                "content_hash": stored.hashes[0],
                "cause": batch.cause,
            },
            request_id=request_id,
        )


def publish(session: Session, rules: RuleSet) -> None:
    """Make sure the rule set a determination names is stored (its version is a foreign key).

    Checked with a key-only query first: loading the stored files on every batch would cost more.
    """
    stored = session.execute(select(RuleSetRow.version).where(RuleSetRow.version == rules.version)).first()
    if stored is None:
        publish_current(session, rules, rules.rules.files)
