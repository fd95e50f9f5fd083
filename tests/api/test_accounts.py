"""Accounts: `aid user create/deactivate`, login and logout, and what happens to tokens that expire or are revoked."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from aidservice.extensions import db
from aidservice.models import AuditEvent, AuthToken, User
from aidservice.services.accounts.accounts import login
from aidservice.services.accounts.auth import AuthenticationFailed, check_password
from tests.world.factories import TEST_PASSWORD, bearer, make_client, make_school, make_user

pytestmark = pytest.mark.databases

GOOD_PASSWORD = "a long enough secret"


def create_user(app: Flask, *args: str, password: str = GOOD_PASSWORD):  # type: ignore[no-untyped-def]
    return app.test_cli_runner().invoke(args=["aid", "user", "create", *args], input=password + "\n")


def events(action: str) -> list[AuditEvent]:
    return list(db.session.execute(sa.select(AuditEvent).where(AuditEvent.action == action)).scalars())


def user_named(username: str) -> User | None:
    return db.session.execute(sa.select(User).where(User.username == username)).scalar_one_or_none()


# ------------------------------------------------------------------ aid user create


@pytest.mark.parametrize(
    ("role", "scope"),
    [
        ("school_officer", ["--school", "S1"]),
        ("county_admin", ["--region", "320102"]),
        ("city_admin", ["--region", "320100"]),
        ("province_admin", ["--region", "320000"]),
        ("auditor", []),
    ],
)
def test_user_create_makes_an_account_of_each_role_with_its_scope(
    app: Flask, db_url: str, role: str, scope: list[str]
) -> None:
    make_school(db.session, "S1", "320102")
    result = create_user(app, "alice", "--role", role, *scope)
    assert result.exit_code == 0, result.output
    user = user_named("alice")
    assert user is not None and user.role == role and user.active
    assert check_password(user.password_hash, GOOD_PASSWORD)
    assert GOOD_PASSWORD not in user.password_hash


def test_user_create_is_audited_without_the_password(app: Flask, db_url: str) -> None:
    result = create_user(app, "carol", "--role", "auditor")
    assert result.exit_code == 0, result.output
    [event] = events("user.create")
    assert event.subject == "user:carol" and event.actor.startswith("system:cli:")
    assert event.summary == {"role": "auditor", "school_code": None, "region_code": None}
    assert GOOD_PASSWORD not in str(event.summary)


@pytest.mark.parametrize(
    ("password", "message"),
    [
        ("short1", "at least 12 characters"),
        ("1234567890123", "only digits"),
        ("", "at least 12 characters"),
        ("weak-account-2020", "must not contain the username"),
        ("Password2020!", "well-known password"),
        ("alllowercaseletters", "at least two kinds of character"),
    ],
)
def test_user_create_refuses_a_weak_password(app: Flask, db_url: str, password: str, message: str) -> None:
    result = create_user(app, "weak", "--role", "auditor", password=password)
    assert result.exit_code == 1
    assert "password" in result.output and message in result.output
    assert user_named("weak") is None


def test_user_create_reads_only_the_first_line_of_stdin(app: Flask, db_url: str) -> None:
    result = app.test_cli_runner().invoke(
        args=["aid", "user", "create", "dave", "--role", "auditor"], input=GOOD_PASSWORD + "\nsecond line\n"
    )
    assert result.exit_code == 0, result.output
    assert check_password(user_named("dave").password_hash, GOOD_PASSWORD)  # type: ignore[union-attr]


def test_user_create_refuses_an_unknown_role(app: Flask, db_url: str) -> None:
    result = create_user(app, "eve", "--role", "superuser")
    assert result.exit_code == 2 and "superuser" in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--role", "school_officer"], "needs --school"),
        (["--role", "school_officer", "--school", "NOPE"], "unknown school NOPE"),
        (["--role", "school_officer", "--school", "S1", "--region", "320100"], "give no region"),
        (["--role", "county_admin", "--region", "320100"], "needs a county; 320100 is a city"),
        (["--role", "city_admin", "--region", "320102"], "needs a city; 320102 is a county"),
        (["--role", "province_admin", "--region", "320100"], "needs a province"),
        (["--role", "city_admin"], "needs --region"),
        (["--role", "city_admin", "--region", "329900"], "unknown region 329900"),
        (["--role", "city_admin", "--region", "320100", "--school", "S1"], "give no school"),
        (["--role", "auditor", "--region", "320000"], "give neither"),
    ],
)
def test_user_create_refuses_a_scope_that_does_not_fit_the_role(
    app: Flask, db_url: str, args: list[str], message: str
) -> None:
    make_school(db.session, "S1", "320102")
    result = create_user(app, "frank", *args)
    assert result.exit_code == 1 and message in result.output, result.output
    assert user_named("frank") is None


def test_user_create_refuses_a_taken_username(app: Flask, db_url: str) -> None:
    assert create_user(app, "gina", "--role", "auditor").exit_code == 0
    again = create_user(app, "gina", "--role", "auditor")
    assert again.exit_code == 1 and "already exists" in again.output


def test_user_create_refuses_a_malformed_username(app: Flask, db_url: str) -> None:
    result = create_user(app, "has space", "--role", "auditor")
    assert result.exit_code == 1 and "username" in result.output


# ------------------------------------------------------------------ login / logout


def test_login_returns_a_token_that_authenticates_later_requests(client: FlaskClient, db_url: str) -> None:
    make_school(db.session, "S1", "320102")
    make_user(db.session, "school_officer", username="olga", school_code="S1")
    response = client.post("/api/v1/auth/login", json={"username": "olga", "password": TEST_PASSWORD})
    assert response.status_code == 200, response.json
    body = response.json
    assert body["user"] == {
        "username": "olga",
        "role": "school_officer",
        "school_code": "S1",
        "region_code": None,
    }
    assert body["token"].startswith("aidu_")
    expires = datetime.fromisoformat(body["expires_at"])
    assert timedelta(hours=7) < expires - datetime.now(UTC) <= timedelta(hours=8)
    assert client.get("/api/v1/students/NOBODY", headers=bearer(body["token"])).status_code == 404


def test_login_is_audited_and_stores_only_a_hash_of_the_token(client: FlaskClient, db_url: str) -> None:
    make_user(db.session, "auditor", username="audrey")
    token = client.post("/api/v1/auth/login", json={"username": "audrey", "password": TEST_PASSWORD}).json[
        "token"
    ]
    [event] = events("auth.login")
    assert event.actor == "user:audrey" and event.subject == "user:audrey"
    assert token not in str(event.summary)
    hashes = db.session.execute(sa.select(AuthToken.token_hash)).scalars().all()
    assert token not in hashes and all(len(h) == 64 for h in hashes)


@pytest.mark.parametrize(
    ("username", "password"),
    [("olga", "wrong password!"), ("nobody", TEST_PASSWORD), ("inactive", TEST_PASSWORD)],
    ids=["wrong-password", "unknown-user", "inactive-user"],
)
def test_login_refuses_bad_credentials_with_one_message(
    client: FlaskClient, db_url: str, username: str, password: str
) -> None:
    make_user(db.session, "auditor", username="olga")
    make_user(db.session, "auditor", username="inactive", active=False)
    response = client.post("/api/v1/auth/login", json={"username": username, "password": password})
    assert response.status_code == 401
    assert response.mimetype == "application/problem+json"
    assert response.json["detail"] == "Invalid username or password."
    assert events("auth.login") == []


def test_repeated_failed_api_logins_are_throttled_with_429(client: FlaskClient, db_url: str) -> None:
    make_user(db.session, "auditor", username="olga")
    statuses = [
        client.post(
            "/api/v1/auth/login", json={"username": "olga", "password": "wrong password!"}
        ).status_code
        for _ in range(6)
    ]
    assert statuses == [401] * 5 + [429]
    locked = client.post("/api/v1/auth/login", json={"username": "olga", "password": TEST_PASSWORD})
    assert locked.status_code == 429, "even the right password waits while the account is locked"
    assert locked.mimetype == "application/problem+json"
    assert 14 * 60 < int(locked.headers["Retry-After"]) <= 15 * 60


def test_login_names_missing_fields(client: FlaskClient, db_url: str) -> None:
    response = client.post("/api/v1/auth/login", json={"username": ""})
    assert response.status_code == 422
    assert set(response.json["errors"]) == {"username", "password"}


def test_login_wants_json(client: FlaskClient, db_url: str) -> None:
    response = client.post("/api/v1/auth/login", data={"username": "a", "password": "b"})
    assert response.status_code == 415


def test_login_asks_the_throttling_guard_first(app: Flask, db_url: str) -> None:
    make_user(db.session, "auditor", username="olga")
    calls: list[str] = []

    class Refuse:
        def before_attempt(self, username: str, address: str | None, device: str | None = None) -> None:
            calls.append(f"before:{username}")
            raise AuthenticationFailed("too many attempts")

        def after_failure(self, username: str, address: str | None, device: str | None = None) -> None:
            calls.append("failure")

        def after_success(self, username: str, address: str | None, device: str | None = None) -> None:
            calls.append("success")

    with pytest.raises(AuthenticationFailed, match="too many"):
        login(db.session, username="olga", password=TEST_PASSWORD, guard=Refuse())
    assert calls == ["before:olga"]


def test_logout_revokes_the_token(client: FlaskClient, db_url: str) -> None:
    _user, token = make_user(db.session, "auditor", username="olga")
    assert client.post("/api/v1/auth/logout", headers=bearer(token)).status_code == 204
    again = client.post("/api/v1/auth/logout", headers=bearer(token))
    assert again.status_code == 401 and "revoked" in again.json["detail"]
    assert [e.subject for e in events("auth.logout")] == ["user:olga"]


def test_logout_leaves_other_sessions_of_the_user_open(client: FlaskClient, db_url: str) -> None:
    make_user(db.session, "auditor", username="olga")
    first = client.post("/api/v1/auth/login", json={"username": "olga", "password": TEST_PASSWORD}).json[
        "token"
    ]
    second = client.post("/api/v1/auth/login", json={"username": "olga", "password": TEST_PASSWORD}).json[
        "token"
    ]
    assert client.post("/api/v1/auth/logout", headers=bearer(first)).status_code == 204
    assert client.get("/api/v1/students/NOBODY", headers=bearer(second)).status_code == 404


def test_logout_is_for_users_not_agency_clients(client: FlaskClient, db_url: str) -> None:
    token = make_client(db.session, "civil_affairs")
    assert client.post("/api/v1/auth/logout", headers=bearer(token)).status_code == 403


def test_an_expired_token_is_refused(client: FlaskClient, db_url: str) -> None:
    _user, token = make_user(db.session, "auditor", lifetime=timedelta(seconds=-1))
    response = client.get("/api/v1/students/NOBODY", headers=bearer(token))
    assert response.status_code == 401 and "expired" in response.json["detail"]


def test_a_missing_or_unknown_token_is_refused(client: FlaskClient, db_url: str) -> None:
    assert client.get("/api/v1/students/NOBODY").status_code == 401
    assert client.get("/api/v1/students/NOBODY", headers=bearer("aidu_not-a-token")).status_code == 401


# ------------------------------------------------------------------ aid user deactivate


def test_user_deactivate_ends_sessions_and_signing_in(app: Flask, client: FlaskClient, db_url: str) -> None:
    _user, token = make_user(db.session, "auditor", username="olga")
    result = app.test_cli_runner().invoke(args=["aid", "user", "deactivate", "olga"])
    assert result.exit_code == 0 and "deactivated" in result.output
    assert client.get("/api/v1/students/NOBODY", headers=bearer(token)).status_code == 401
    login_again = client.post("/api/v1/auth/login", json={"username": "olga", "password": TEST_PASSWORD})
    assert login_again.status_code == 401
    [event] = events("user.deactivate")
    assert event.summary == {"sessions_revoked": 1}


def test_user_deactivate_twice_says_so_and_audits_once(app: Flask, db_url: str) -> None:
    make_user(db.session, "auditor", username="olga")
    runner = app.test_cli_runner()
    runner.invoke(args=["aid", "user", "deactivate", "olga"])
    second = runner.invoke(args=["aid", "user", "deactivate", "olga"])
    assert second.exit_code == 0 and "already inactive" in second.output
    assert len(events("user.deactivate")) == 1


def test_user_deactivate_of_an_unknown_user_fails(app: Flask, db_url: str) -> None:
    result = app.test_cli_runner().invoke(args=["aid", "user", "deactivate", "ghost"])
    assert result.exit_code == 1 and "no user ghost" in result.output
