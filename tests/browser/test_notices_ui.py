"""The notices page in a real browser: the officer opens 公示管理 from the navigation, sees a notice revised by an
upheld objection, prints it (第2版 with 更正说明), opens revision 1 from the history, and sets the phone."""

from __future__ import annotations

import dataclasses
from datetime import date
from typing import Any

from aidservice.extensions import db
from aidservice.services.applications import actions, submission
from aidservice.services.applications.values import ActionRequest
from tests.browser.conftest import Live
from tests.browser.test_officer_ui import sign_in, watch
from tests.world import web as w

OBJECTION_DAY = date(2020, 10, 14)


def revised_notice(live: Live) -> None:
    """S1-001 applies, is published on 12 October, and its objection is upheld on the 14th (困难 -> 特别困难)."""
    with live.app.app_context():
        settings = w.settings_for(live.app, w.SUBMITTED)
        made = submission.create_application(
            db.session,
            actor=w.SYSTEM,
            settings=settings,
            payload={
                "student_id": "S1-001",
                "school_year": w.YEAR,
                "declared": {"household_size": 4, "per_capita_income": "5000.00"},
                "commitment_signed": True,
            },
        )
        later = dataclasses.replace(settings, today=OBJECTION_DAY)
        steps = [
            (settings, ActionRequest(action="review", version=0)),
            (settings, ActionRequest(action="publish_notice", version=0)),
            (later, ActionRequest(action="object", version=0, note="家长反映收入有误")),
            (
                later,
                ActionRequest(
                    action="resolve", version=0, outcome="upheld", level="special", note="复核属实"
                ),
            ),
        ]
        for step_settings, request in steps:
            made = actions.act(
                db.session,
                actor=w.SYSTEM,
                settings=step_settings,
                application_id=made.id,
                request=dataclasses.replace(request, version=made.version),
            )
        db.session.commit()
        db.session.remove()


def test_the_officer_prints_a_revised_notice_and_sets_the_phone(context: Any, live: Live) -> None:
    revised_notice(live)
    live.clock.today = OBJECTION_DAY
    page = context.new_page()
    problems = watch(page)
    sign_in(page, live, "officer1")
    page.click("nav.nav >> text=公示管理")
    page.wait_for_url(live.url + "/notices")
    table = page.locator("table.notices-table").inner_text()
    assert "第2版（2020年10月14日）" in table and "公示中" in table
    live.shot(page, "30-notices")

    page.click("table.notices-table >> text=打印")
    page.wait_for_load_state()
    notice = page.locator("article.notice").inner_text()
    assert "第2版（2020年10月14日）" in notice and "更正说明" in notice
    assert "认定等级由困难调整为特别困难" in notice
    live.shot(page, "31-notice-revision-2")

    page.go_back()
    page.click("details >> summary")
    page.click("text=第1版（2020年10月12日）")
    page.wait_for_load_state()
    first = page.locator("article.notice").inner_text()
    assert "第1版（2020年10月12日）" in first and "更正说明" not in first and "困难" in first

    page.goto(live.url + "/notices")
    page.fill("#contact_phone", "025-8345")
    page.click("form[action='/notices/settings'] button[type=submit]")
    assert "监督电话须为手机号码" in page.locator(".field:has(#contact_phone) .error").inner_text()
    page.fill("#contact_phone", "025-83456789")
    page.fill("#signoff", "南京市玄武区第一中学学生资助工作领导小组")
    page.click("form[action='/notices/settings'] button[type=submit]")
    page.wait_for_url(live.url + "/notices?school=" + w.S1)
    page.click("table.notices-table >> text=打印")
    page.wait_for_load_state()
    assert "监督电话：025-83456789" in page.locator("article.notice").inner_text()
    assert "南京市玄武区第一中学学生资助工作领导小组" in page.locator("p.sign").inner_text()
    assert problems == []
