"""The audit trail: events appended in the caller's transaction and chained by hash.

The chain head lives in the `counters` row 'audit', taken FOR UPDATE, so concurrent writers
append one after another and the chain has no forks. `record` only queues an event on the session;
the queue is appended when the transaction commits, after everything else it wrote has been flushed,
so the head's lock is the last lock a transaction takes and is held for the commit alone: writers do
their work side by side and queue only to append (no lock cycle can pass through the head). A
savepoint rolled back drops the events queued inside it. Writers that must exclude each other while
they work (notices, quotas, decisions, determinations) take `lock_writers` first.

A hash chain alone cannot show a wholesale rewrite: whoever can write the table can recompute every hash.
Checkpoints anchor it: each records the head's (seq, hash) in `audit_checkpoints` and as a JSON line for an
external record (a file kept elsewhere, a printout); `verify` checks the recomputed chain against every
recorded checkpoint and every anchor line it is given, so a rewrite or a removed tail no longer matches.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import event as orm_event
from sqlalchemy import insert, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, SessionTransaction, scoped_session
from sqlalchemy.orm.util import identity_key

from aidservice.models.audit import AuditCheckpoint, AuditEvent
from aidservice.models.determination import Counter
from aidservice.services.actors import Actor

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
    body = canonical(
        {
            "seq": event.seq,
            "occurred_at": _utc_text(event.occurred_at),
            "actor": event.actor,
            "action": event.action,
            "subject": event.subject,
            "summary": event.summary,
            "request_id": event.request_id,
            "prev_hash": event.prev_hash,
        }
    )
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


HASHED_BETWEEN_TIME_AND_PREDECESSOR = '","prev_hash":"'


def hashed_layout(event: AuditEvent) -> tuple[str, str, str]:
    """The text `event_hash` hashes, cut where the time, the predecessor's hash and the seq go.

    text = head + time + HASHED_BETWEEN_TIME_AND_PREDECESSOR + prev_hash + middle + str(seq) + tail: the keys in
    sorted order, each value as `canonical` writes it, so the database can finish the hash under the chain's
    lock (`_append_in_one_statement`) and `verify` recomputes the same with `event_hash`.
    """
    head = f'{{"action":{canonical(event.action)},"actor":{canonical(event.actor)},"occurred_at":"'
    middle = f'","request_id":{canonical(event.request_id)},"seq":'
    tail = f',"subject":{canonical(event.subject)},"summary":{canonical(event.summary)}}}'
    return head, middle, tail


def lock_counter(session: Session, name: str) -> Counter:
    """Take a named counter row under a row lock (created on first use; a concurrent first use waits)."""
    query = (
        select(Counter)
        .where(Counter.name == name)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    counter = session.execute(query).scalar_one_or_none()
    if counter is None:
        try:
            with session.begin_nested():
                session.add(Counter(name=name, value=0, last_hash=GENESIS if name == "audit" else ""))
        except IntegrityError:
            pass  # another transaction created it first; taking the lock below waits for it
        counter = session.execute(query).scalar_one()
    return counter


PENDING = "aidservice.audit.pending"
"""session.info key of the events queued in the current transaction, each with the transaction it was queued in."""


def lock_writers(session: Session) -> None:
    """The mutex of writers that read and change shared rows (notices, quotas, decisions, determinations).

    Taken first and held to commit; the chain head is not needed for this (it is taken at commit).
    """
    lock_counter(session, "writers")


def record(
    session: Session,
    *,
    actor: Actor,
    action: str,
    subject: str,
    summary: Mapping[str, Any] | None = None,
    request_id: str | None = None,
) -> AuditEvent:
    """Queue one event for the chain in the caller's transaction; it is appended when the caller commits.

    Its seq, time and hashes are set then (`append_pending`), in commit order.
    """
    event = AuditEvent(
        actor=actor.label,
        action=action,
        subject=subject,
        summary=json.loads(canonical(dict(summary or {}))),
        request_id=request_id,
    )
    session.info.setdefault(PENDING, []).append((event, _innermost(session)))
    return event


def _innermost(session: Session) -> SessionTransaction | None:
    """The transaction an event is queued in (a savepoint's events go if it rolls back)."""
    real = session() if isinstance(session, scoped_session) else session
    if real.get_transaction() is None:
        real.connection()  # begin now, so a rollback before any query still drops the event
    return real.get_nested_transaction() or real.get_transaction()


EVENT_COLUMNS = (
    "seq",
    "occurred_at",
    "actor",
    "action",
    "subject",
    "summary",
    "request_id",
    "prev_hash",
    "hash",
)
"""The columns an appended event is inserted with (its id comes back from the insert)."""


def append_pending(session: Session) -> int:
    """Append the queued events to the chain now: flush the rest first, then take the head and add them.

    Runs before every commit; readers of the chain in the same transaction call it to see their own events.
    """
    pending = session.info.pop(PENDING, None)
    if not pending:
        return 0
    session.flush()  # every other row lock first: the head is the last lock taken
    events = [event for event, _transaction in pending]
    if session.get_bind().dialect.name == "postgresql":
        _append_in_one_statement(session, events)
    else:
        _append_in_steps(session, events)
    return len(events)


def _append_in_steps(session: Session, events: list[AuditEvent]) -> None:
    """Take the head, hash here, insert the events and move the head: three statements under the lock."""
    head = lock_counter(session, "audit")
    seq, prev = head.value, head.last_hash or GENESIS
    now = datetime.now(UTC)
    for event in events:
        seq += 1
        event.seq, event.occurred_at, event.prev_hash = seq, now, prev
        event.hash = prev = event_hash(event)
    ids = session.scalars(
        insert(AuditEvent).returning(AuditEvent.id, sort_by_parameter_order=True),
        [{column: getattr(event, column) for column in EVENT_COLUMNS} for event in events],
    ).all()
    for event, event_id in zip(events, ids, strict=True):
        event.id = event_id
    session.execute(
        update(Counter).where(Counter.name == "audit").values(value=seq, last_hash=prev),
        execution_options={"synchronize_session": False},
    )
    session.expire(head)  # the row changed underneath the loaded object


APPEND_STATEMENT = text("""
WITH RECURSIVE
head AS MATERIALIZED (
    SELECT value, last_hash FROM counters WHERE name = 'audit' FOR UPDATE
),
stamp AS MATERIALIZED (  -- read once the lock is held, so times rise with seq
    SELECT at, to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US') || '+00:00' AS iso
    FROM (SELECT clock_timestamp() AS at, value FROM head) AS locked
),
event AS (
    SELECT * FROM unnest(CAST(:head AS text[]), CAST(:middle AS text[]), CAST(:tail AS text[]),
                         CAST(:actor AS text[]), CAST(:action AS text[]), CAST(:subject AS text[]),
                         CAST(:summary AS text[]), CAST(:request_id AS text[]))
        WITH ORDINALITY AS e(head, middle, tail, actor, action, subject, summary, request_id, n)
),
chain (n, seq, prev_hash, hash) AS (
    SELECT CAST(0 AS bigint), value, CAST('' AS text), coalesce(nullif(last_hash, ''), :genesis) FROM head
    UNION ALL
    SELECT event.n, chain.seq + 1, chain.hash,
           encode(sha256(convert_to(event.head || stamp.iso || :between || chain.hash || event.middle
                                    || CAST(chain.seq + 1 AS text) || event.tail, 'UTF8')), 'hex')
    FROM chain JOIN event ON event.n = chain.n + 1 CROSS JOIN stamp
),
appended AS (
    INSERT INTO audit_events (seq, occurred_at, actor, action, subject, summary, request_id, prev_hash, hash)
    SELECT chain.seq, stamp.at, event.actor, event.action, event.subject, CAST(event.summary AS json),
           event.request_id, chain.prev_hash, chain.hash
    FROM chain JOIN event ON event.n = chain.n CROSS JOIN stamp
    RETURNING id, seq, occurred_at, prev_hash, hash
),
moved AS (
    UPDATE counters SET value = last.seq, last_hash = last.hash
    FROM (SELECT seq, hash FROM chain ORDER BY n DESC LIMIT 1) AS last
    WHERE counters.name = 'audit'
)
SELECT id, seq, occurred_at, prev_hash, hash FROM appended ORDER BY seq
""")
"""PostgreSQL: lock the head, hash the events in order (sha256 of `hashed_layout` with the time, predecessor and
seq filled in), insert them and move the head, in one round trip: under gevent every round trip held under the
lock also waits for its worker's event loop, and every writer queues behind that."""


def _append_in_one_statement(session: Session, events: list[AuditEvent]) -> None:
    """The chain's lock is held from this statement to the commit that follows it."""
    heads, middles, tails = zip(*(hashed_layout(event) for event in events), strict=True)
    params = {
        "head": list(heads),
        "middle": list(middles),
        "tail": list(tails),
        "actor": [event.actor for event in events],
        "action": [event.action for event in events],
        "subject": [event.subject for event in events],
        "summary": [canonical(event.summary) for event in events],
        "request_id": [event.request_id for event in events],
        "genesis": GENESIS,
        "between": HASHED_BETWEEN_TIME_AND_PREDECESSOR,
    }
    rows = session.execute(APPEND_STATEMENT, params).all()
    if not rows:  # a new database: the head row does not exist yet (lock_counter creates it), then append
        lock_counter(session, "audit")
        rows = session.execute(APPEND_STATEMENT, params).all()
    for event, row in zip(events, rows, strict=True):
        event.id, event.seq, event.occurred_at, event.prev_hash, event.hash = row
    loaded = session.identity_map.get(identity_key(Counter, "audit"))
    if loaded is not None:
        session.expire(loaded)  # the row changed underneath an object read earlier in this session


@orm_event.listens_for(Session, "before_commit")
def _append_before_commit(session: Session) -> None:
    """Also on a savepoint's release (SQLAlchemy does not say which is committing): correct, only earlier."""
    append_pending(session)


@orm_event.listens_for(Session, "after_soft_rollback")
def _drop_rolled_back(session: Session, previous: SessionTransaction) -> None:
    """Events queued inside a rolled-back transaction or savepoint never happened."""
    pending = session.info.get(PENDING)
    if pending:
        pending[:] = (
            [] if previous.parent is None else [(e, t) for e, t in pending if not _within(t, previous)]
        )


@orm_event.listens_for(Session, "after_transaction_end")
def _forget_at_end(session: Session, transaction: SessionTransaction) -> None:
    """A session closed without committing drops its queue (a committed one has appended it already)."""
    if transaction.parent is None:
        session.info.pop(PENDING, None)


def _within(transaction: SessionTransaction | None, ancestor: SessionTransaction) -> bool:
    while transaction is not None:
        if transaction is ancestor:
            return True
        transaction = transaction.parent
    return False


@dataclass(frozen=True, slots=True)
class Broken:
    """The first event whose hash or link does not hold."""

    seq: int
    id: int
    reason: str


def iter_events(session: Session, batch: int = 5000) -> Iterator[AuditEvent]:
    """All events in chain order, read in pages (this transaction's queued events appended first)."""
    append_pending(session)
    last = 0
    while True:
        rows = (
            session.execute(
                select(AuditEvent).where(AuditEvent.seq > last).order_by(AuditEvent.seq).limit(batch)
            )
            .scalars()
            .all()
        )
        if not rows:
            return
        yield from rows
        last = rows[-1].seq
        session.expunge_all()


@dataclass(frozen=True, slots=True)
class Anchor:
    """A checkpoint as recorded: the chain's head was event `seq` with hash `chain_hash`; `origin` says where."""

    seq: int
    chain_hash: str
    origin: str

    def line(self, created_at: datetime) -> str:
        """The JSON line exported for an external record."""
        return canonical(
            {"seq": self.seq, "chain_hash": self.chain_hash, "created_at": _utc_text(created_at)}
        )


class AnchorError(ValueError):
    """An anchor line that cannot be read; names the line."""


def parse_anchor_lines(lines: Iterable[str], name: str) -> list[Anchor]:
    """Anchor lines as `aid audit checkpoint` writes them (blank lines skipped); names the first bad line."""
    anchors = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
            seq, chain_hash = data["seq"], data["chain_hash"]
        except (ValueError, TypeError, KeyError):
            raise AnchorError(
                f"{name}, line {number}: not a checkpoint line (JSON with seq and chain_hash)"
            ) from None
        if not isinstance(seq, int) or seq < 0 or not isinstance(chain_hash, str) or len(chain_hash) != 64:
            raise AnchorError(
                f"{name}, line {number}: seq must be a whole number and chain_hash 64 hex digits"
            )
        anchors.append(Anchor(seq, chain_hash, f"{name}, line {number}"))
    return anchors


def take_checkpoint(session: Session, *, actor: Actor, request_id: str | None = None) -> tuple[Anchor, str]:
    """Record the chain head as a checkpoint (after the chain verifies) and audit it; returns it and its line."""
    count, broken = verify(session)
    if broken is not None:
        raise ChainBroken(count, broken)
    head = lock_counter(session, "audit")  # held to commit: the checkpoint names the head
    anchor = Anchor(head.value, head.last_hash or GENESIS, "table")
    row = AuditCheckpoint(seq=anchor.seq, chain_hash=anchor.chain_hash, created_at=datetime.now(UTC))
    session.add(row)
    session.flush()
    record(
        session,
        actor=actor,
        action="audit.checkpoint",
        subject=f"audit:checkpoint/{row.id}",
        summary={"seq": anchor.seq, "chain_hash": anchor.chain_hash},
        request_id=request_id,
    )
    return anchor, anchor.line(row.created_at)


class ChainBroken(RuntimeError):
    """The chain does not verify, so it must not be anchored."""

    def __init__(self, checked: int, broken: Broken) -> None:
        super().__init__(f"audit chain broken at event seq {broken.seq}: {broken.reason}")
        self.checked, self.broken = checked, broken


def recorded_checkpoints(session: Session) -> list[Anchor]:
    """The checkpoints kept in the database, oldest first."""
    rows = session.execute(select(AuditCheckpoint).order_by(AuditCheckpoint.id)).scalars()
    return [Anchor(row.seq, row.chain_hash, f"checkpoint {row.id}") for row in rows]


def verify(session: Session, anchors: Iterable[Anchor] = ()) -> tuple[int, Broken | None]:
    """Walk the chain, then hold it against the recorded checkpoints and the given anchors.

    Returns (events checked, the first problem or None).
    """
    wanted = [*recorded_checkpoints(session), *anchors]
    count, broken, hashes = _walk(session, {a.seq for a in wanted})
    if broken is not None:
        return count, broken
    last_seq = count
    for anchor in wanted:
        found = hashes.get(anchor.seq)
        if found is None:
            return count, Broken(
                anchor.seq,
                0,
                f"{anchor.origin} covers event seq {anchor.seq} but the chain "
                f"ends at seq {last_seq} (events removed)",
            )
        if found != anchor.chain_hash:
            return count, Broken(
                anchor.seq,
                0,
                f"{anchor.origin} does not match the chain at seq {anchor.seq} (events rewritten)",
            )
    return count, None


def _walk(session: Session, keep: set[int]) -> tuple[int, Broken | None, dict[int, str]]:
    """Check every event's hash and link; keep the hashes at the `keep` seqs (0 is the genesis)."""
    expected_prev, expected_seq, count = GENESIS, 1, 0
    hashes = {0: GENESIS}
    for event in iter_events(session):
        count += 1
        if event.seq != expected_seq:
            return count, Broken(event.seq, event.id, f"sequence gap: expected {expected_seq}"), hashes
        if event.prev_hash != expected_prev:
            return count, Broken(event.seq, event.id, "link to the previous event does not match"), hashes
        if event_hash(event) != event.hash:
            return count, Broken(event.seq, event.id, "content does not match its hash (edited)"), hashes
        if event.seq in keep:
            hashes[event.seq] = event.hash
        expected_prev, expected_seq = event.hash, event.seq + 1
    head = session.execute(select(Counter).where(Counter.name == "audit")).scalar_one_or_none()
    if head is not None and (head.value != expected_seq - 1 or (count and head.last_hash != expected_prev)):
        return (
            count,
            Broken(expected_seq, 0, "chain head does not match the last event (events removed)"),
            hashes,
        )
    return count, None, hashes


def events_for(session: Session, subject: str, limit: int = 500) -> list[AuditEvent]:
    """Events about one subject, oldest first."""
    append_pending(session)
    return list(
        session.execute(
            select(AuditEvent).where(AuditEvent.subject == subject).order_by(AuditEvent.seq).limit(limit)
        ).scalars()
    )


def browses_everything(actor: Actor) -> bool:
    """Who reads the whole trail (every subject): auditors, the province administrators and the system."""
    return actor.kind == "system" or actor.is_auditor or actor.role == "province_admin"


def subject_in_scope(session: Session, actor: Actor, subject: str) -> bool:
    """Auditors and the province see every subject; others the students and schools of their scope."""
    from aidservice.models import School, Student

    if browses_everything(actor):
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
