"""Shared fixtures: an app per test on a migrated database, each test inside a transaction rolled back after it.

Tests marked `@pytest.mark.databases` run once per backend: SQLite always, PostgreSQL when
TEST_DATABASE_URL is set or a server answers on 127.0.0.1:5432 (under CI=true a missing
PostgreSQL fails those tests instead of skipping them). Other tests use the SQLite database.
"""

from __future__ import annotations

import logging
import os
import shutil
import socket
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
import redis
from flask import Flask, g
from flask_migrate import upgrade
from flask_sqlalchemy.session import Session as FlaskSession
from sqlalchemy import orm
from sqlalchemy.engine import Connection, make_url

from aidservice import create_app
from aidservice.extensions import SQLITE_BEGIN, db
from config import REPO_ROOT, TestingConfig, database_url
from tests.log_scan_support import WORKER_SCANS, LogScan, LogScanTotals

BACKENDS = ("sqlite", "postgresql")
PG_HOST, PG_PORT = "127.0.0.1", 5432
RULES_DIR = REPO_ROOT / "rules"


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """`@pytest.mark.databases` tests get one run per backend (ids: sqlite, postgresql)."""
    if metafunc.definition.get_closest_marker("databases") and "db_url" in metafunc.fixturenames:
        metafunc.parametrize("db_url", BACKENDS, indirect=True, scope="session")


LOG_SCAN_TEST = "test_zz_log_scan.py::test_no_personal_data_reached_any_log_record"
SCAN = LogScan()
"""This process's scan: on the root logger from configuration to the end (tests/log_scan_support.py)."""


def pytest_configure(config: pytest.Config) -> None:
    logging.getLogger().addHandler(SCAN)


def pytest_unconfigure(config: pytest.Config) -> None:
    logging.getLogger().removeHandler(SCAN)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The log scan's verdict runs after every other test, so it judges the whole run's records."""
    last = [item for item in items if item.nodeid.endswith(LOG_SCAN_TEST)]
    items[:] = [item for item in items if item not in last] + last


@pytest.fixture(scope="session")
def log_scan() -> LogScan:
    """Every record of this process, from any logger, passes the personal-data scan."""
    return SCAN


# With pytest-xdist (`make test` runs two workers) the verdict test sees only its own worker's records: each
# worker hands its scan to the controller, which fails the run if any worker's records held personal data.


def pytest_sessionfinish(session: pytest.Session) -> None:
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:  # an xdist worker
        workeroutput["log_scan"] = SCAN.summary()
        return
    merged: LogScanTotals | None = session.config.stash.get(WORKER_SCANS, None)
    if merged is not None and merged.findings and session.exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: Any) -> None:
    """The controller adds up what each xdist worker's scan saw."""
    totals = node.config.stash.setdefault(WORKER_SCANS, LogScanTotals())
    totals.add(getattr(node, "workeroutput", {}).get("log_scan"))


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    totals: LogScanTotals | None = config.stash.get(WORKER_SCANS, None)
    if totals is None:
        return
    verdict = "the run fails" if totals.findings else "none held personal data"
    terminalreporter.write_line(
        f"log scan: {totals.records} records from {totals.workers} workers, "
        f"{len(totals.findings)} holding personal data: {verdict}",
        red=bool(totals.findings),
        green=not totals.findings,
    )
    for finding in totals.findings[:50]:
        terminalreporter.write_line(f"  personal data in a log record: {finding}", red=True)


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() == "true"


def _port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def _local_postgres_url() -> str | None:
    """The local PostgreSQL server's maintenance database, if the server answers."""
    if _port_open(PG_HOST, PG_PORT):
        return f"postgresql+psycopg://postgres@{PG_HOST}:{PG_PORT}/postgres"
    return None


def _libpq(url: str) -> str:
    """SQLAlchemy URL -> libpq URL for psycopg."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def _create_test_database(server_url: str) -> tuple[str, str]:
    """A fresh database per session (concurrent runs on one server don't meet); returns (url, name)."""
    name = f"aidservice_test_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    with psycopg.connect(_libpq(server_url), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return make_url(server_url).set(database=name).render_as_string(hide_password=False), name


def _drop_test_database(server_url: str, name: str) -> None:
    with psycopg.connect(_libpq(server_url), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _migrate(url: str) -> None:
    """Build the schema the way production does: the Alembic migrations, never create_all."""
    app = create_app(TestingConfig.from_env({"DATABASE_URL": url}))
    with app.app_context():
        upgrade()
        db.engine.dispose()


TEST_REDIS_URL = os.environ.get("AID_TEST_REDIS_URL", "redis://127.0.0.1:6379/7")
"""The local Redis database the tests may write to (under a prefix of their own, see `redis_prefix`)."""


@pytest.fixture
def redis_prefix() -> Iterator[str]:
    """A key prefix of this test on TEST_REDIS_URL; every key holding it is deleted afterwards (skipped without
    Redis, except under CI=true)."""
    client = redis.Redis.from_url(TEST_REDIS_URL, socket_timeout=2, socket_connect_timeout=2)
    try:
        client.ping()
    except redis.RedisError as exc:
        message = f"Redis does not answer at {TEST_REDIS_URL} ({type(exc).__name__})"
        if in_ci():
            pytest.fail(message + " (CI=true: Redis is required)")
        pytest.skip(message)
    prefix = f"aidtest:{uuid.uuid4().hex[:12]}:"
    try:
        yield prefix
    finally:
        keys = list(
            client.scan_iter(match=f"*{prefix}*")
        )  # Flask-Limiter puts its own word before the prefix
        if keys:
            client.delete(*keys)
        client.close()


@pytest.fixture
def pg_server() -> str:
    """The local PostgreSQL server's maintenance URL, for tests that need a server of their own (skipped
    without one, except in CI)."""
    server = _local_postgres_url()
    if server is None:
        if in_ci():
            pytest.fail("PostgreSQL is required in CI")
        pytest.skip("PostgreSQL does not answer")
    return server


@pytest.fixture(scope="session")
def db_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A migrated database for the session: SQLite by default, PostgreSQL when parametrized so."""
    backend = getattr(request, "param", "sqlite")
    if backend == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'aidservice.sqlite3'}"
        _migrate(url)
        yield url
        return
    if os.environ.get("TEST_DATABASE_URL"):
        url = database_url({"DATABASE_URL": os.environ["TEST_DATABASE_URL"]})
        _migrate(url)
        yield url
        return
    server = _local_postgres_url()
    if server is None:
        message = f"PostgreSQL does not answer on {PG_HOST}:{PG_PORT} and TEST_DATABASE_URL is not set"
        if in_ci():
            pytest.fail(message + " (CI=true: PostgreSQL is required)")
        pytest.skip(message)
    url, name = _create_test_database(server)
    try:
        _migrate(url)
        yield url
    finally:
        _drop_test_database(server, name)


class ConnectionBoundSession(FlaskSession):
    """Flask-SQLAlchemy's session routes by bind key and ignores `bind`; tests pin it to one connection."""

    def get_bind(self, mapper=None, clause=None, bind=None, **kwargs):  # type: ignore[no-untyped-def]
        return bind if bind is not None else self.bind


def _bind_session_to(connection: Connection) -> orm.scoped_session:
    """A session whose commits are savepoints inside the test's outer transaction."""
    factory = orm.sessionmaker(
        class_=ConnectionBoundSession, db=db, bind=connection, join_transaction_mode="create_savepoint"
    )
    return orm.scoped_session(factory)  # thread-local: a test and its test client share one thread


def make_config(db_url: str, **env: str) -> TestingConfig:
    """TestingConfig for `db_url` plus extra environment variables."""
    return TestingConfig.from_env({"DATABASE_URL": db_url, "AID_RULES_DIR": str(RULES_DIR), **env})


@pytest.fixture
def app_factory(db_url: str) -> Callable[..., Flask]:
    """Build another app (on the test database unless told otherwise) without the transaction wrapper."""

    def build(url: str | None = None, **env: str) -> Flask:
        return create_app(make_config(url or db_url, **env))

    return build


@pytest.fixture
def app_env() -> dict[str, str]:
    """Extra environment for the `app` fixture; override in a test module to change settings."""
    return {}


def _fresh_g() -> None:
    """pytest-flask keeps one app context for a whole test, so `g` would outlive a request; not in production."""
    g.__dict__.clear()


@pytest.fixture
def app(db_url: str, app_env: dict[str, str]) -> Iterator[Flask]:
    """The app on the session's database; everything a test writes is rolled back afterwards."""
    application = create_app(make_config(db_url, **app_env))
    application.before_request_funcs.setdefault(None, []).insert(0, _fresh_g)
    with application.app_context():
        # Deferred on SQLite: the harness's outer transaction takes the write lock at its first write, as before
        # writes began IMMEDIATE, so a second app a test builds on this database may still read and write.
        connection = db.engine.connect().execution_options(**{SQLITE_BEGIN: "DEFERRED"})
        outer = connection.begin()
        original = db.session
        db.session = _bind_session_to(connection)
        try:
            yield application
        finally:
            db.session.remove()
            db.session = original
            outer.rollback()
            connection.close()
            db.engine.dispose()


@pytest.fixture
def rules_copy(tmp_path: Path) -> Path:
    """A private copy of the rules directory that a test may change."""
    target = tmp_path / "rules"
    shutil.copytree(RULES_DIR, target)
    return target


@pytest.fixture
def broken_rules(rules_copy: Path) -> Path:
    """A copy of the rules with one bad fact (an unknown type) in zz_broken.yaml, line 2."""
    (rules_copy / "zz_broken.yaml").write_text(
        "facts:\n  favourite_colour: {type: colour, source: roster, label: 颜色}\n", encoding="utf-8"
    )
    return rules_copy
