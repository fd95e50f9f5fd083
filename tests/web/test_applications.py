"""Application pages: the form (facts with sources, declared facts, the commitment), the result with its
explanation, the procedure's buttons with their reasons and versions, the notice, objections, decisions."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from flask.testing import FlaskClient

from aidservice.extensions import db
from aidservice.models import Application, AuditEvent
from tests.web.conftest import Clock, csrf
from tests.world import web as w

pytestmark = pytest.mark.databases  # SQLite always, PostgreSQL when it answers

DECLARED = {"household_size": "4", "per_capita_income": "5000.00"}  # < 1.5 × 南京 line (16,200): 困难


def apply(client: FlaskClient, student_id: str = "S1-001", **fields: str) -> object:
    data = {"csrf_token": csrf(client, f"/students/{student_id}/apply"), **fields}
    return client.post(f"/students/{student_id}/apply", data=data)


def created(client: FlaskClient, student_id: str = "S1-001", **fields: str) -> int:
    response = apply(client, student_id, **{**DECLARED, "commitment": "y", **fields})
    assert response.status_code == 302, response.get_data(as_text=True)[:3000]
    return int(response.headers["Location"].rsplit("/", 1)[1])


def act(
    client: FlaskClient, application_id: int, action: str, version: int | None = None, **fields: str
) -> object:
    page = client.get(f"/applications/{application_id}")
    html = page.get_data(as_text=True)
    if version is None:
        version = int(re.search(rf'name="{action}-version" type="hidden" value="(\d+)"', html).group(1))
    data = {"csrf_token": csrf(client, f"/applications/{application_id}"), f"{action}-version": str(version)}
    data.update({f"{action}-{k}": v for k, v in fields.items()})
    return client.post(f"/applications/{application_id}/{action}", data=data)


def text(response: object) -> str:
    return response.get_data(as_text=True)  # type: ignore[attr-defined]


def test_the_form_shows_the_facts_with_their_sources(
    as_user: Callable[[str], FlaskClient], world: w.World
) -> None:
    html = as_user("officer1").get("/students/S1-002/apply").get_data(as_text=True)
    assert "李娜" in html and "初二(1)班" in html
    assert "建档立卡低收入农户" in html and "扶贫部门" in html and "批次 B-2020-09-01" in html
    assert "学籍名册" in html and "学校所在设区市" in html and "南京市（320100）" in html
    assert 'name="commitment"' in html and "承诺书" in html


def test_bad_input_is_marked_next_to_each_field_and_kept(
    as_user: Callable[[str], FlaskClient], world: w.World
) -> None:
    response = apply(
        as_user("officer1"),
        household_size="0",
        per_capita_income="五千",
        academic_rank_pct="120",
        major_illness="y",
    )
    assert response.status_code == 422
    html = text(response)
    for field, message in (
        ("household_size", "家庭人口数至少为 1。"),
        ("per_capita_income", "请输入金额，如 5000.00。"),
        ("academic_rank_pct", "请输入 0 到 100 之间的数。"),
        ("commitment", "必须签署承诺书。"),
    ):
        block = re.search(
            rf'<div class="(?:field|check) has-error">\s*(?:<label for="{field}"|<input[^>]*id="{field}").*?</div>\s*</div>',
            html,
            re.S,
        )
        assert block and message in block.group(0), field
    assert 'value="0"' in html and 'value="五千"' in html and 'value="120"' in html
    assert re.search(r'<input checked id="major_illness"', html)  # ticked boxes stay ticked
    assert db.session.query(Application).count() == 0


def test_money_with_too_many_decimals_or_negative(
    as_user: Callable[[str], FlaskClient], world: w.World
) -> None:
    client = as_user("officer1")
    assert "金额最多两位小数。" in text(apply(client, per_capita_income="12.345", commitment="y"))
    assert "金额不能为负数。" in text(apply(client, per_capita_income="-1", commitment="y"))


def test_an_application_shows_level_awards_and_the_explanation(
    as_user: Callable[[str], FlaskClient], world: w.World
) -> None:
    client = as_user("officer1")
    application_id = created(client, covid_infected_family="y")
    page = client.get(f"/applications/{application_id}")
    html = text(page)
    assert "申请已提交并完成认定。" in html
    assert 'class="level level-difficult"' in html
    assert "义务教育家庭经济困难学生生活补助" in html and "¥1,250.00" in html
    assert "疫情临时困难补助" in html and "¥1,000.00" in html
    assert "拟资助合计（尚未审批，未资助） ¥2,250.00" in html  # proposed: nothing is funded before approval
    assert "家庭人均年收入低于当地年低保标准的1.5倍" in html  # a reason, in plain Chinese
    assert "教财〔2018〕16号" in html  # its citation
    assert 'class="badge provisional"' in html and "暂定" in html
    assert "申请人申报（承诺书）" in html and "¥5,000.00" in html  # declared facts, with their source
    assert "2020年9月1日" in html  # evaluated as of the semester's first day


def test_declared_statuses_the_agencies_contradict_are_highlighted(
    as_user: Callable[[str], FlaskClient], world: w.World
) -> None:
    client = as_user("officer1")
    application_id = created(client, subsistence_allowance="y")  # the record starts only in March 2021
    html = text(client.get(f"/applications/{application_id}"))
    block = re.search(r'<section class="card conflicts".*?</section>', html, re.S).group(0)
    assert "申报与部门数据不一致" in block and "城乡最低生活保障家庭" in block
    assert "以部门数据为准" in block and "民政部门" in block
    listed = text(client.get("/applications"))
    assert re.search(r'<td class="num warn">1</td>', listed)


def test_a_second_application_for_the_year_is_refused(
    as_user: Callable[[str], FlaskClient], world: w.World
) -> None:
    client = as_user("officer1")
    created(client)
    page = text(client.get("/students/S1-001/apply"))
    assert "该学生本学年已有申请。" in page and "disabled" in page
    again = apply(client, **DECLARED, commitment="y")
    assert again.status_code == 409 and "该学生本学年已有申请。" in text(again)


def test_the_procedure_through_the_buttons(
    as_user: Callable[[str], FlaskClient], world: w.World, clock: Clock
) -> None:
    client = as_user("officer1")
    application_id = created(client)
    url = f"/applications/{application_id}"

    adjusted = act(client, application_id, "review", level="special")
    assert adjusted.status_code == 422
    html = text(adjusted)
    assert re.search(r'id="review-note-error">\s*<p class="error">调整等级必须填写理由。</p>', html)
    assert re.search(r'<option value="special" selected>特别困难</option>', html)  # the choice is kept

    assert (
        act(
            client, application_id, "review", level="special", note="家庭突发变故，评议小组一致同意"
        ).status_code
        == 302
    )
    html = text(client.get(url))
    assert "操作已完成：评议。" in html and 'class="state state-reviewed"' in html
    assert "由 困难 调整为 特别困难，理由：家庭突发变故" in html

    assert act(client, application_id, "publish_notice").status_code == 302
    html = text(client.get(url))
    notice_url = re.search(r'href="(/schools/[^"]+/notices/\d+)"', html).group(1)
    assert "公示期 2020年10月12日 至 2020年10月16日" in html

    notice = re.search(r'<article class="notice">.*?</article>', text(client.get(notice_url)), re.S).group(0)
    assert (
        "南京市玄武区第一中学" in notice
        and "王小明" in notice
        and "初二(1)班" in notice
        and "特别困难" in notice
    )
    assert (
        "320102" not in notice and "家庭突发变故" not in notice and "5000" not in notice
    )  # name, class, level only
    assert "S1-001" not in notice and "困难学生生活补助" not in notice

    page = text(
        client.get(url)
    )  # approval is not offered while the notice is open: the day it becomes possible
    assert "公示期至 2020年10月16日 结束，2020年10月17日 起可批准。" in page
    assert re.search(
        r'<div class="action action-approve unavailable">\s*<h3>批准</h3>\s*<button type="button" disabled',
        page,
    )
    version = int(re.search(r'name="reject-version" type="hidden" value="(\d+)"', page).group(1))
    early = act(client, application_id, "approve", version=version)  # posted anyway: the service refuses it
    assert early.status_code == 409 and "公示期至 2020年10月16日 结束，期满后方可批准。" in text(early)

    clock.today = w.AFTER_NOTICE
    assert act(client, application_id, "approve", note="公示无异议").status_code == 302
    html = text(client.get(url))
    assert 'class="state state-approved"' in html and "此申请已办结。" in html
    decisions = re.search(r'<table class="decisions">.*?</table>', html, re.S).group(0)
    assert (
        "义务教育家庭经济困难学生生活补助" in decisions and "¥1,250.00" in decisions
    )  # special: no 低保 tier
    assert "已资助" in decisions and "2020年9月1日 ¥625.00" in decisions  # half per semester
    student = text(client.get("/students/S1-001"))
    assert "当前资助决定" in student


def test_a_stale_version_gets_a_clear_message(as_user: Callable[[str], FlaskClient], world: w.World) -> None:
    client = as_user("officer1")
    application_id = created(client)
    assert act(client, application_id, "review").status_code == 302
    stale = act(client, application_id, "reject", version=1, note="重复提交")
    assert stale.status_code == 409
    html = text(stale)
    assert "此申请已被他人更新（您看到的是第 1 版，当前为第 2 版）" in html
    assert "重复提交" in html  # what was typed is kept for a second try
    assert re.search(r'name="reject-version" type="hidden" value="2"', html)
    assert db.session.get(Application, application_id).state == "reviewed"


def test_object_and_resolve_with_reasons(
    as_user: Callable[[str], FlaskClient], world: w.World, clock: Clock
) -> None:
    client = as_user("officer1")
    application_id = created(client)
    act(client, application_id, "review")
    act(client, application_id, "publish_notice")
    missing = act(client, application_id, "object")
    assert missing.status_code == 422 and "请填写理由。" in text(missing)
    assert act(client, application_id, "object", note="同学反映家庭有经营收入").status_code == 302
    no_outcome = act(client, application_id, "resolve", note="已核实")
    assert no_outcome.status_code == 422 and "请选择复核结论。" in text(no_outcome)
    no_level = act(client, application_id, "resolve", outcome="upheld", note="已核实")
    assert no_level.status_code == 422 and "异议成立时请选择新等级。" in text(no_level)
    assert (
        act(
            client,
            application_id,
            "resolve",
            outcome="upheld",
            level="general",
            note="核实有经营收入，调整为一般困难",
        ).status_code
        == 302
    )
    html = text(client.get(f"/applications/{application_id}"))
    block = re.search(r'<ul class="objections">.*?</ul>', html, re.S).group(0)
    assert "登记异议" in block and "同学反映家庭有经营收入" in block
    assert "复核异议" in block and "异议成立（调整等级）" in block and "困难 → 一般困难" in block
    assert 'class="level level-general"' in html and 'class="state state-notice"' in html


def test_reject_needs_a_reason(as_user: Callable[[str], FlaskClient], world: w.World) -> None:
    client = as_user("officer1")
    application_id = created(client)
    response = act(client, application_id, "reject")
    assert response.status_code == 422 and "请填写理由。" in text(response)
    assert act(client, application_id, "reject", note="家庭经济状况良好").status_code == 302
    events = db.session.query(AuditEvent).filter_by(action="application.reject").all()
    assert len(events) == 1 and "家庭经济状况良好" not in str(events[0].summary)  # notes are hashed


def test_other_schools_and_other_roles_cannot_act(
    as_user: Callable[[str], FlaskClient], world: w.World
) -> None:
    application_id = created(as_user("officer1"))
    for user, status in (("officer2", 404), ("county1", 403), ("auditor1", 403)):  # 404: issue 16
        client = as_user(user)
        response = client.post(
            f"/applications/{application_id}/review", data={"csrf_token": csrf(client), "review-version": "1"}
        )
        assert response.status_code == status, user
    assert as_user("officer2").get("/students/S1-002/apply").status_code == 404


def test_the_list_filters_by_state(as_user: Callable[[str], FlaskClient], world: w.World) -> None:
    client = as_user("officer1")
    first = created(client)
    created(client, "S1-002")
    act(client, first, "review")
    html = text(client.get("/applications?state=reviewed"))
    assert f"#{first}<" in html and html.count('class="state state-reviewed"') == 1
    assert client.get("/applications?state=bogus").status_code == 422
