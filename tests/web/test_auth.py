"""Signing in and out of the web UI: the session cookie, CSRF on every form, throttled failures, headers."""

from __future__ import annotations

import re
from urllib.parse import unquote

import pytest
from flask import Flask
from flask.testing import FlaskClient

from aidservice.extensions import db
from aidservice.models import AuditEvent, AuthToken, User
from aidservice.services.accounts.throttle import MemoryLoginGuard
from aidservice.wiring import GUARD_KEY
from tests.web.conftest import csrf, csrf_from
from tests.world import web as w

pytestmark = pytest.mark.databases  # SQLite always, PostgreSQL when it answers


def login(client: FlaskClient, username: str, password: str = w.PASSWORD, next_: str = "") -> object:
    token = csrf(client, "/login")
    return client.post(
        "/login", data={"csrf_token": token, "username": username, "password": password, "next": next_}
    )


def test_login_sets_a_safe_cookie_and_logout_ends_the_session(
    app: Flask, client: FlaskClient, world: w.World
) -> None:
    response = login(client, "officer1")
    assert response.status_code == 302 and response.headers["Location"] == "/"
    [cookie] = [
        c for c in response.headers.getlist("Set-Cookie") if c.startswith("aid_session=")
    ]  # beside aid_device
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie  # testing: plain HTTP
    page = client.get("/")
    assert page.status_code == 200 and "officer1" in page.get_data(as_text=True)
    assert db.session.query(AuditEvent).filter_by(action="auth.login", subject="user:officer1").count() == 1

    out = client.post("/logout", data={"csrf_token": csrf_from(page.get_data(as_text=True))})
    assert out.status_code == 302 and out.headers["Location"] == "/login"
    assert client.get("/").status_code == 302  # signed out
    user = db.session.query(User).filter_by(username="officer1").one()
    newest = db.session.query(AuthToken).filter_by(user_id=user.id).order_by(AuthToken.id.desc()).first()
    assert newest is not None and newest.revoked_at is not None  # the login's token is revoked
    assert db.session.query(AuditEvent).filter_by(action="auth.logout", subject="user:officer1").count() == 1


def test_production_cookies_are_secure_and_the_settings_are_checked() -> None:
    from config import ConfigError, DevelopmentConfig, ProductionConfig
    from tests.production_keys import PRODUCTION_SECRETS

    config = ProductionConfig.from_env(PRODUCTION_SECRETS)
    assert config.SESSION_COOKIE_SECURE is True and config.SESSION_COOKIE_HTTPONLY is True
    assert config.SESSION_COOKIE_SAMESITE == "Lax"
    plain = ProductionConfig.from_env({**PRODUCTION_SECRETS, "AID_SECURE_COOKIES": "false"})
    assert plain.SESSION_COOKIE_SECURE is False
    assert DevelopmentConfig.from_env({"AID_SECURE_COOKIES": "yes"}).SESSION_COOKIE_SECURE is True
    with pytest.raises(ConfigError, match="AID_SECURE_COOKIES"):
        DevelopmentConfig.from_env({"AID_SECURE_COOKIES": "sometimes"})
    with pytest.raises(ConfigError, match="AID_UI_LANGUAGE"):
        DevelopmentConfig.from_env({"AID_UI_LANGUAGE": "fr"})


def test_wrong_password_says_so_and_keeps_the_username(client: FlaskClient, world: w.World) -> None:
    response = login(client, "officer1", "not the password")
    assert response.status_code == 401
    text = response.get_data(as_text=True)
    assert "用户名或密码错误。" in text
    assert 'value="officer1"' in text and "not the password" not in text
    assert client.get("/").status_code == 302


def test_empty_fields_are_marked_next_to_the_field(client: FlaskClient, world: w.World) -> None:
    token = csrf(client, "/login")
    response = client.post("/login", data={"csrf_token": token, "username": "officer1", "password": ""})
    assert response.status_code == 422
    text = response.get_data(as_text=True)
    assert re.search(r'id="password-error">\s*<p class="error">请输入密码</p>', text)
    assert 'value="officer1"' in text


def test_five_failures_lock_the_account_for_fifteen_minutes(
    app: Flask, client: FlaskClient, world: w.World
) -> None:
    app.extensions[GUARD_KEY] = MemoryLoginGuard()
    for _attempt in range(5):
        assert login(client, "officer1", "wrong password!").status_code == 401
    locked = login(client, "officer1")  # even the right password, while locked
    assert locked.status_code == 429
    assert "登录失败次数过多，请 15 分钟后再试。" in locked.get_data(as_text=True)
    assert int(locked.headers["Retry-After"]) > 14 * 60
    assert client.get("/").status_code == 302


def test_thirty_failures_from_one_address_slow_the_address(
    app: Flask, client: FlaskClient, world: w.World
) -> None:
    """Issue 16: thirty failures (was five) make the address wait a minute (was fifteen)."""
    app.extensions[GUARD_KEY] = MemoryLoginGuard()
    for n in range(30):  # a spray over several accounts
        assert login(client, f"a{n}", "wrong password!").status_code == 401
    assert login(client, "officer2").status_code == 429
    other = app.test_client()
    token = csrf(other, "/login")
    elsewhere = other.post(
        "/login",
        data={"csrf_token": token, "username": "officer2", "password": w.PASSWORD},
        environ_base={"REMOTE_ADDR": "10.0.0.9"},
    )
    assert elsewhere.status_code == 302  # the account itself is not locked


@pytest.mark.parametrize(
    "url",
    [
        "/login",
        "/logout",
        "/students/S1-001/apply",
        "/students/S1-001/id-number",
        "/students/import",
        "/applications/1/review",
    ],
)
def test_a_post_without_a_valid_csrf_token_is_refused(app: Flask, world: w.World, url: str) -> None:
    from tests.web.conftest import sign_in

    client = sign_in(app.test_client(), world, "officer1")
    for data in ({}, {"csrf_token": "forged"}):
        response = client.post(url, data={**data, "username": "officer1", "password": w.PASSWORD})
        assert response.status_code == 400, (url, data)
        assert "表单已过期或来源无法验证" in response.get_data(as_text=True)
    assert db.session.query(AuditEvent).filter_by(action="student.id_number.read").count() == 0


def test_a_token_from_another_session_is_refused(app: Flask, world: w.World) -> None:
    from tests.web.conftest import sign_in

    other = sign_in(app.test_client(), world, "officer2")
    foreign = csrf(other, "/")
    client = sign_in(app.test_client(), world, "officer1")
    response = client.post("/students/S1-001/id-number", data={"csrf_token": foreign})
    assert response.status_code == 400


@pytest.mark.parametrize(
    "target", ["https://evil.example/", "//evil.example/x", "/api/v1/rules", "javascript:x"]
)
def test_login_does_not_redirect_off_the_site(client: FlaskClient, world: w.World, target: str) -> None:
    response = login(client, "officer1", next_=target)
    assert response.status_code == 302 and response.headers["Location"] == "/"


def test_login_returns_to_the_page_asked_for(client: FlaskClient, world: w.World) -> None:
    first = client.get("/students?q=王")
    assert first.status_code == 302
    assert "next=" in first.headers["Location"]
    page = client.get(first.headers["Location"])
    assert 'value="/students?q=' in page.get_data(as_text=True)
    response = login(client, "officer1", next_="/students?q=王")
    assert unquote(response.headers["Location"]) == "/students?q=王"


def test_revoked_login_ends_the_web_session(app: Flask, world: w.World) -> None:
    from aidservice.services.accounts.accounts import deactivate_user
    from tests.web.conftest import sign_in

    client = sign_in(app.test_client(), world, "officer1")
    assert client.get("/").status_code == 200
    deactivate_user(db.session, actor=w.SYSTEM, username="officer1")
    db.session.commit()
    response = client.get("/students")
    assert response.status_code == 302
    assert "登录已过期" in client.get(response.headers["Location"]).get_data(as_text=True)


def test_pages_carry_a_strict_content_security_policy(app: Flask, world: w.World) -> None:
    from tests.web.conftest import sign_in

    client = sign_in(app.test_client(), world, "officer1")
    for url in ("/", "/login", "/no-such-page"):
        response = client.get(url, follow_redirects=True)
        policy = response.headers["Content-Security-Policy"]
        assert (
            "script-src 'self'" in policy and "style-src 'self'" in policy and "unsafe-inline" not in policy
        )
        assert response.headers["X-Frame-Options"] == "DENY"
        assert response.headers["Cache-Control"] == "no-store"
    api = client.get("/api/v1/health")
    assert (
        "Content-Security-Policy" not in api.headers
        or "style-src 'self'" not in api.headers["Content-Security-Policy"]
    )
