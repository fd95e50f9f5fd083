"""axe-core on every page each role can reach: no serious or critical violation (issue 20).

axe.min.js comes from the axe-playwright-python package (the `test` extras; nothing is downloaded at run time).
The pages' CSP allows no inline script, so each role's browser context is opened with `bypass_csp=True` and
the script is injected by Playwright after each page has loaded; the app's own CSP is checked by the other
browser tests. One context per role visits its pages in one test; a failure lists each violation's id, impact
and target nodes, page by page.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from importlib import resources
from typing import Any

import pytest

from aidservice.extensions import db
from aidservice.services.accounts.auth import resolve_token
from aidservice.services.applications import submission
from tests.browser.conftest import Live
from tests.browser.test_officer_ui import sign_in, watch
from tests.world import web as w

AXE_SOURCE = resources.files("axe_playwright_python").joinpath("axe.min.js").read_text(encoding="utf-8")
BLOCKING = ("serious", "critical")
REPORTS = [
    f"/reports?kind={kind}&period={w.YEAR}-autumn"
    for kind in ("special-groups", "programs", "dropout_control")
]
A_REPORT = f"/reports?kind=regions&period={w.YEAR}-autumn"
COMMON = [
    "/",
    "/students",
    "/applications",
    "/reports",
    A_REPORT,
    "/jobs",
    "/rules",
    "/help",
    "/account/password",
]
ADMIN = ["/quotas", "/whatif"]
PAGES = {  # the pages each role reaches from its navigation, besides those the test walks to; each report kind once
    "officer1": [*COMMON, *REPORTS, "/students/S1-001", "/students/S1-004/apply", "/students/import"],
    "county1": [*COMMON, *ADMIN, "/regions/320102", "/students/S1-001"],
    "city1": [*COMMON, *ADMIN, "/regions/320100"],
    "province1": [*COMMON, *ADMIN, *REPORTS, "/regions/320000", "/regions/320100"],
    "auditor1": [*COMMON, *ADMIN, "/audit", "/regions/320000"],
}
NARROW_PAGES = [
    "/",
    "/students",
    "/applications",
    A_REPORT,
    "/rules",
    "/help",
]  # at 390 px: what else scrolls


def violations(page: Any) -> list[str]:
    """axe's serious and critical violations on the page as it is now, one line per rule with its nodes."""
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.add_script_tag(content=AXE_SOURCE)
    result = page.evaluate("() => axe.run(document, {resultTypes: ['violations']})")
    found = []
    for v in result["violations"]:
        if v["impact"] in BLOCKING:
            targets = "; ".join(" ".join(map(str, n["target"])) for n in v["nodes"][:8])
            found.append(f"{page.url}: {v['id']} ({v['impact']}): {v['help']} -- {targets}")
    return found


NARROW = {"width": 390, "height": 844}
WIDE = {"width": 1280, "height": 800}
CASES = [
    *(pytest.param(name, WIDE, id=name) for name in PAGES),
    *(pytest.param(name, NARROW, id=f"{name}-390px") for name in ("officer1", "province1")),
]


@pytest.fixture
def role_context(browser: Any, request: pytest.FixtureRequest) -> Iterator[Any]:
    viewport = getattr(request, "param", WIDE)
    made = browser.new_context(viewport=viewport, locale="zh-CN", bypass_csp=True)
    made.set_default_timeout(10_000)
    yield made
    made.close()


@pytest.fixture(scope="module")
def applications(live: Live) -> list[int]:
    """Two applications of school S1 (through the services), so that lists and detail pages have content."""
    with live.app.app_context():
        session = db.session
        settings = w.settings_for(live.app, w.SUBMITTED)
        officer = resolve_token(session, live.world.tokens["officer1"])
        made = [
            submission.create_application(
                session,
                actor=officer,
                settings=settings,
                payload={
                    "student_id": student_id,
                    "school_year": w.YEAR,
                    "declared": {"household_size": 4, "per_capita_income": "5000.00"},
                    "commitment_signed": True,
                },
            ).id
            for student_id in ("S1-001", "S1-002")
        ]
        session.commit()
        db.session.remove()
    return made


def visit(page: Any, url: str, found: list[str], *, expect_error: bool = False) -> None:
    response = page.goto(url)
    if response is None or (response.status >= 400) != expect_error:
        found.append(f"{url}: answered {response and response.status}")
    found.extend(violations(page))


def test_the_login_and_error_pages_have_no_serious_violation(role_context: Any, live: Live) -> None:
    page = role_context.new_page()
    found: list[str] = []
    visit(page, live.url + "/login", found)
    page.fill("#username", "officer1")
    page.fill("#password", "wrong password")
    page.click("form button[type=submit]")
    page.wait_for_load_state()
    found.extend(violations(page))  # the form with its error
    visit(page, live.url + "/no-such-page", found, expect_error=True)
    sign_in(page, live, "officer1")
    visit(page, live.url + "/applications/999999", found, expect_error=True)
    visit(page, live.url + "/students/S2-001", found, expect_error=True)  # another school's
    assert not found, "\n".join(found)


@pytest.mark.parametrize(("username", "role_context"), CASES, indirect=["role_context"])
def test_each_role_s_pages_have_no_serious_or_critical_violation(
    role_context: Any, live: Live, applications: list[int], username: str
) -> None:
    page = role_context.new_page()
    problems = watch(page)
    sign_in(page, live, username)
    found: list[str] = []
    wide = page.viewport_size["width"] == WIDE["width"]
    for path in PAGES[username] if wide else NARROW_PAGES:
        visit(page, live.url + path, found)
    if not wide:  # the navigation opened by the 菜单 button
        page.goto(live.url + "/")
        page.click("[data-menu-toggle]")
        found.extend(violations(page))
    for application_id in applications:  # every role here oversees school S1
        visit(page, f"{live.url}/applications/{application_id}", found)
    if username == "officer1" and wide:  # once: the batch moves the applications on
        _batch(page, live, found)
    if username == "province1" and wide:
        _whatif_job(page, live, found)
    assert not found, "\n".join(found)
    assert not problems, problems


def _batch(page: Any, live: Live, found: list[str]) -> None:
    """The batch steps: the list with its toolbar, the confirmation and the result."""
    page.goto(live.url + "/applications?state=submitted")
    page.check("#all_matching")
    page.fill("#batch-note", "材料齐全")
    page.click("button:has-text('批量评议')")
    page.wait_for_url(live.url + "/applications/batch/confirm")
    found.extend(violations(page))
    page.click("#confirm-batch")
    page.wait_for_url(live.url + "/applications/batch")
    found.extend(violations(page))


def _whatif_job(page: Any, live: Live, found: list[str]) -> None:
    """A what-if run: its result on the page, then the job in the jobs list and on its own page."""
    page.goto(live.url + "/whatif")
    page.click("main form button[type=submit].primary")
    page.wait_for_url(re.compile(r"/whatif\?job=\d+"))
    found.extend(violations(page))
    visit(page, live.url + "/jobs", found)
    page.click("main a[href*='/jobs/']")
    page.wait_for_url(re.compile(r"/jobs/\d+$"))
    found.extend(violations(page))
