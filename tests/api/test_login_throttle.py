"""The sign-in throttle's backends (services.throttle): one contract for memory, database and Redis; the database
and Redis backends shared by several workers; Retry-After on every 429; the backend chosen by configuration.

Redis tests use the machine's Redis (127.0.0.1:6379, DB 3, a unique key prefix, deleted afterwards); without
it they skip, and under CI=true they fail.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import redis
import sqlalchemy as sa
from flask import Flask

from aidservice.extensions import db
from aidservice.models import LoginFailure, User
from aidservice.services.accounts.auth import hash_password
from aidservice.services.accounts.throttle import (
    DatabaseLoginGuard,
    MemoryLoginGuard,
    RedisLoginGuard,
    TooManyAttempts,
    guard_from_config,
    key_digests,
)
from aidservice.wiring import GUARD_KEY
from config import ConfigError, TestingConfig
from tests.conftest import TEST_REDIS_URL
from tests.world.factories import TEST_PASSWORD
from tests.world.feeds import scratch_database

REDIS_URL = TEST_REDIS_URL
SECRET = "throttle-test-secret"
BACKENDS = ("memory", "database", "redis")
Guard = MemoryLoginGuard | DatabaseLoginGuard | RedisLoginGuard


@pytest.fixture
def new_guard(request: pytest.FixtureRequest, backend: str) -> Callable[[], Guard]:
    """Make guards of one backend; guards made by one call of this fixture share their counts (as workers do)."""
    if backend == "memory":
        shared = MemoryLoginGuard()
        return lambda: shared  # one process: its workers would not share, so the contract uses one guard
    if backend == "database":
        request.getfixturevalue("app")
        return lambda: DatabaseLoginGuard(lambda: db.session(), SECRET)
    prefix = request.getfixturevalue("redis_prefix")
    return lambda: RedisLoginGuard(redis.Redis.from_url(REDIS_URL), SECRET, prefix=prefix)


def fail(guard: Guard, times: int, user: str = "officer", address: str | None = "10.0.0.1") -> None:
    for _ in range(times):
        guard.before_attempt(user, address)
        guard.after_failure(user, address)


@pytest.mark.parametrize("backend", BACKENDS)
def test_five_failures_lock_the_account_for_fifteen_minutes(new_guard: Callable[[], Guard]) -> None:
    guard = new_guard()
    fail(guard, 4)
    guard.before_attempt("officer", "10.0.0.1")  # four are allowed
    fail(guard, 1, address="10.0.0.2")
    with pytest.raises(TooManyAttempts) as locked:
        guard.before_attempt("officer", "10.0.0.3")  # from anywhere
    assert 14 * 60 < locked.value.retry_after <= 15 * 60
    assert locked.value.headers == {"Retry-After": str(locked.value.retry_after)}
    guard.before_attempt("someone-else", "10.0.0.3")


@pytest.mark.parametrize("backend", BACKENDS)
def test_thirty_failures_from_one_address_make_it_wait_a_minute_not_the_accounts(
    new_guard: Callable[[], Guard],
) -> None:
    """Issue 16 changed this: an address (a school's NAT) is slowed after 30 failures, not locked after 5."""
    guard = new_guard()
    for n in range(29):
        fail(guard, 1, user=f"a{n}", address="10.9.9.9")
    guard.before_attempt("a-new-one", "10.9.9.9")  # 29 failures over many accounts: not even slowed
    fail(guard, 1, user="a29", address="10.9.9.9")
    with pytest.raises(TooManyAttempts) as slowed:
        guard.before_attempt("a-new-one", "10.9.9.9")
    assert slowed.value.reason == "address" and 50 < slowed.value.retry_after <= 60
    guard.before_attempt("a1", "10.0.0.1")


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_success_clears_the_accounts_count(new_guard: Callable[[], Guard]) -> None:
    guard = new_guard()
    fail(guard, 4, address=None)
    guard.after_success("officer", None)
    fail(guard, 4, address=None)
    guard.before_attempt("officer", None)


@pytest.mark.parametrize("backend", BACKENDS)
def test_the_account_is_counted_whatever_the_case_of_its_name(new_guard: Callable[[], Guard]) -> None:
    guard = new_guard()
    for name in ("Officer", "OFFICER", " officer", "officer", "oFFicer"):
        fail(guard, 1, user=name, address=None)
    with pytest.raises(TooManyAttempts):
        guard.before_attempt("officer", None)


@pytest.mark.parametrize("backend", ["database", "redis"])
def test_workers_share_the_counts(new_guard: Callable[[], Guard]) -> None:
    first, second = new_guard(), new_guard()
    fail(first, 3)
    fail(second, 2)
    for worker in (first, second):
        with pytest.raises(TooManyAttempts):
            worker.before_attempt("officer", "10.0.0.7")


# ------------------------------------------------------------------ database backend


@pytest.mark.databases
def test_database_counts_restart_after_the_window_and_the_lock_ends(app: Flask, db_url: str) -> None:
    now = [datetime(2020, 10, 12, 9, 0, tzinfo=UTC)]
    guard = DatabaseLoginGuard(lambda: db.session(), SECRET, clock=lambda: now[0])
    fail(guard, 4)
    now[0] += timedelta(minutes=15)  # the window has passed: four more do not lock
    fail(guard, 4)
    guard.before_attempt("officer", "10.0.0.1")
    fail(guard, 1)
    with pytest.raises(TooManyAttempts) as locked:
        guard.before_attempt("officer", None)
    assert locked.value.retry_after == 15 * 60
    now[0] += timedelta(minutes=15)
    guard.before_attempt("officer", "10.0.0.1")


@pytest.mark.databases
def test_database_rows_hold_keyed_hashes_not_what_was_typed(app: Flask, db_url: str) -> None:
    guard = DatabaseLoginGuard(lambda: db.session(), SECRET)
    fail(guard, 1, user="my secret password", address="10.1.2.3")
    rows = {row.key: row.failures for row in db.session.execute(sa.select(LoginFailure)).scalars()}
    assert rows == dict.fromkeys(key_digests(SECRET, "my secret password", "10.1.2.3"), 1)
    assert all("secret" not in key and "10.1.2.3" not in key for key in rows)


@pytest.mark.databases
def test_database_prune_deletes_only_rows_with_nothing_in_force(app: Flask, db_url: str) -> None:
    now = [datetime(2020, 10, 12, 9, 0, tzinfo=UTC)]
    guard = DatabaseLoginGuard(lambda: db.session(), SECRET, clock=lambda: now[0])
    fail(guard, 5, user="locked", address=None)
    fail(guard, 1, user="old", address=None)
    now[0] += timedelta(minutes=16)
    fail(guard, 1, user="recent", address=None)
    assert guard.prune(db.session(), now[0]) == 2  # "old", and "locked" whose lock has ended
    assert db.session.execute(sa.select(sa.func.count()).select_from(LoginFailure)).scalar_one() == 1


@pytest.fixture
def scratch_url(db_url: str, tmp_path: Path) -> Iterator[str]:
    yield from scratch_database(db_url, tmp_path)


def _app_with_user(url: str, **env: str) -> Flask:
    application = create_committed(url, **env)
    with application.app_context():
        if db.session.execute(sa.select(User).where(User.username == "olga")).first() is None:
            db.session.add(User(username="olga", password_hash=hash_password(TEST_PASSWORD), role="auditor"))
            db.session.commit()
    return application


def create_committed(url: str, **env: str) -> Flask:
    from aidservice import create_app
    from config import REPO_ROOT

    return create_app(
        TestingConfig.from_env({"DATABASE_URL": url, "AID_RULES_DIR": str(REPO_ROOT / "rules"), **env})
    )


def _api_login(application: Flask, password: str, address: str = "10.0.0.1") -> Any:
    return application.test_client().post(
        "/api/v1/auth/login",
        json={"username": "olga", "password": password},
        environ_base={"REMOTE_ADDR": address},
    )


@pytest.mark.databases
def test_two_workers_on_one_database_share_the_lock(scratch_url: str) -> None:
    """Two apps (as two gunicorn workers) with the default production backend, each with its own connections."""
    first = _app_with_user(scratch_url, AID_LOGIN_THROTTLE="database")
    second = _app_with_user(scratch_url, AID_LOGIN_THROTTLE="database")
    assert isinstance(first.extensions[GUARD_KEY], DatabaseLoginGuard)
    statuses = [_api_login(first, "wrong password!", f"10.0.0.{i}").status_code for i in range(3)]
    statuses += [_api_login(second, "wrong password!", f"10.0.1.{i}").status_code for i in range(2)]
    assert statuses == [401] * 5
    for worker in (first, second):
        locked = _api_login(worker, TEST_PASSWORD, "10.0.2.1")
        assert locked.status_code == 429 and locked.mimetype == "application/problem+json"
        assert 14 * 60 < int(locked.headers["Retry-After"]) <= 15 * 60
    with first.app_context():
        assert db.session.execute(sa.select(sa.func.count()).select_from(LoginFailure)).scalar_one() == 6
        db.engine.dispose()
    with second.app_context():
        db.engine.dispose()


@pytest.mark.databases
def test_a_sign_in_after_failures_clears_the_accounts_row(scratch_url: str) -> None:
    application = _app_with_user(scratch_url, AID_LOGIN_THROTTLE="database")
    assert [_api_login(application, "wrong password!").status_code for _ in range(2)] == [401, 401]
    assert _api_login(application, TEST_PASSWORD).status_code == 200
    account_key = key_digests(application.config["SECRET_KEY"], "olga", None)[0]
    with application.app_context():
        keys = set(db.session.execute(sa.select(LoginFailure.key)).scalars())
        db.engine.dispose()
    assert account_key not in keys and len(keys) == 1  # the address keeps its count


@pytest.mark.databases
def test_web_sign_in_failures_are_counted_in_the_database(scratch_url: str) -> None:
    """The web form commits each failure's count too: the sixth attempt, from another worker, gets 429."""
    from tests.web.conftest import csrf_from

    first = _app_with_user(scratch_url, AID_LOGIN_THROTTLE="database")
    second = _app_with_user(scratch_url, AID_LOGIN_THROTTLE="database")

    def web_login(application: Flask, password: str) -> Any:
        client = application.test_client()
        token = csrf_from(client.get("/login").get_data(as_text=True))
        return client.post("/login", data={"csrf_token": token, "username": "olga", "password": password})

    assert [web_login(first, "wrong password!").status_code for _ in range(5)] == [401] * 5
    locked = web_login(second, TEST_PASSWORD)
    assert locked.status_code == 429 and 14 * 60 < int(locked.headers["Retry-After"]) <= 15 * 60
    assert _api_login(second, TEST_PASSWORD).status_code == 429  # the API shares the lock
    for worker in (first, second):
        with worker.app_context():
            db.engine.dispose()


# ------------------------------------------------------------------ Redis backend


def test_redis_locks_expire_by_themselves(redis_prefix: str) -> None:
    import time

    guard = RedisLoginGuard(
        redis.Redis.from_url(REDIS_URL), SECRET, prefix=redis_prefix, window=60, lockout=1
    )
    fail(guard, 5, address=None)
    with pytest.raises(TooManyAttempts) as locked:
        guard.before_attempt("officer", None)
    assert locked.value.retry_after == 1
    time.sleep(1.2)
    guard.before_attempt("officer", None)


def test_redis_keys_live_under_the_prefix_and_expire(redis_prefix: str) -> None:
    client = redis.Redis.from_url(REDIS_URL)
    guard = RedisLoginGuard(client, SECRET, prefix=redis_prefix)
    fail(guard, 1, user="my secret password", address="10.1.2.3")
    keys = sorted(k.decode() for k in client.scan_iter(match=redis_prefix + "*"))
    assert keys == sorted(
        f"{redis_prefix}login:fail:{k}" for k in key_digests(SECRET, "my secret password", "10.1.2.3")
    )
    assert all(0 < client.ttl(key) <= 15 * 60 for key in keys)


def test_redis_outage_lets_sign_ins_through_quickly_and_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    config = {
        "AID_LOGIN_THROTTLE": "redis",
        "AID_REDIS_URL": "redis://127.0.0.1:1/3",
        "AID_REDIS_PREFIX": "h3test:",
        "SECRET_KEY": SECRET,
    }
    guard = guard_from_config(config, lambda: db.session())  # nothing listens on port 1
    assert isinstance(guard, RedisLoginGuard)
    with caplog.at_level(logging.ERROR, logger="aidservice.services.accounts.throttle"):
        fail(guard, 6)
        guard.after_success("officer", None)
    assert (
        "Redis unavailable" in caplog.text and "officer" not in caplog.text and "10.0.0.1" not in caplog.text
    )


def test_two_workers_on_one_redis_share_the_lock(db_url: str, tmp_path: Path, redis_prefix: str) -> None:
    url = next(scratch_database(db_url, tmp_path))
    env = {"AID_REDIS_URL": REDIS_URL, "AID_REDIS_PREFIX": redis_prefix, "AID_LOGIN_THROTTLE": "redis"}
    first, second = _app_with_user(url, **env), _app_with_user(url, **env)
    assert isinstance(first.extensions[GUARD_KEY], RedisLoginGuard)
    statuses = [
        _api_login(worker, "wrong password!").status_code for worker in (first, second, first, second, first)
    ]
    assert statuses == [401] * 5
    locked = _api_login(second, TEST_PASSWORD)
    assert locked.status_code == 429 and 14 * 60 < int(locked.headers["Retry-After"]) <= 15 * 60
    for worker in (first, second):
        with worker.app_context():
            db.engine.dispose()


# ------------------------------------------------------------------ configuration


@pytest.mark.parametrize(
    ("env", "backend"),
    [
        ({}, "database"),
        ({"REDIS_URL": "redis://127.0.0.1:6379/3"}, "redis"),
        ({"AID_REDIS_URL": "redis://127.0.0.1:6379/3"}, "redis"),
        ({"AID_REDIS_URL": "redis://127.0.0.1:6379/3", "AID_LOGIN_THROTTLE": "database"}, "database"),
        ({"AID_LOGIN_THROTTLE": "memory"}, "memory"),
    ],
)
def test_the_backend_is_redis_when_configured_else_the_database(env: dict[str, str], backend: str) -> None:
    from config import DevelopmentConfig

    config = DevelopmentConfig.from_env(env)
    assert config.AID_LOGIN_THROTTLE == backend
    guard = guard_from_config(vars(config) | {"SECRET_KEY": SECRET}, lambda: db.session())
    expected = {"memory": MemoryLoginGuard, "database": DatabaseLoginGuard, "redis": RedisLoginGuard}[backend]
    assert isinstance(guard, expected)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"AID_LOGIN_THROTTLE": "files"}, "must be one of"),
        ({"AID_LOGIN_THROTTLE": "redis"}, "needs AID_REDIS_URL"),
    ],
)
def test_a_wrong_throttle_setting_is_refused_at_start(env: dict[str, str], message: str) -> None:
    from config import DevelopmentConfig

    with pytest.raises(ConfigError, match=message):
        DevelopmentConfig.from_env(env)


def test_tests_count_in_memory_unless_told_otherwise() -> None:
    assert (
        TestingConfig.from_env({"AID_REDIS_URL": "redis://127.0.0.1:6379/3"}).AID_LOGIN_THROTTLE == "memory"
    )
