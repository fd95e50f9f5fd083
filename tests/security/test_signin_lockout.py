"""Sign-in throttling that strangers cannot turn against users (issue 16, item 6; OWASP's device cookies).

A stranger who knows a username fails twenty times from devices the account has never signed in from: the owner,
on a device that signed in before (the web form's `aid_device` cookie, the API's `device` field), signs in at
once; the owner on a new device is told to wait and where they can still sign in. A known device that fails
itself is locked alone. A forged, expired, altered, other account's or revoked device token is no token. Many
officers behind one school NAT address are slowed for a minute, never locked out. Each probe runs on every
throttle backend (memory, database, Redis on DB 7 under a key prefix of its own, deleted afterwards) and both
databases, and nothing it does puts a password or a device token into a log record.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

import pytest
import redis
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from aidservice.extensions import db
from aidservice.models import LoginFailure, User
from aidservice.services.accounts.auth import hash_password
from aidservice.services.accounts.devices import DeviceTokens
from aidservice.services.accounts.throttle import DatabaseLoginGuard, MemoryLoginGuard, RedisLoginGuard
from aidservice.wiring import GUARD_KEY
from tests.conftest import TEST_REDIS_URL
from tests.timing_support import FAST
from tests.web.conftest import csrf_from
from tests.world.factories import TEST_PASSWORD, make_user

pytestmark = pytest.mark.databases
REDIS_URL = TEST_REDIS_URL
BACKENDS = ("memory", "database", "redis")
WRONG = "not the password!"
OWNER_ADDRESS = "10.0.0.1"
NEW_PASSWORD = "another horse battery staple"


@pytest.fixture(params=BACKENDS)
def guarded(request: pytest.FixtureRequest, app: Flask) -> Flask:
    """The app with a fresh throttle of one backend, and the owner `olga` (password TEST_PASSWORD)."""
    secret = app.config["SECRET_KEY"]
    if request.param == "memory":
        guard: Any = MemoryLoginGuard()
    elif request.param == "database":
        guard = DatabaseLoginGuard(lambda: db.session(), secret)
    else:
        prefix = request.getfixturevalue("redis_prefix")
        guard = RedisLoginGuard(redis.Redis.from_url(REDIS_URL), secret, prefix=prefix)
    app.extensions[GUARD_KEY] = guard
    make_user(db.session, "auditor", username="olga")
    make_user(db.session, "auditor", username="oscar")
    db.session.commit()
    return app


def api_login(
    app: Flask, password: str, device: str | None = None, address: str = OWNER_ADDRESS, username: str = "olga"
) -> TestResponse:
    body = {"username": username, "password": password} | ({"device": device} if device else {})
    return app.test_client().post("/api/v1/auth/login", json=body, environ_base={"REMOTE_ADDR": address})


def web_login(
    client: FlaskClient, password: str, address: str = OWNER_ADDRESS, username: str = "olga"
) -> TestResponse:
    client.delete_cookie("aid_session")  # a fresh session, the device cookie kept
    token = csrf_from(client.get("/login").get_data(as_text=True))
    return client.post(
        "/login",
        data={"csrf_token": token, "username": username, "password": password},
        environ_base={"REMOTE_ADDR": address},
    )


def strangers_fail(app: Flask, times: int = 20) -> list[int]:
    """A stranger's wrong passwords for olga, each from an address and a client never seen before."""
    return [
        api_login(app, WRONG, address=f"10.66.{n // 250}.{n % 250 + 1}").status_code for n in range(times)
    ]


def known_device(app: Flask) -> str:
    """Olga signs in once through the API; the device token her client keeps."""
    first = api_login(app, TEST_PASSWORD)
    assert first.status_code == 200
    return first.json["device"]


def timed(call: Callable[[], TestResponse]) -> tuple[TestResponse, float]:
    start = time.perf_counter()
    response = call()
    return response, time.perf_counter() - start


def failure_rows() -> int:
    return db.session.execute(sa.select(sa.func.count()).select_from(LoginFailure)).scalar_one()


# ------------------------------------------------------------------ the lockout scenario


def test_a_strangers_twenty_failures_do_not_stop_the_owners_known_device_on_the_api(guarded: Flask) -> None:
    device = known_device(guarded)
    assert strangers_fail(guarded) == [401] * 5 + [429] * 15
    owner = api_login(guarded, TEST_PASSWORD, device=device)
    assert owner.status_code == 200 and set(owner.json) == {"token", "expires_at", "device", "user"}
    assert owner.json["device"] != device  # a new token on every sign-in
    newcomer, elapsed = timed(lambda: api_login(guarded, TEST_PASSWORD))
    assert newcomer.status_code == 429 and newcomer.mimetype == "application/problem+json" and elapsed < FAST
    assert 14 * 60 < int(newcomer.headers["Retry-After"]) <= 15 * 60
    assert "device you have signed in with before" in newcomer.json["detail"]


def test_a_strangers_twenty_failures_do_not_stop_the_owners_known_device_on_the_web_form(
    guarded: Flask,
) -> None:
    owner = guarded.test_client()
    assert web_login(owner, TEST_PASSWORD).status_code == 302
    cookie = owner.get_cookie("aid_device")
    assert cookie is not None and cookie.http_only and cookie.same_site == "Strict"
    strangers = [
        web_login(guarded.test_client(), WRONG, address=f"10.66.0.{n + 1}").status_code for n in range(20)
    ]
    assert strangers == [401] * 5 + [429] * 15
    assert web_login(owner, TEST_PASSWORD).status_code == 302
    newcomer, elapsed = timed(lambda: web_login(guarded.test_client(), TEST_PASSWORD))
    assert (
        newcomer.status_code == 429
        and elapsed < FAST
        and 14 * 60 < int(newcomer.headers["Retry-After"]) <= 15 * 60
    )
    assert "在以前登录过的设备上仍可登录。" in newcomer.get_data(as_text=True)


def test_a_known_device_that_fails_itself_is_locked_alone(guarded: Flask) -> None:
    laptop, phone = known_device(guarded), known_device(guarded)
    assert [api_login(guarded, WRONG, device=laptop).status_code for _ in range(6)] == [401] * 5 + [429]
    locked, elapsed = timed(lambda: api_login(guarded, TEST_PASSWORD, device=laptop))
    assert locked.status_code == 429 and elapsed < FAST and "from this device" in locked.json["detail"]
    assert 14 * 60 < int(locked.headers["Retry-After"]) <= 15 * 60
    assert api_login(guarded, TEST_PASSWORD, device=phone).status_code == 200  # her other device
    assert api_login(guarded, TEST_PASSWORD).status_code == 200  # and a new one: the account is not locked


def _forged(app: Flask, token: str) -> str:
    head, _, signature = token.rpartition(".")
    return f"{head}.{'A' if signature[0] != 'A' else 'B'}{signature[1:]}"


def _expired(app: Flask, token: str) -> str:
    olga = db.session.execute(sa.select(User).where(User.username == "olga")).scalar_one()
    old = DeviceTokens(app.config["SECRET_KEY"], clock=lambda: time.time() - 181 * 24 * 3600)
    return old.issue(olga)


def _other_account(app: Flask, token: str) -> str:
    other = api_login(app, TEST_PASSWORD, username="oscar")
    assert other.status_code == 200
    return other.json["device"]


def _other_secret(app: Flask, token: str) -> str:
    olga = db.session.execute(sa.select(User).where(User.username == "olga")).scalar_one()
    return DeviceTokens("some other service's secret").issue(olga)


def _after_password_change(app: Flask, token: str) -> str:
    olga = db.session.execute(sa.select(User).where(User.username == "olga")).scalar_one()
    olga.password_hash = hash_password(NEW_PASSWORD)
    db.session.commit()
    return token


def _garbage(app: Flask, token: str) -> str:
    return "1.x.2.y"


@pytest.mark.parametrize(
    "spoil",
    [_forged, _expired, _other_account, _other_secret, _after_password_change, _garbage],
    ids=["forged", "expired", "other-account", "other-secret", "revoked-by-password-change", "garbage"],
)
def test_a_bad_device_token_counts_as_an_unknown_device(
    guarded: Flask, spoil: Callable[[Flask, str], str]
) -> None:
    password = NEW_PASSWORD if spoil is _after_password_change else TEST_PASSWORD
    bad = spoil(guarded, known_device(guarded))
    assert [api_login(guarded, WRONG, device=bad, address=f"10.7.0.{n}").status_code for n in range(5)] == [
        401
    ] * 5
    refused, elapsed = timed(lambda: api_login(guarded, password, device=bad))
    assert (
        refused.status_code == 429
        and elapsed < FAST
        and "device you have signed in with before" in refused.json["detail"]
    )
    assert api_login(guarded, password).status_code == 429  # the failures went to the unrecognised devices


def test_an_oversized_device_token_is_a_422_naming_device(guarded: Flask) -> None:
    response, elapsed = timed(lambda: api_login(guarded, TEST_PASSWORD, device="1." + "A" * 5000))
    assert response.status_code == 422 and set(response.json["errors"]) == {"device"} and elapsed < FAST
    assert failure_rows() == 0


def test_a_web_device_cookie_holds_one_token_per_account_of_a_shared_computer(guarded: Flask) -> None:
    shared = guarded.test_client()
    assert web_login(shared, TEST_PASSWORD).status_code == 302
    assert web_login(shared, TEST_PASSWORD, username="oscar").status_code == 302
    assert web_login(shared, TEST_PASSWORD).status_code == 302
    cookie = shared.get_cookie("aid_device")
    assert cookie is not None and len(cookie.value.split("~")) == 2  # olga's newest, then oscar's
    for username in ("olga", "oscar"):
        assert [
            api_login(guarded, WRONG, username=username, address=f"10.8.0.{n}").status_code for n in range(5)
        ] == [401] * 5
        assert web_login(shared, TEST_PASSWORD, username=username).status_code == 302


# ------------------------------------------------------------------ one address, many officers


def test_an_address_with_many_officers_is_slowed_not_blocked(guarded: Flask) -> None:
    """A school's NAT: thirty officers mistype once each; the address waits a minute, known devices never."""
    nat = "192.0.2.10"
    device = known_device(guarded)
    guard = guarded.extensions[GUARD_KEY]
    for n in range(26):  # officers mistyping, counted as the sign-in service counts them (no argon2 wait)
        guard.after_failure(f"officer{n:02d}", nat)
    for n in range(3):  # three more mistype once through the API, then sign in from new devices
        assert api_login(guarded, WRONG, address=nat, username="olga" if n else "oscar").status_code == 401
        assert (
            api_login(guarded, TEST_PASSWORD, address=nat, username="olga" if n else "oscar").status_code
            == 200
        )
    assert (
        api_login(guarded, WRONG, address=nat, username="someone").status_code == 401
    )  # the thirtieth failure
    slowed, elapsed = timed(lambda: api_login(guarded, TEST_PASSWORD, address=nat, username="oscar"))
    assert slowed.status_code == 429 and elapsed < FAST and 0 < int(slowed.headers["Retry-After"]) <= 60
    assert "from this address" in slowed.json["detail"]
    assert api_login(guarded, TEST_PASSWORD, device=device, address=nat).status_code == 200  # a known device
    assert api_login(guarded, TEST_PASSWORD, address="192.0.2.11", username="oscar").status_code == 200


def test_the_address_wait_ends_after_a_minute() -> None:
    now = [1000.0]
    guard = MemoryLoginGuard(clock=lambda: now[0])
    for n in range(30):
        guard.after_failure(f"officer{n}", "192.0.2.10")
    with pytest.raises(Exception, match="from this address"):
        guard.before_attempt("officer99", "192.0.2.10")
    now[0] += 60
    guard.before_attempt("officer99", "192.0.2.10")


# ------------------------------------------------------------------ what is stored and logged


def test_the_database_counts_hold_no_device_token_nor_what_was_typed(app: Flask) -> None:
    app.extensions[GUARD_KEY] = DatabaseLoginGuard(lambda: db.session(), app.config["SECRET_KEY"])
    make_user(db.session, "auditor", username="olga")
    db.session.commit()
    device = known_device(app)
    nonce = device.split(".")[1]
    assert api_login(app, WRONG, device=device).status_code == 401
    assert api_login(app, WRONG).status_code == 401
    keys = list(db.session.execute(sa.select(LoginFailure.key)).scalars())
    assert len(keys) == 3 and all(len(k) == 64 and nonce not in k and "olga" not in k for k in keys)


def test_no_password_or_device_token_reaches_the_logs(
    guarded: Flask, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG):
        device = known_device(guarded)
        strangers_fail(guarded, 6)
        api_login(guarded, WRONG, device=device)
        renewed = api_login(guarded, TEST_PASSWORD, device=device).json["device"]
        web_login(guarded.test_client(), WRONG)
    assert caplog.records
    text = "\n".join(f"{r.getMessage()} {r.__dict__}" for r in caplog.records)
    for secret in (TEST_PASSWORD, WRONG, device, renewed, device.split(".")[1], device.split(".")[3]):
        assert secret not in text


def test_the_device_cookie_is_secure_when_configured(guarded: Flask) -> None:
    guarded.config["SESSION_COOKIE_SECURE"] = True  # AID_SECURE_COOKIES
    client = guarded.test_client()
    page = client.get("/login", base_url="https://localhost")
    response = client.post(
        "/login",
        base_url="https://localhost",
        headers={"Referer": "https://localhost/login"},
        data={
            "csrf_token": csrf_from(page.get_data(as_text=True)),
            "username": "olga",
            "password": TEST_PASSWORD,
        },
    )
    assert response.status_code == 302
    [cookie] = [c for c in response.headers.getlist("Set-Cookie") if c.startswith("aid_device=")]
    assert (
        "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Max-Age=" in cookie
    )
