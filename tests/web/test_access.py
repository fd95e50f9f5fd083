"""Who may open which page: a matrix of the world's users and the UI's pages, and the login redirect."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from flask import Flask
from flask.testing import FlaskClient

from aidservice.extensions import db
from aidservice.services.accounts.auth import resolve_token
from aidservice.services.applications import actions, submission
from aidservice.services.applications.values import ActionRequest
from tests.web.conftest import Clock
from tests.world import web as w

pytestmark = pytest.mark.databases  # SQLite always, PostgreSQL when it answers

ALL = tuple(w.USERS)
S1_READERS = {"officer1", "county1", "city1", "province1", "auditor1"}
S2_READERS = {"officer2", "city2", "province1", "auditor1"}
WRITERS = {"officer1", "officer2", "county1", "city1", "city2", "province1"}


def expected(url: str, user: str) -> int:
    """The status each user gets: 200; 403 for a role refused the page; 404 for a record outside the scope
    (issue 16: as if it did not exist)."""
    if url.startswith(("/students/S1-001/apply",)):
        return 200 if user == "officer1" else 403 if user in S1_READERS else 404
    if url.startswith(("/students/S1-", "/applications/{app}", "/schools/" + w.S1)):
        return 200 if user in S1_READERS else 404
    if url.startswith("/students/S2-"):
        return 200 if user in S2_READERS else 404
    if url == "/students/import":
        return 200 if user in WRITERS else 403
    return 200


PAGES = (
    "/",
    "/students",
    "/students?q=王",
    "/students/S1-001",
    "/students/S2-001",
    "/students/S1-001/apply",
    "/students/import",
    "/applications",
    "/applications?state=submitted",
    "/applications/{app}",
    "/rules",
    "/reports",
    "/schools/" + w.S1 + "/notices/{notice}",
)


@pytest.fixture
def on_notice(app: Flask, world: w.World, clock: Clock) -> dict[str, int]:
    """An application of S1-001, published on the school's notice."""
    settings = w.settings_for(app, clock.today)
    officer = resolve_token(db.session, world.tokens["officer1"])
    made = submission.create_application(
        db.session,
        actor=officer,
        settings=settings,
        payload={
            "student_id": "S1-001",
            "school_year": w.YEAR,
            "commitment_signed": True,
            "declared": {"household_size": 4, "per_capita_income": "5000.00"},
        },
    )
    for action in ("review", "publish_notice"):
        actions.act(
            db.session,
            actor=officer,
            settings=settings,
            application_id=made.id,
            request=ActionRequest(action=action, version=made.version),
        )
    db.session.commit()
    return {"app": made.id, "notice": made.notice_id}


@pytest.mark.parametrize("user", ALL)
def test_each_role_reaches_its_pages_and_no_more(
    as_user: Callable[[str], FlaskClient], on_notice: dict[str, int], user: str
) -> None:
    """The matrix: one row per user (parametrized), one column per page; every cell is checked."""
    client = as_user(user)
    wrong = []
    for page in PAGES:
        url = page.format(**on_notice)
        response = client.get(url)
        want = expected(page, user)
        if response.status_code != want or response.mimetype != "text/html":
            wrong.append((url, response.status_code, want))
        elif want in (403, 404):
            text = response.get_data(as_text=True)
            title = "无权访问" if want == 403 else "页面不存在"
            if title not in text or "aid.css" not in text:  # the Chinese error page in the layout
                wrong.append((url, f"not the Chinese {want} page", want))
    assert not wrong, wrong


def test_without_a_login_every_page_sends_you_to_the_login_page(
    client: FlaskClient, on_notice: dict[str, int]
) -> None:
    for page in PAGES:
        url = page.format(**on_notice)
        response = client.get(url)
        assert response.status_code == 302, url
        assert response.headers["Location"].startswith("/login?next="), url


def test_an_officer_cannot_open_another_schools_student_by_url(as_user: Callable[[str], FlaskClient]) -> None:
    response = as_user("officer2").get("/students/S1-003")
    assert response.status_code == 404  # issue 16: as if the student did not exist
    text = response.get_data(as_text=True)
    assert "张伟" not in text and "页面不存在" in text


def test_unknown_student_is_a_chinese_404_page(as_user: Callable[[str], FlaskClient]) -> None:
    response = as_user("officer1").get("/students/NOPE")
    assert response.status_code == 404
    assert "页面不存在" in response.get_data(as_text=True)


def test_administrators_and_auditors_read_applications_but_get_no_buttons(
    as_user: Callable[[str], FlaskClient], on_notice: dict[str, int]
) -> None:
    url = f"/applications/{on_notice['app']}"
    officer = as_user("officer1").get(url).get_data(as_text=True)
    county = as_user("county1").get(url).get_data(as_text=True)
    assert f"/applications/{on_notice['app']}/reject" in officer  # approval: once the notice is over
    assert "/approve" not in county and "/reject" not in county and "您只能查看此申请" in county
