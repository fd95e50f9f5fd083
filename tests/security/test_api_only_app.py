"""An API-only app (`create_app(web=False)`) has the full app's protections (issue 17, item 2).

The composition root (aidservice.wiring) builds the sign-in throttle, the device tokens and the per-address
rate limits for every app that serves requests, whichever blueprints it registers; the security headers are
app-wide. So the API's sign-in is throttled with the web UI left out, and answers carry the same headers.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Flask
from werkzeug.test import TestResponse

from aidservice import create_app
from aidservice.extensions import db
from aidservice.models import User
from aidservice.services.accounts.auth import hash_password
from aidservice.services.accounts.devices import DeviceTokens
from aidservice.services.accounts.throttle import MAX_FAILURES, MemoryLoginGuard
from aidservice.wiring import DEVICES_KEY, GUARD_KEY
from config import REPO_ROOT, TestingConfig
from tests.world.factories import TEST_PASSWORD
from tests.world.feeds import scratch_database

WRONG = "not the password!"
SECURITY_HEADERS = (
    "Server",
    "Content-Security-Policy",
    "X-Content-Type-Options",
    "X-Frame-Options",
    "Referrer-Policy",
    "Cross-Origin-Opener-Policy",
    "Strict-Transport-Security",
    "Cache-Control",
)


@pytest.fixture
def scratch_url(db_url: str, tmp_path: Path) -> Iterator[str]:
    yield from scratch_database(db_url, tmp_path)


def build(url: str, *, web: bool, **env: str) -> Flask:
    """An app on the scratch database with the auditor `olga` (password TEST_PASSWORD)."""
    config = TestingConfig.from_env(
        {
            "DATABASE_URL": url,
            "AID_RULES_DIR": str(REPO_ROOT / "rules"),
            "AID_LOGIN_THROTTLE": "memory",
            **env,
        }
    )
    application = create_app(config, web=web)
    with application.app_context():
        if db.session.execute(sa.select(User).where(User.username == "olga")).first() is None:
            db.session.add(User(username="olga", password_hash=hash_password(TEST_PASSWORD), role="auditor"))
            db.session.commit()
    return application


def api_login(application: Flask, password: str, address: str = "10.0.0.1") -> TestResponse:
    return application.test_client().post(
        "/api/v1/auth/login",
        json={"username": "olga", "password": password},
        environ_base={"REMOTE_ADDR": address},
    )


def test_an_api_only_app_has_the_api_and_not_the_web_ui(scratch_url: str) -> None:
    application = build(scratch_url, web=False)
    assert "web" not in application.blueprints
    page = application.test_client().get("/login")
    assert page.status_code == 404
    assert page.mimetype == "application/problem+json"  # no web UI, so no HTML error page either
    assert isinstance(application.extensions[GUARD_KEY], MemoryLoginGuard)
    assert isinstance(application.extensions[DEVICES_KEY], DeviceTokens)
    assert api_login(application, TEST_PASSWORD).status_code == 200


def test_an_api_only_app_throttles_failed_sign_ins(scratch_url: str) -> None:
    application = build(scratch_url, web=False)
    statuses = [api_login(application, WRONG, f"10.0.0.{i}").status_code for i in range(MAX_FAILURES + 1)]
    assert statuses == [401] * MAX_FAILURES + [429]
    locked = api_login(application, TEST_PASSWORD, "10.0.1.1")  # the right password, an unrecognised device
    assert locked.status_code == 429
    assert int(locked.headers["Retry-After"]) > 0


def test_an_api_only_app_limits_sign_ins_per_address(scratch_url: str) -> None:
    application = build(scratch_url, web=False, AID_RATELIMIT_ENABLED="true", AID_RATELIMIT_LOGIN="2/minute")
    answers = [api_login(application, TEST_PASSWORD) for _ in range(3)]
    assert [a.status_code for a in answers] == [200, 200, 429]
    assert answers[0].headers["RateLimit-Limit"] == "2"
    assert int(answers[2].headers["Retry-After"]) >= 1


def test_an_api_only_app_sends_the_full_apps_security_headers(scratch_url: str) -> None:
    api_only, full = build(scratch_url, web=False), build(scratch_url, web=True)
    for method, url, body in (
        ("GET", "/api/v1/health", None),
        ("GET", "/api/v1/rules", None),
        ("GET", "/api/v1/no-such-thing", None),
        ("GET", "/api/v1/docs", None),
        ("POST", "/api/v1/auth/login", {"username": "olga", "password": WRONG}),
    ):
        ours = api_only.test_client().open(url, method=method, json=body)
        theirs = full.test_client().open(url, method=method, json=body)
        assert ours.status_code == theirs.status_code, url
        for name in SECURITY_HEADERS:
            assert ours.headers.get(name) == theirs.headers.get(name), (url, name)
        assert ours.headers["X-Frame-Options"] == "DENY"
