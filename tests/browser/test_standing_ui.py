"""Issue 19's scenario in a real browser: an application approved at 一般困难 with the quota full shows one
standing everywhere: the roster's level column, the student page's 当前认定 block, the application page's
header (合计 funded only, the unfunded amount apart) and the county dashboard's level counts."""

from __future__ import annotations

import re
from typing import Any

from aidservice.extensions import db
from aidservice.services.applications.quotas import put_quota
from tests.browser.conftest import Live
from tests.browser.test_officer_ui import act, sign_in, watch
from tests.world import web as w

STUDENT = "S1-004"  # 陈静: no agency record, so the system's pre-assessment is 不困难


def standing_of(page: Any) -> dict[str, str]:
    block = page.locator("#standing .standing")
    return {
        "level": block.get_attribute("data-level"),
        "source": block.get_attribute("data-source"),
        "funded": block.get_attribute("data-funded"),
        "unfunded": block.get_attribute("data-unfunded"),
        "text": block.inner_text(),
    }


def test_approved_at_general_with_the_quota_full_shows_one_standing(context: Any, live: Live) -> None:
    with live.app.app_context():  # the county's quota for the living subsidy is full: no place at all
        put_quota(
            db.session,
            actor=w.SYSTEM,
            settings=w.settings_for(live.app),
            school_code=w.S1,
            program="compulsory_living_subsidy",
            school_year=w.YEAR,
            places=0,
        )
        db.session.commit()
        db.session.remove()
    page = context.new_page()
    problems = watch(page)
    sign_in(page, live, "officer1")

    page.goto(f"{live.url}/students/{STUDENT}")
    before = standing_of(page)
    assert (before["level"], before["source"]) == ("none", "pre_assessment") and "系统预判" in before["text"]

    page.click("text=发起申请")
    page.fill("#per_capita_income", "20000")  # 一般困难 by income
    page.fill("#household_size", "4")
    page.check("#commitment")
    page.click("button:has-text('提交申请并认定')")
    page.wait_for_url(re.compile(r"/applications/\d+$"))
    application_url = page.url
    assert "本申请评估结果（尚未审批）" in page.locator("section.result").inner_text()
    act(page, "review")
    act(page, "publish_notice")
    live.clock.today = w.AFTER_NOTICE
    page.goto(application_url)
    act(page, "approve", note="公示期满无异议")
    assert "已批准" in page.locator("h1").inner_text()

    header = standing_of(page)
    assert header["level"] == "general" and header["source"] == "decision"
    assert header["funded"] == "0.00" and header["unfunded"] == "1250.00"
    assert "审批决定" in header["text"] and "名额不足未资助" in header["text"]
    result = page.locator("section.result").inner_text()
    assert "合计（已资助） ¥0.00" in result and "¥1,250.00" in result and "不计入合计" in result
    assert "合计 ¥1,250.00" not in result
    live.shot(page, "standing-application")

    page.goto(f"{live.url}/students/{STUDENT}")
    student = standing_of(page)
    assert {k: student[k] for k in ("level", "source", "funded", "unfunded")} == {
        k: header[k] for k in ("level", "source", "funded", "unfunded")
    }
    assert "一般困难" in student["text"] and "当前认定结果" not in page.content()
    live.shot(page, "standing-student")

    page.goto(f"{live.url}/students?q={STUDENT}")
    cell = page.locator(f"tr:has(a[href='/students/{STUDENT}']) .standing-cell")
    assert cell.get_attribute("data-level") == "general" and cell.get_attribute("data-source") == "decision"
    assert cell.inner_text().strip() == "一般困难"  # no 系统预判 mark: an approved decision
    live.shot(page, "standing-roster", full_page=False)

    context.clear_cookies()  # sign out: the county administrator's dashboard
    county = context.new_page()
    sign_in(county, live, "county1")
    general = county.locator("tr.level-count[data-level='general']")
    assert general.get_attribute("data-count") == "1" and "审批决定 1 人" in general.inner_text()
    live.shot(county, "standing-dashboard")
    assert not problems, problems
