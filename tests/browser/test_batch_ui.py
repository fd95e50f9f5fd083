"""Batch approval in a real browser: 30 applications on notice, "select all matching" on the filtered list,
批量批准 with one 审核意见, the confirmation naming them (masked ID numbers), the result page: 30 done."""

from __future__ import annotations

import re
from typing import Any

from aidservice.extensions import db
from aidservice.services.accounts.auth import resolve_token
from aidservice.services.applications import batch, submission
from aidservice.services.roster import roster
from tests.browser.conftest import Live
from tests.browser.test_officer_ui import FULL_ID, sign_in, watch
from tests.world import web as w
from tests.world.factories import id_number

COUNT = 30


def on_notice(live: Live) -> None:
    """30 students of school S1 with applications reviewed and on the public notice (through the services)."""
    with live.app.app_context():
        session = db.session
        settings = w.settings_for(live.app, w.SUBMITTED)
        officer = resolve_token(session, live.world.tokens["officer1"])
        items = []
        for i in range(COUNT):
            student_id = f"S1-B{i:02d}"
            roster.put_student(
                session,
                actor=w.SYSTEM,
                settings=settings,
                student_id=student_id,
                payload={
                    "id_number": id_number(700 + i, county="320102"),
                    "name": f"批量{i:02d}",
                    "school_code": w.S1,
                    "class_name": "初三(2)班",
                    "stage": "junior",
                    "grade": 3,
                    "boarding": False,
                    "rural_hukou": True,
                    "guardians": [],
                },
            )
            made = submission.create_application(
                session,
                actor=officer,
                settings=settings,
                payload={
                    "student_id": student_id,
                    "school_year": w.YEAR,
                    "declared": {"household_size": 4, "per_capita_income": "5000.00"},
                    "commitment_signed": True,
                },
            )
            items.append(batch.BatchItem(made.id, made.version))
        for action in ("review", "publish_notice"):
            results = batch.act_on_many(
                session,
                actor=officer,
                settings=settings,
                request=batch.BatchRequest(action=action, items=items),
            )
            assert [r.status for r in results] == ["done"] * COUNT
            items = [
                batch.BatchItem(r.application["id"], r.application["version"])
                for r in results
                if r.application
            ]
        session.commit()
        db.session.remove()


def test_a_batch_approval_of_thirty_applications(context: Any, live: Live) -> None:
    on_notice(live)
    live.clock.today = w.AFTER_NOTICE
    page = context.new_page()
    problems = watch(page)
    sign_in(page, live, "officer1")
    page.goto(live.url + "/applications")
    page.select_option("#f-state", "notice")
    page.click("form.search button[type=submit]")
    page.wait_for_url(re.compile(r"state=notice"))
    assert page.locator("input[name=ids]").count() == COUNT
    page.check("#all_matching")
    page.fill("#batch-note", "公示期满无异议")
    page.click("button:has-text('批量批准')")
    page.wait_for_url(live.url + "/applications/batch/confirm")
    assert "将对以下 30 条申请办理“批准”。" in page.inner_text("main")
    assert page.locator("table.batch-rows tbody tr").count() == COUNT
    assert "批量07" in page.inner_text("table.batch-rows")
    assert not FULL_ID.findall(page.content())
    live.shot(page, "20-batch-confirm")
    page.click("#confirm-batch")
    page.wait_for_url(live.url + "/applications/batch")
    assert page.locator("#batch-done").inner_text() == "已办理 30 条"
    assert page.locator("#batch-refused").inner_text() == "未办理 0 条"
    assert page.locator("tr.batch-done").count() == COUNT
    assert not FULL_ID.findall(page.content())
    live.shot(page, "21-batch-result")
    page.goto(live.url + "/applications?state=approved")
    assert page.locator("input[name=ids]").count() == COUNT
    assert not problems, problems
