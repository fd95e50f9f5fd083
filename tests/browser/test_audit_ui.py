"""The auditor walks the trail in a real browser: filters it by a student, reads Beijing times and hashes, and
replays the student's decision from the application page (一致)."""

from __future__ import annotations

import re
from typing import Any

from tests.browser.conftest import Live
from tests.browser.test_officer_ui import sign_in, watch
from tests.web.conftest import sign_in as sign_in_client
from tests.web.test_applications import act, created
from tests.world import web as w

STUDENT = "S1-003"


def approved_application(live: Live, student: str = STUDENT) -> int:
    """An application approved by the school's officer (through the app, not the browser: not what is tested)."""
    client = sign_in_client(live.app.test_client(), live.world, "officer1")
    application_id = created(client, student)
    for action in ("review", "publish_notice"):
        assert act(client, application_id, action).status_code == 302
    today, live.clock.today = live.clock.today, w.AFTER_NOTICE
    try:
        assert act(client, application_id, "approve", note="公示无异议").status_code == 302
    finally:
        live.clock.today = today
    return application_id


def test_the_auditor_filters_the_trail_and_replays_a_decision(context: Any, live: Live) -> None:
    application_id = approved_application(live)
    page = context.new_page()
    problems = watch(page)
    sign_in(page, live, "auditor1")
    page.click("nav >> text=审计")
    page.wait_for_url(f"{live.url}/audit")
    assert "审计链状态" in page.locator("section.chain").inner_text()

    page.fill("#subject", f"student:{STUDENT}")
    page.click("form.search button[type=submit]")
    page.wait_for_url(re.compile(r"/audit\?subject="))
    rows = page.locator("table.audit tbody tr")
    assert rows.count() >= 3
    for text in rows.all_inner_texts():
        assert f"学生 {STUDENT}" in text and re.search(r"\d{4}年\d{1,2}月\d{1,2}日 \d\d:\d\d", text)
    assert len(rows.first.locator("code[title]").get_attribute("title") or "") == 64
    live.shot(page, "audit-trail")

    page.goto(f"{live.url}/applications/{application_id}")
    page.locator("table.decisions button:has-text('重放')").first.click()
    page.wait_for_url(re.compile(r"/decisions/\d+/replay$"))
    assert "一致：" in page.locator("p.replay-outcome").inner_text()
    assert problems == []
