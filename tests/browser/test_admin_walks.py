"""The administrators' and the auditor's walks in a real browser, by clicking only (issue 20, "Done when"): the
province administrator drills from the province to a student; a county administrator sets a school's places
with a reason (funded and unfunded follow, the trail keeps the reason), runs a what-if of a draft and
re-determines the county as a job; the auditor filters the trail, verifies the chain and replays a decision."""

from __future__ import annotations

import re
import shutil
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import Live
from tests.browser.test_audit_ui import approved_application
from tests.browser.test_officer_ui import no_full_id_numbers, sign_in, watch
from tests.conftest import RULES_DIR
from tests.world import web as w

DRAFT = "raise-1250"


def cells(page: Any, row: Any) -> dict[str, str]:
    """A table row's cells by their column headers."""
    headers = [h.strip() for h in page.locator("table.quotas thead th").all_inner_texts()]
    values = [c.strip() for c in row.locator("th, td").all_inner_texts()]
    return dict(zip(headers, values, strict=False))


def follow_job(page: Any) -> str:
    """On a job's page: wait for the script to show it done (it reloads the page), its result's text."""
    page.wait_for_selector(".job-state-done", timeout=30_000)
    return page.locator("main").inner_text()


def test_the_province_administrator_drills_from_the_province_to_a_student(context: Any, live: Live) -> None:
    page = context.new_page()
    problems = watch(page)
    sign_in(page, live, "province1")
    drill = page.locator("section.drilldown")
    assert "江苏省的下级地区" in drill.locator("h2").inner_text()
    drill.locator("a:has-text('南京市')").click()
    page.wait_for_url(f"{live.url}/regions/320100")
    page.locator("section.drilldown a:has-text('玄武区')").click()
    page.wait_for_url(f"{live.url}/regions/320102")
    assert "南京市" in page.locator("nav.breadcrumb").inner_text()
    row = page.locator("tr.drill-row", has_text="南京市玄武区第一中学")
    assert row.locator("td.num").first.inner_text() == "5"  # the school's five students
    row.locator("a").first.click()
    page.wait_for_url(re.compile(rf"/students\?school={w.S1}"))
    names = page.locator("table.list tbody tr").all_inner_texts()
    assert len(names) == 5 and not any("赵六" in n for n in names)
    page.click("table.list a:has-text('S1-001')")
    page.wait_for_url(f"{live.url}/students/S1-001")
    assert "王小明" in page.locator("main").inner_text()
    no_full_id_numbers(page)
    live.shot(page, "20-admin-drill-student")
    assert not problems, problems


def test_a_county_administrator_sets_places_with_a_reason_and_the_trail_keeps_it(
    context: Any, live: Live
) -> None:
    approved_application(live, "S1-002")  # one approved student in school 1: funded or not by the places
    page = context.new_page()
    problems = watch(page)
    sign_in(page, live, "county1")
    page.click("nav >> text=名额")
    page.wait_for_url(f"{live.url}/quotas")
    page.select_option("#stage", "junior")
    page.click("form.search button[type=submit]")
    page.wait_for_url(re.compile(r"stage=junior"))
    row = page.locator("table.quotas tbody tr.level-school", has=page.locator("input[name=places]")).first
    program = row.locator("input[name=program]").get_attribute("value")
    row.locator("input[name=places]").fill("0")
    row.locator("input[name=reason]").fill("名额调剂给其他学校")
    row.locator("button[type=submit]").click()
    page.wait_for_url(re.compile(r"/quotas\?stage=junior"))
    assert "名额已保存" in page.locator("p.flash").inner_text()
    mine = page.locator(
        f"table.quotas tbody tr.level-school:has(input[name=program][value='{program}'])"
    ).first
    before = cells(page, mine)
    # a special-group student is funded whatever the places: beyond the places set, a shortfall
    assert before["已设名额"] == "0" and before["已资助"] == "1" and before["缺口"] == "1", before
    mine.locator("input[name=places]").fill("5")
    mine.locator("input[name=reason]").fill("追加名额")
    mine.locator("button[type=submit]").click()
    page.wait_for_url(re.compile(r"/quotas\?stage=junior"))
    mine = page.locator(
        f"table.quotas tbody tr.level-school:has(input[name=program][value='{program}'])"
    ).first
    after = cells(page, mine)
    assert after["已设名额"] == "5" and after["已资助"] == "1" and after["缺口"] == "0", after
    live.shot(page, "20-admin-quotas")

    auditor = context.browser.new_context(viewport={"width": 1280, "height": 800}, locale="zh-CN").new_page()
    sign_in(auditor, live, "auditor1")
    auditor.goto(f"{live.url}/audit?subject=school:{w.S1}")
    live.shot(auditor, "20-auditor-quota-trail")
    trail = auditor.locator("table.audit tbody").inner_text()
    assert "名额调剂给其他学校" in trail and "追加名额" in trail and "county1" in trail
    auditor.context.close()
    assert not problems, problems


@pytest.fixture
def draft(live: Live) -> str:
    """A server draft where the 1250 yuan grant becomes 1300 (in the live app's draft directory)."""
    target = Path(live.app.config["AID_DRAFT_RULES_DIR"]) / DRAFT
    if not target.exists():
        shutil.copytree(RULES_DIR, target)
        path = target / "parameters" / "basic_education.yaml"
        path.write_text(path.read_text(encoding="utf-8").replace("1250", "1300", 1), encoding="utf-8")
    return DRAFT


def test_an_administrator_runs_a_what_if_of_a_draft_from_the_page(
    context: Any, live: Live, draft: str
) -> None:
    page = context.new_page()
    problems = watch(page)
    sign_in(page, live, "city1")
    page.click("nav >> text=规则模拟")
    page.wait_for_url(f"{live.url}/whatif")
    page.select_option("#draft", draft)
    page.fill("#as_of", "2020-09-01")
    page.click("button:has-text('开始模拟')")
    page.wait_for_url(re.compile(r"/whatif\?job=\d+"))
    result = page.locator("#whatif-result")
    if result.locator("a:has-text('查看进度')").count():
        result.locator("a:has-text('查看进度')").click()
        follow_job(page)
        page.click("a:has-text('查看模拟结果')")
    text = page.locator("#whatif-result").inner_text()
    assert f"草案规则（{draft}）" in text and "南京市" in text, text
    assert "资助变化合计" in text or "无变化" in text
    live.shot(page, "20-admin-whatif")
    assert not problems, problems


def test_an_administrator_redetermines_the_county_and_follows_the_job(context: Any, live: Live) -> None:
    page = context.new_page()
    problems = watch(page)
    sign_in(page, live, "county1")
    form = page.locator("#redetermine form")
    form.locator("textarea, input[name=reason]").first.fill("民政数据更新后重新认定")
    form.locator("input[type=checkbox]").check()
    form.locator("button[type=submit]").click()
    page.wait_for_url(re.compile(r"/jobs/\d+$"))
    text = follow_job(page)
    assert "重新认定" in text and re.search(r"重新认定 5 名学生", text), text
    live.shot(page, "20-admin-redetermine")
    assert not problems, problems


def test_the_auditor_filters_verifies_and_replays_by_clicking(context: Any, live: Live) -> None:
    approved_application(live, "S1-003")
    page = context.new_page()
    problems = watch(page)
    sign_in(page, live, "auditor1")
    page.click("nav >> text=审计")
    page.wait_for_url(f"{live.url}/audit")
    today = date.today()
    page.fill("#subject", "student:S1-003")
    page.fill("#actor", "officer1")
    page.select_option("#action", "application.approve")
    page.fill("#since", (today - timedelta(days=2)).isoformat())
    page.fill("#until", (today + timedelta(days=2)).isoformat())
    page.click("form.search button[type=submit]")
    page.wait_for_url(re.compile(r"/audit\?subject="))
    rows = page.locator("table.audit tbody tr")
    assert rows.count() == 1, rows.all_inner_texts()
    row = rows.first
    assert re.fullmatch(r"\d+", row.locator("th").inner_text().strip())  # the position in the chain
    assert len(row.locator("code[title]").get_attribute("title") or "") == 64
    assert "officer1" in row.inner_text() and "公示中 → 已批准" in row.inner_text(), row.inner_text()

    page.fill("#since", (today + timedelta(days=3)).isoformat())
    page.fill("#until", (today + timedelta(days=4)).isoformat())
    page.click("form.search button[type=submit]")
    page.wait_for_load_state()
    assert "没有符合条件的审计记录" in page.locator("main").inner_text()

    page.click("button:has-text('立即校验')")
    page.wait_for_url(re.compile(r"/audit\?job=\d+"))
    page.click("a.verify-job")
    assert "完整（已校验" in follow_job(page)
    page.click("a:has-text('返回审计记录')")
    assert "完整（已校验" in page.locator("section.chain").inner_text()

    page.fill("#subject", "student:S1-003")
    page.select_option("#action", "application.approve")
    page.click("form.search button[type=submit]")
    page.wait_for_url(re.compile(r"/audit\?subject="))
    page.locator("table.audit tbody a.event-application").first.click()
    page.wait_for_url(re.compile(r"/applications/\d+$"))
    page.locator("table.decisions button:has-text('重放')").first.click()
    page.wait_for_url(re.compile(r"/decisions/\d+/replay$"))
    assert "一致：" in page.locator("p.replay-outcome").inner_text()
    live.shot(page, "20-auditor-replay")
    assert not problems, problems
