"""The chain is appended at commit: the head's lock is the last a writer takes, and rolled-back work leaves no event."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import sqlalchemy as sa
from flask import Flask

from aidservice.extensions import db
from aidservice.models import AuditEvent
from aidservice.services import audit
from aidservice.services.actors import Actor
from aidservice.services.applications import actions, submission
from aidservice.services.applications.values import ActionRequest
from tests.world.applications import (  # noqa: F401 - fixtures
    World,
    body,
    service_settings,
    world_fixture,
)

pytestmark = pytest.mark.databases

SYSTEM = Actor.system("test")


def _subjects() -> list[str]:
    return list(db.session.scalars(sa.select(AuditEvent.subject).order_by(AuditEvent.seq)))


def test_a_queued_event_is_appended_when_the_transaction_commits(app: Flask) -> None:
    audit.record(db.session, actor=SYSTEM, action="x", subject="s:1")
    db.session.flush()
    assert _subjects() == []  # a flush alone does not take the chain head
    db.session.commit()
    (event,) = db.session.scalars(sa.select(AuditEvent)).all()
    assert event.seq == 1 and event.prev_hash == audit.GENESIS and event.hash == audit.event_hash(event)


def test_events_are_chained_in_commit_order(app: Flask) -> None:
    for subject in ("s:1", "s:2"):
        audit.record(db.session, actor=SYSTEM, action="x", subject=subject)
    db.session.commit()
    audit.record(db.session, actor=SYSTEM, action="x", subject="s:3")
    db.session.commit()
    assert _subjects() == ["s:1", "s:2", "s:3"]
    assert audit.verify(db.session) == (3, None)


def test_a_rolled_back_savepoint_drops_its_events_only(app: Flask) -> None:
    audit.record(db.session, actor=SYSTEM, action="x", subject="kept:1")
    with pytest.raises(RuntimeError), db.session.begin_nested():
        audit.record(db.session, actor=SYSTEM, action="x", subject="dropped")
        raise RuntimeError("the savepoint rolls back")
    audit.record(db.session, actor=SYSTEM, action="x", subject="kept:2")
    db.session.commit()
    assert _subjects() == ["kept:1", "kept:2"]
    assert audit.verify(db.session) == (2, None)


def test_a_rolled_back_transaction_appends_nothing(app: Flask) -> None:
    audit.record(db.session, actor=SYSTEM, action="x", subject="never")
    db.session.rollback()
    db.session.commit()
    assert _subjects() == []


def test_readers_of_the_chain_see_their_own_queued_events(app: Flask) -> None:
    audit.record(db.session, actor=SYSTEM, action="x", subject="s:9")
    assert [e.subject for e in audit.events_for(db.session, "s:9")] == ["s:9"]


@contextmanager
def _statements() -> Iterator[list[str]]:
    """The SQL the session's connection runs meanwhile."""
    seen: list[str] = []

    def note(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        seen.append(" ".join(statement.split()))

    engine = db.session.get_bind()
    sa.event.listen(engine, "before_cursor_execute", note)
    try:
        yield seen
    finally:
        sa.event.remove(engine, "before_cursor_execute", note)


def test_taking_and_reviewing_an_application_lock_only_the_chain_head_and_last(
    app: Flask, world: World
) -> None:
    if db.session.get_bind().dialect.name != "postgresql":
        pytest.skip("row locks are PostgreSQL's (SQLite serialises writers on the file)")
    world.student("A1")
    officer = world.actor("officer")
    audit.record(db.session, actor=SYSTEM, action="x", subject="s:0")
    db.session.commit()  # the chain's head row exists (its first use creates it)
    with _statements() as seen:
        made = submission.create_application(
            db.session, actor=officer, settings=service_settings(app), payload=body("A1")
        )
        actions.act(
            db.session,
            actor=officer,
            settings=service_settings(app),
            application_id=made.id,
            request=ActionRequest(action="review", version=made.version),
        )
        db.session.commit()
    locks = [i for i, s in enumerate(seen) if re.search(r"FROM counters .*FOR UPDATE", s)]
    writes = [
        i
        for i, s in enumerate(seen)
        if s.startswith(("INSERT", "UPDATE")) and "audit_events" not in s and "counters" not in s
    ]
    assert locks and min(locks) > max(writes), (
        "counters (only the chain head) are locked after every other write"
    )
    assert [s for s in seen if "INSERT INTO audit_events" in s], "the events were appended"
    # one round trip holds the lock until commit: the statement that takes the head also appends and moves it
    assert [seen[i] for i in locks] == [s for s in seen if "audit_events" in s or "counters" in s]
    assert all("INSERT INTO audit_events" in seen[i] and "UPDATE counters" in seen[i] for i in locks)
