"""Fixtures of the web UI's Flask test-client tests: the small world, a pinned clock, signed-in clients."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

import pytest
from flask import Flask
from flask.testing import FlaskClient

from aidservice import wiring
from aidservice.extensions import db
from aidservice.services.context import Settings
from tests.world import web as w

CSRF_INPUT = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"|value="([^"]+)"[^>]*name="csrf_token"')


@dataclass
class Clock:
    today: date = w.SUBMITTED


@pytest.fixture
def app_env(tmp_path) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return {"AID_WHATIF_FILE": str(tmp_path / "whatif-last.json")}


@pytest.fixture
def clock(app: Flask, monkeypatch: pytest.MonkeyPatch) -> Clock:
    """Pin the services' today for every request (views call wiring.settings())."""
    pinned = Clock()
    original = wiring.settings

    def settings() -> Settings:
        return dataclasses.replace(original(), today=pinned.today)

    monkeypatch.setattr(wiring, "settings", settings)
    return pinned


@pytest.fixture
def world(app: Flask, clock: Clock) -> w.World:
    built = w.build(db.session, w.settings_for(app, clock.today))
    db.session.commit()
    return built


def sign_in(client: FlaskClient, world: w.World, username: str) -> FlaskClient:
    """Put a login's token in the client's session, as the login page does (without argon2's cost)."""
    role, school, region = w.USERS[username]
    with client.session_transaction() as session:
        session.clear()
        session["token"] = world.tokens[username]
        session["user"] = {"username": username, "role": role, "school_code": school, "region_code": region}
    return client


@pytest.fixture
def as_user(app: Flask, world: w.World) -> Callable[[str], FlaskClient]:
    """A fresh test client signed in as one of the world's users."""

    def make(username: str) -> FlaskClient:
        return sign_in(app.test_client(), world, username)

    return make


def csrf_from(html: str) -> str:
    match = CSRF_INPUT.search(html)
    assert match, "no CSRF token on the page"
    return match.group(1) or match.group(2)


def csrf(client: FlaskClient, url: str = "/") -> str:
    """A CSRF token for this client's session, read from a page with a form."""
    response = client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    return csrf_from(response.get_data(as_text=True))
