"""Writers appending to the chain at once on PostgreSQL: one unbroken chain, seq and time in commit order."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from itertools import pairwise

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from aidservice.models import AuditEvent
from aidservice.services import audit
from aidservice.services.actors import Actor
from tests.conftest import _create_test_database, _drop_test_database, _migrate

WRITERS = 8
COMMITS_EACH = 15


@pytest.fixture
def pg_engine(pg_server: str) -> Iterator[sa.Engine]:
    """A migrated database of its own: the writers commit, which the per-test transaction would not allow."""
    url, name = _create_test_database(pg_server)
    engine = sa.create_engine(url, pool_size=WRITERS)
    try:
        _migrate(url)
        yield engine
    finally:
        engine.dispose()
        _drop_test_database(pg_server, name)


def _write(engine: sa.Engine, writer: int, start: threading.Barrier, failures: list[BaseException]) -> None:
    actor = Actor.system(f"writer-{writer}")
    try:
        start.wait()
        for commit in range(COMMITS_EACH):
            with Session(engine) as session:
                for event in range(1 + commit % 3):  # one to three events per transaction
                    audit.record(
                        session,
                        actor=actor,
                        action="test.append",
                        subject=f"w:{writer}",
                        summary={"commit": commit, "event": event, "text": '认定 "quoted" \\ ✓'},
                        request_id=None if event else f"r-{writer}-{commit}",
                    )
                session.commit()
    except BaseException as error:  # reported by the test, not lost in the thread
        failures.append(error)


def test_concurrent_writers_from_an_empty_chain_leave_one_verified_chain(pg_engine: sa.Engine) -> None:
    start = threading.Barrier(WRITERS)
    failures: list[BaseException] = []
    threads = [threading.Thread(target=_write, args=(pg_engine, w, start, failures)) for w in range(WRITERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert failures == []
    expected = WRITERS * sum(1 + commit % 3 for commit in range(COMMITS_EACH))
    with Session(pg_engine) as session:
        assert audit.verify(session) == (expected, None)
        events = session.scalars(sa.select(AuditEvent).order_by(AuditEvent.seq)).all()
        head = session.execute(sa.text("SELECT value, last_hash FROM counters WHERE name = 'audit'")).one()
    assert [event.seq for event in events] == list(range(1, expected + 1))
    assert all(a.occurred_at <= b.occurred_at for a, b in pairwise(events))
    assert (head.value, head.last_hash) == (expected, events[-1].hash)
    # each transaction's events are consecutive: appended under one hold of the lock
    seqs: dict[tuple[str, int], list[int]] = {}
    for event in events:
        seqs.setdefault((event.subject, event.summary["commit"]), []).append(event.seq)
    assert len(seqs) == WRITERS * COMMITS_EACH
    assert all(s == list(range(s[0], s[0] + len(s))) for s in seqs.values())


def test_the_events_of_one_append_come_back_with_their_stored_values(pg_engine: sa.Engine) -> None:
    actor = Actor.system("test")
    with Session(pg_engine) as session:
        queued = [
            audit.record(session, actor=actor, action="test.append", subject=f"s:{n}", summary={"n": n})
            for n in range(3)
        ]
        before = datetime.now(UTC)
        session.commit()
        stored = {e.seq: e for e in session.scalars(sa.select(AuditEvent))}
    assert [event.seq for event in queued] == [1, 2, 3]
    for event in queued:
        row = stored[event.seq]
        assert (event.id, event.prev_hash, event.hash, event.occurred_at) == (
            row.id,
            row.prev_hash,
            row.hash,
            row.occurred_at,
        )
        assert event.hash == audit.event_hash(event) and event.occurred_at >= before
    assert queued[0].prev_hash == audit.GENESIS and queued[1].prev_hash == queued[0].hash


@pytest.mark.parametrize(
    "summary, request_id, actor",
    [
        ({}, None, "system:x"),
        ({"after": {"grade": 3, "name": "张三"}, "list": [1, 2.5, None, True]}, "r-1", "user:alice"),
        ({"z": '"quoted" \\ back', "a": {"nested": ["✓", "\n"]}}, "", "client:3"),
    ],
)
def test_the_layout_the_database_hashes_is_the_text_event_hash_hashes(
    summary: dict[str, object], request_id: str | None, actor: str
) -> None:
    event = AuditEvent(
        seq=41,
        occurred_at=datetime(2026, 11, 28, 3, 4, 5, 60, tzinfo=UTC),
        actor=actor,
        action="student.update",
        subject='student:S"1',
        summary=summary,
        request_id=request_id,
        prev_hash="ab" * 32,
    )
    head, middle, tail = audit.hashed_layout(event)
    text = (
        head
        + "2026-11-28T03:04:05.000060+00:00"
        + audit.HASHED_BETWEEN_TIME_AND_PREDECESSOR
        + "ab" * 32
        + middle
        + "41"
        + tail
    )
    assert hashlib.sha256(text.encode("utf-8")).hexdigest() == audit.event_hash(event)
