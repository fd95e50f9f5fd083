"""Read-only routes run their statements without a transaction on PostgreSQL.

The hot reads (one application, one student, a list) run two or three statements; wrapped in a transaction
they cost two more round trips, BEGIN and ROLLBACK, each a wake-up of the server and of the worker. At
PostgreSQL's READ COMMITTED (the service's isolation level) every statement of a transaction takes a new
snapshot anyway, so statements run one by one see exactly what they would see inside it; reads take no locks
to hold. A route is marked with `@read_only`; a guard refuses any write in such a request (a programming
error: 500, nothing stored), so the mark cannot turn a write into one that skips the audit hook at commit.
The guard is armed on every database, so the whole test suite checks the marked routes; the autocommit is for
PostgreSQL only (SQLite's statements are in-process calls, and a test's session joined to an outer transaction
keeps it). On SQLite, where every other transaction begins IMMEDIATE (takes the write lock at once, see
aidservice.extensions), a read-only route's transaction begins DEFERRED: it takes no write lock, so in WAL mode
it neither waits for a writer nor makes one wait.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from flask import Flask, current_app, request
from sqlalchemy import Engine, event
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import ORMExecuteState, Session

from aidservice.extensions import SQLITE_BEGIN, db

F = TypeVar("F", bound=Callable[..., Any])
MARK = "_aid_read_only"
READ_ONLY = "aidservice.read_only"
"""session.info key: this session serves a read-only route and must not write."""


class WriteInReadOnlyRoute(RuntimeError):
    """A route marked @read_only tried to write."""


def read_only(view: F) -> F:
    """Mark a view that never writes (kept through functools.wraps by the decorators above it)."""
    setattr(view, MARK, True)
    return view


def read_only_when(predicate: Callable[[], bool]) -> Callable[[F], F]:
    """Mark a view that writes for some requests only (a list whose file download is audited): read-only when
    `predicate()` holds for the request."""

    def mark(view: F) -> F:
        setattr(view, MARK, predicate)
        return view

    return mark


def begin_read_only() -> None:
    """Before a read-only route: the guard armed; on PostgreSQL the session's connection in autocommit, on SQLite
    its transaction deferred (no write lock)."""
    view = current_app.view_functions.get(request.endpoint or "")
    mark = getattr(view, MARK, False)
    if not (mark() if callable(mark) else mark):
        return
    session = db.session()
    session.info[READ_ONLY] = True
    bind = session.get_bind()
    if not isinstance(bind, Engine) or session.in_transaction():
        return
    options = {"postgresql": {"isolation_level": "AUTOCOMMIT"}, "sqlite": {SQLITE_BEGIN: "DEFERRED"}}.get(
        bind.dialect.name
    )  # SQLite: no write lock, no wait
    if options is None:
        return
    try:
        session.connection(execution_options=options)
    except SQLAlchemyError:
        session.rollback()  # the database is down: the view meets it and answers (health says "unavailable")


def end_read_only(_error: BaseException | None) -> None:
    """Disarm the guard (a test's session outlives the request; a server's is discarded with it)."""
    if db.session.registry.has():
        db.session().info.pop(READ_ONLY, None)


def _refuse_statement(state: ORMExecuteState) -> None:
    if state.session.info.get(READ_ONLY) and not state.is_select:
        raise WriteInReadOnlyRoute(f"a read-only route ran a write: {state.statement.__class__.__name__}")


def _refuse_flush(session: Session, _context: Any, _instances: Any) -> None:
    if session.info.get(READ_ONLY) and (session.new or session.dirty or session.deleted):
        raise WriteInReadOnlyRoute("a read-only route changed rows")


def init_read_only(app: Flask) -> None:
    """Run read-only routes without a transaction; refuse writes in them (for every session, once)."""
    app.before_request(begin_read_only)
    app.teardown_request(end_read_only)
    if not event.contains(Session, "do_orm_execute", _refuse_statement):
        event.listen(Session, "do_orm_execute", _refuse_statement)
        event.listen(Session, "before_flush", _refuse_flush)
