"""A database that cannot serve (down, full, read-only) gives a clear 503/507 and a clean CLI error, never a 500.

These run in-process and fast: the PostgreSQL server is one that does not exist, the full SQLite disk is
`PRAGMA max_page_count` (SQLite's own SQLITE_FULL), the read-only file is SQLite's `mode=ro`. The same
faults made by a real server restart, a real full file system and a real read-only mount are in
tests/faults/test_outages.py.
"""

from __future__ import annotations

import logging
import re
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
import sqlalchemy as sa
from flask import Flask
from sqlalchemy import event, exc, orm

from aidservice.dbfaults import database_fault
from aidservice.extensions import db
from aidservice.models import AgencyRecord, AuditEvent, Determination, FeedBatch
from tests.world.factories import bearer, id_number, make_client
from tests.world.feeds import committed_app, count, person, record, school, scratch_database, student

FEED = "/api/v1/feeds/civil_affairs/batches"
NOWHERE = "postgresql+psycopg://postgres@127.0.0.1:1/none?connect_timeout=1"
STUDENTS = 20


def sqlite_error(statements: list[str], failing: str, **connect: Any) -> sqlite3.Error:
    """The error SQLite itself raises for `failing` after `statements` (a real result code, not a made-up one)."""
    conn = sqlite3.connect(":memory:", **connect)
    try:
        for statement in statements:
            conn.execute(statement)
        conn.execute(failing)
    except sqlite3.Error as error:
        return error
    finally:
        conn.close()
    raise AssertionError(f"{failing} did not fail")


def wrapped(orig: Exception, kind: type[exc.DBAPIError] = exc.OperationalError) -> exc.DBAPIError:
    return kind("SELECT 1", {}, orig)


def full_sqlite() -> sqlite3.Error:
    return sqlite_error(
        ["CREATE TABLE t (x)", "PRAGMA max_page_count = 2"], "INSERT INTO t SELECT zeroblob(100000)"
    )


def read_only_sqlite(tmp: Path) -> sqlite3.Error:
    sqlite3.connect(tmp / "ro.sqlite3").execute("CREATE TABLE t (x)").connection.close()
    conn = sqlite3.connect(f"file:{tmp / 'ro.sqlite3'}?mode=ro", uri=True)
    try:
        conn.execute("INSERT INTO t VALUES (1)")
    except sqlite3.Error as error:
        return error
    finally:
        conn.close()
    raise AssertionError("a read-only database took a write")


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        (lambda tmp: wrapped(psycopg.OperationalError("connection refused")), (503, "database-unavailable")),
        (
            lambda tmp: wrapped(psycopg.InterfaceError("the connection is closed"), exc.InterfaceError),
            (503, "database-unavailable"),
        ),
        (lambda tmp: wrapped(psycopg.errors.AdminShutdown()), (503, "database-unavailable")),
        (lambda tmp: wrapped(psycopg.errors.CannotConnectNow()), (503, "database-unavailable")),
        (lambda tmp: wrapped(psycopg.errors.ConnectionFailure()), (503, "database-unavailable")),
        (lambda tmp: wrapped(psycopg.errors.TooManyConnections()), (503, "database-unavailable")),
        (lambda tmp: wrapped(psycopg.errors.DiskFull()), (507, "database-full")),
        (
            lambda tmp: wrapped(psycopg.errors.ReadOnlySqlTransaction(), exc.InternalError),
            (503, "database-read-only"),
        ),
        (lambda tmp: psycopg.errors.AdminShutdown(), (503, "database-unavailable")),  # raw, as COPY raises it
        (lambda tmp: exc.TimeoutError("QueuePool limit reached"), (503, "database-unavailable")),
        (lambda tmp: wrapped(full_sqlite()), (507, "database-full")),
        (lambda tmp: wrapped(read_only_sqlite(tmp)), (503, "database-read-only")),
        # bugs and bad data stay what they are: a 500 (or the handler for them), never a "try again later"
        (lambda tmp: wrapped(psycopg.errors.UniqueViolation(), exc.IntegrityError), None),
        (lambda tmp: wrapped(psycopg.errors.UndefinedTable(), exc.ProgrammingError), None),
        (lambda tmp: wrapped(psycopg.errors.QueryCanceled()), None),
        (lambda tmp: psycopg.errors.UniqueViolation(), None),
        (lambda tmp: wrapped(sqlite_error([], "SELECT * FROM missing")), None),
        (lambda tmp: ValueError("not a database error"), None),
    ],
    ids=[
        "pg-refused",
        "pg-closed",
        "pg-admin-shutdown",
        "pg-starting-up",
        "pg-connection-failure",
        "pg-too-many-connections",
        "pg-disk-full",
        "pg-read-only",
        "pg-raw-admin-shutdown",
        "pool-timeout",
        "sqlite-full",
        "sqlite-read-only",
        "pg-unique",
        "pg-undefined-table",
        "pg-query-canceled",
        "pg-raw-unique",
        "sqlite-no-table",
        "not-database",
    ],
)
def test_faults_of_the_environment_are_told_apart_from_bugs(make: Any, expected: Any, tmp_path: Path) -> None:
    fault = database_fault(make(tmp_path))
    assert (None if fault is None else (fault.status, fault.type_suffix)) == expected


def assert_problem(response: Any, status: int, type_suffix: str) -> dict[str, Any]:
    """A problem+json naming the fault, with nothing internal in it (no SQL, no driver text, no ID numbers)."""
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    body = response.get_json()
    assert body["type"].endswith("/" + type_suffix) and body["status"] == status
    assert "nothing was saved" in body["detail"]
    text = response.get_data(as_text=True).lower()
    assert not any(
        leak in text for leak in ("select", "insert", "sqlite", "psycopg", "traceback", person(7001))
    )
    return body


# ------------------------------------------------------------------------------------------ server gone


def test_requests_get_503_and_health_says_unavailable_when_postgresql_is_down(
    caplog: pytest.LogCaptureFixture, rules_copy: Path
) -> None:
    app = committed_app(NOWHERE)
    client = app.test_client()
    health = client.get("/api/v1/health")
    assert health.status_code == 503 and health.headers["Retry-After"] == "5"
    assert health.get_json()["database"] == "unavailable" and health.get_json()["status"] == "degraded"
    with caplog.at_level(logging.WARNING):
        response = client.post(
            FEED,
            json={"batch_id": "B", "records": [record(person(1), "orphan")]},
            headers=bearer("aid_c_nonsense"),
        )
    assert_problem(response, 503, "database-unavailable")
    assert response.headers["Retry-After"] == "5"
    assert response.headers["X-Request-ID"] == response.get_json()["request_id"]
    logged = "\n".join(r.getMessage() + (r.exc_text or "") for r in caplog.records)
    assert "database fault database-unavailable" in logged and "Traceback" not in logged
    assert "SELECT" not in logged and "api_clients" not in logged  # the SQL (and its parameters) stays out


def test_the_web_ui_shows_a_page_not_a_stack_trace_when_postgresql_is_down() -> None:
    client = committed_app(NOWHERE).test_client()
    form = client.get("/login")
    assert form.status_code == 200  # the login form itself needs no database
    csrf = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', form.get_data(as_text=True))
    assert csrf is not None
    page = client.post("/login", data={"username": "someone", "password": "x" * 12, "csrf_token": csrf[1]})
    assert page.status_code == 503 and page.mimetype == "text/html"
    assert "Traceback" not in page.get_data(as_text=True)


def test_a_cli_command_exits_1_with_one_clear_line_when_postgresql_is_down() -> None:
    result = (
        committed_app(NOWHERE)
        .test_cli_runner()
        .invoke(args=["aid", "client", "create", "民政", "--source", "civil_affairs"])
    )
    assert result.exit_code == 1
    assert "Database unavailable" in result.output and "rolled back" in result.output
    assert "Traceback" not in result.output and "SELECT" not in result.output


# ------------------------------------------------------------------------------------------ SQLite faults


@pytest.fixture
def populated(db_url: str, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """A committed SQLite file with STUDENTS students and a civil_affairs client: (url, token)."""
    for url in scratch_database(db_url, tmp_path):
        app = committed_app(url)
        with app.app_context():
            at = school()
            for i in range(1, STUDENTS + 1):
                student(f"S{i:03d}", at, seed=i, guardians=[7000 + i])
            token = make_client(db.session, "civil_affairs")
            db.session.commit()
            db.engine.dispose()
        yield url, token


def batch(batch_id: str = "FULL-1") -> dict[str, Any]:
    records = [record(person(7000 + i), "subsistence_allowance") for i in range(1, STUDENTS + 1)]
    return {"batch_id": batch_id, "records": [*records, record(id_number(1), "orphan")]}


def written(app: Flask) -> tuple[int, int, int, int, str]:
    """Rows a batch writes, and SQLite's own verdict on the file."""
    with app.app_context():
        counts = (count(FeedBatch), count(AgencyRecord), count(Determination), count(AuditEvent))
        verdict = db.session.scalar(sa.text("PRAGMA integrity_check"))
        db.session.rollback()
        return (*counts, verdict)


def cap_pages(app: Flask) -> Any:
    """Every new connection may not grow the file beyond its current pages: the next write is SQLITE_FULL."""
    with app.app_context():
        pages = db.session.scalar(sa.text("PRAGMA page_count"))
        db.session.rollback()
        engine = db.engine
        db.engine.dispose()

    def cap(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.execute(f"PRAGMA max_page_count = {pages}")

    event.listen(engine, "connect", cap)
    return lambda: (event.remove(engine, "connect", cap), engine.dispose())


def test_a_full_sqlite_disk_gives_507_writes_nothing_and_the_retry_completes(
    populated: tuple[str, str],
) -> None:
    url, token = populated
    app = committed_app(url)
    before = written(app)
    lift = cap_pages(app)
    client = app.test_client()
    assert_problem(client.post(FEED, json=batch(), headers=bearer(token)), 507, "database-full")
    assert client.get("/api/v1/health").status_code == 200  # reading still works
    assert written(app) == before and before[-1] == "ok"
    lift()
    retry = client.post(FEED, json=batch(), headers=bearer(token))
    assert retry.status_code == 200, retry.get_json()
    assert retry.get_json()["accepted"] == STUDENTS + 1 and retry.get_json()["matched_students"] == STUDENTS
    assert written(app)[:3] == (1, STUDENTS + 1, STUDENTS) and written(app)[-1] == "ok"


def test_a_full_sqlite_disk_stops_a_cli_command_with_a_clear_message(db_url: str, tmp_path: Path) -> None:
    for url in scratch_database(db_url, tmp_path):  # empty: demo-data loads an empty database only
        app = committed_app(url)
        before = written(app)
        cap_pages(app)
        result = app.test_cli_runner().invoke(args=["aid", "demo-data", "--students", "200"])
        assert result.exit_code == 1, result.output
        assert "Database out of space (SQLITE_FULL)" in result.output and "Traceback" not in result.output
        assert written(app) == before


def test_a_read_only_sqlite_file_gives_503_for_writes_and_serves_reads(populated: tuple[str, str]) -> None:
    url, token = populated
    path = sa.engine.make_url(url).database
    app = committed_app(f"sqlite:///file:{path}?mode=ro&uri=true")
    client = app.test_client()
    response = client.post(FEED, json=batch(), headers=bearer(token))
    body = assert_problem(response, 503, "database-read-only")
    assert response.headers["Retry-After"] == "60" and "read-only" in body["detail"]
    assert client.get("/api/v1/health").get_json()["database"] == "ok"
    cli = app.test_cli_runner().invoke(args=["aid", "client", "create", "民政", "--source", "civil_affairs"])
    assert cli.exit_code == 1 and "Database read-only (SQLITE_READONLY)" in cli.output
    assert written(committed_app(url))[:3] == (0, 0, 0)


def test_a_database_lost_after_the_answer_was_made_does_not_turn_it_into_a_500(
    populated: tuple[str, str], monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """The server went away between the view's last query and the session's closing ROLLBACK (seen under load)."""
    url, token = populated
    app = committed_app(url)
    lost = psycopg.OperationalError("consuming input failed: server closed the connection unexpectedly")
    original, calls = orm.Session.close, []

    def close(self: orm.Session) -> None:
        calls.append(self)
        if len(calls) == 1:
            raise exc.OperationalError("ROLLBACK", {}, lost)
        original(self)

    monkeypatch.setattr(orm.Session, "close", close)
    with caplog.at_level(logging.WARNING):
        response = app.test_client().get("/api/v1/feeds/civil_affairs/outcomes", headers=bearer(token))
    assert response.status_code == 200 and response.get_json()["items"] == []
    assert calls and "database-unavailable (no-connection) while closing the session" in caplog.text
    with app.app_context():
        db.engine.dispose()
