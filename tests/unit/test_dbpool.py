"""Pooled connections: pinged only after sitting idle; a dead one is replaced, a busy pool pays no round trip."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
import sqlalchemy as sa

from aidservice.dbpool import LAST_USED, ping_idle_connections
from tests.conftest import _libpq


def counted_pings(engine: sa.Engine, monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Every ping the dialect is asked for, in order (the real ping still runs)."""
    pings: list[Any] = []
    real = engine.dialect.do_ping

    def ping(dbapi_connection: Any) -> bool:
        pings.append(dbapi_connection)
        return real(dbapi_connection)

    monkeypatch.setattr(engine.dialect, "do_ping", ping)
    return pings


def age_pooled_connections(engine: sa.Engine, seconds: float) -> None:
    """Make every connection waiting in the pool look unused for `seconds` longer (no sleeping)."""
    for record in list(engine.pool._pool.queue):  # type: ignore[attr-defined]
        record.info[LAST_USED] -= seconds


@pytest.fixture
def sqlite_engine(tmp_path: Path) -> Iterator[sa.Engine]:
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'pool.sqlite3'}", poolclass=sa.QueuePool)
    ping_idle_connections(engine, idle_seconds=10)
    yield engine
    engine.dispose()


def use(engine: sa.Engine) -> int:
    with engine.connect() as connection:
        return connection.execute(sa.text("SELECT 1")).scalar_one()


def test_a_connection_used_a_moment_ago_is_handed_out_without_a_ping(
    sqlite_engine: sa.Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    pings = counted_pings(sqlite_engine, monkeypatch)
    for _ in range(5):
        assert use(sqlite_engine) == 1
    assert pings == []  # the first checkout made the connection; the next four found it just used


def test_a_connection_idle_past_the_limit_is_pinged_once_before_use(
    sqlite_engine: sa.Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    pings = counted_pings(sqlite_engine, monkeypatch)
    use(sqlite_engine)
    age_pooled_connections(sqlite_engine, 11)
    use(sqlite_engine)
    use(sqlite_engine)  # used again at once: no second ping
    assert len(pings) == 1


def test_idle_limit_zero_pings_every_reuse_as_pool_pre_ping_does(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'every.sqlite3'}", poolclass=sa.QueuePool)
    ping_idle_connections(engine, idle_seconds=0)
    pings = counted_pings(engine, monkeypatch)
    for _ in range(4):
        use(engine)
    engine.dispose()
    assert len(pings) == 3


def test_a_ping_failing_for_another_reason_than_a_disconnect_is_not_hidden(
    sqlite_engine: sa.Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    use(sqlite_engine)
    age_pooled_connections(sqlite_engine, 60)

    def broken(_dbapi_connection: Any) -> bool:
        raise RuntimeError("not a disconnect")

    monkeypatch.setattr(sqlite_engine.dialect, "do_ping", broken)
    with pytest.raises(RuntimeError, match="not a disconnect"):
        use(sqlite_engine)


def backend_pid(engine: sa.Engine) -> int:
    with engine.connect() as connection:
        return connection.execute(sa.text("SELECT pg_backend_pid()")).scalar_one()


def terminate(server: str, pid: int) -> None:
    with psycopg.connect(_libpq(server), autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (pid,))


def test_a_dead_idle_connection_is_replaced_before_the_request_sees_it(pg_server: str) -> None:
    engine = sa.create_engine(pg_server, pool_size=1, max_overflow=0)
    ping_idle_connections(engine, idle_seconds=10)
    try:
        dead = backend_pid(engine)
        terminate(pg_server, dead)  # a server restart, a failover or a firewall while the connection waited
        age_pooled_connections(engine, 11)
        assert backend_pid(engine) != dead  # no error: the ping found it dead and the pool connected afresh
    finally:
        engine.dispose()


def test_a_connection_that_died_while_busy_fails_one_use_then_the_pool_recovers(pg_server: str) -> None:
    engine = sa.create_engine(pg_server, pool_size=2, max_overflow=0)
    ping_idle_connections(engine, idle_seconds=10)
    try:
        dead = backend_pid(engine)
        terminate(pg_server, dead)  # just used, so not pinged: the statement meets the dead connection
        with pytest.raises(sa.exc.OperationalError) as raised:
            backend_pid(engine)
        assert raised.value.connection_invalidated  # a disconnect: SQLAlchemy drops the pool's connections
        assert backend_pid(engine) != dead  # (the error handler answers it with a 503, see tests/faults)
    finally:
        engine.dispose()


def test_the_app_checks_idle_connections_of_its_engine(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from aidservice import create_app
    from aidservice.extensions import db
    from config import TestingConfig

    url = f"sqlite:///{tmp_path / 'app.sqlite3'}"
    app = create_app(TestingConfig.from_env({"DATABASE_URL": url, "AID_DB_PING_IDLE_SECONDS": "0"}))
    with app.app_context():
        db.engine.dispose()  # the start-up key check (aidservice/keycheck.py) left a pooled connection: start empty
        pings = counted_pings(db.engine, monkeypatch)
        for _ in range(3):
            use(db.engine)
        db.engine.dispose()
    assert len(pings) == 2
