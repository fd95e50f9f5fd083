"""A signed-in user's own pages: changing one's password (/account/password) and the guide (/help)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from flask import Flask
from flask.testing import FlaskClient

from aidservice.extensions import db
from aidservice.models import AuditEvent, AuthToken, User
from aidservice.services.accounts.throttle import MemoryLoginGuard
from aidservice.wiring import GUARD_KEY
from tests.web.conftest import csrf
from tests.world import web as w

pytestmark = pytest.mark.databases  # SQLite always, PostgreSQL when it answers

NEW_PASSWORD = "Quince-harbour-lantern-47"


@pytest.fixture(autouse=True)
def fresh_guard(app: Flask, monkeypatch: pytest.MonkeyPatch) -> MemoryLoginGuard:
    guard = MemoryLoginGuard()
    monkeypatch.setitem(app.extensions, GUARD_KEY, guard)
    return guard


def change(client: FlaskClient, current: str, new: str, repeat: str | None = None) -> object:
    token = csrf(client, "/account/password")
    return client.post(
        "/account/password",
        data={
            "csrf_token": token,
            "current": current,
            "new": new,
            "repeat": new if repeat is None else repeat,
        },
    )


def login(client: FlaskClient, username: str, password: str) -> int:
    token = csrf(client, "/login")
    response = client.post("/login", data={"csrf_token": token, "username": username, "password": password})
    return response.status_code


def test_a_changed_password_signs_in_and_the_old_one_no_longer_does(
    app: Flask, world: w.World, as_user: Callable[[str], FlaskClient]
) -> None:
    client = as_user("county1")
    response = change(client, w.PASSWORD, NEW_PASSWORD)
    assert response.status_code == 303
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "密码已修改。" in page  # and still signed in, on a new session
    assert client.get("/").status_code == 200
    user = db.session.query(User).filter_by(username="county1").one()
    assert db.session.query(AuthToken).filter_by(user_id=user.id, revoked_at=None).count() == 1
    other = app.test_client()
    assert login(other, "county1", w.PASSWORD) == 401
    assert login(other, "county1", NEW_PASSWORD) == 302


def test_other_sessions_end_when_the_password_changes(
    world: w.World, as_user: Callable[[str], FlaskClient]
) -> None:
    elsewhere = as_user("officer1")
    assert elsewhere.get("/").status_code == 200
    assert change(as_user("officer1"), w.PASSWORD, NEW_PASSWORD).status_code == 303
    assert elsewhere.get("/").status_code == 302  # to the login page


def test_the_change_is_audited_without_the_password(
    world: w.World, as_user: Callable[[str], FlaskClient]
) -> None:
    assert change(as_user("auditor1"), w.PASSWORD, NEW_PASSWORD).status_code == 303
    [event] = db.session.query(AuditEvent).filter_by(action="user.password_change").all()
    assert event.subject == "user:auditor1" and event.actor.endswith("auditor1")
    user = db.session.query(User).filter_by(username="auditor1").one()
    stored = repr(event.summary) + repr(event.__dict__)
    assert NEW_PASSWORD not in stored and w.PASSWORD not in stored and user.password_hash not in stored


@pytest.mark.parametrize(
    ("new", "message"),
    [
        ("short1A", "至少 12 个字符。"),
        ("officer1-Lantern-47", "不能包含用户名。"),
        ("Password2020!", "这是常见密码，请另选一个。"),
        ("abcdefghijklmnop", "至少包含两类字符"),
    ],
)
def test_a_weak_password_is_refused_with_the_rule_beside_the_field(
    world: w.World, as_user: Callable[[str], FlaskClient], new: str, message: str
) -> None:
    response = change(as_user("officer1"), w.PASSWORD, new)
    page = response.get_data(as_text=True)
    assert response.status_code == 422 and message in page
    assert 'id="new-error"' in page
    assert db.session.query(AuditEvent).filter_by(action="user.password_change").count() == 0


def test_a_wrong_current_password_is_refused_and_counted_by_the_throttle(
    world: w.World, as_user: Callable[[str], FlaskClient], fresh_guard: MemoryLoginGuard
) -> None:
    client = as_user("city1")
    for _ in range(5):
        response = change(client, "not the password", NEW_PASSWORD)
        assert response.status_code == 422 and "当前密码不正确。" in response.get_data(as_text=True)
    locked = change(client, w.PASSWORD, NEW_PASSWORD)
    assert locked.status_code == 429 and "Retry-After" in locked.headers
    assert db.session.query(AuditEvent).filter_by(action="user.password_change").count() == 0


def test_the_two_new_passwords_must_agree(world: w.World, as_user: Callable[[str], FlaskClient]) -> None:
    response = change(as_user("officer1"), w.PASSWORD, NEW_PASSWORD, repeat=NEW_PASSWORD + "x")
    assert response.status_code == 422 and "两次输入的新密码不一致" in response.get_data(as_text=True)


@pytest.mark.parametrize(
    ("username", "first"),
    [
        ("officer1", "help-school"),
        ("city1", "help-admin"),
        ("province1", "help-admin"),
        ("auditor1", "help-auditor"),
    ],
)
def test_help_shows_the_roles_section_first_and_the_others_below(
    world: w.World, as_user: Callable[[str], FlaskClient], username: str, first: str
) -> None:
    page = as_user(username).get("/help").get_data(as_text=True)
    positions = {key: page.index(f'id="{key}"') for key in ("help-school", "help-admin", "help-auditor")}
    assert min(positions, key=positions.__getitem__) == first
    assert "批量评议" in page and 'href="/students/import"' in page and 'href="/quotas"' in page


def test_every_page_links_to_help_and_the_password_change(
    world: w.World, as_user: Callable[[str], FlaskClient]
) -> None:
    page = as_user("officer2").get("/").get_data(as_text=True)
    assert 'href="/help"' in page and 'href="/account/password"' in page
    english = as_user("officer2").get("/help?lang=en").get_data(as_text=True)
    assert "Change password" in english and "Bulk review" in english


def test_every_password_rule_has_the_pages_wording() -> None:
    from aidservice.services.accounts import passwords
    from aidservice.web.account import RULE_TEXTS

    assert set(RULE_TEXTS) == set(passwords.RULES)
    assert passwords.problems("short1A", "x") == [passwords.RULES["too_short"]]
