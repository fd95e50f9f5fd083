"""Dashboards, rules, reports, languages, error pages, and what every template may not contain."""

from __future__ import annotations

import io
import json
import re
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from openpyxl import load_workbook

from aidservice import i18n
from aidservice.extensions import db
from aidservice.models import AuditEvent
from tests.web.conftest import csrf
from tests.world import web as w
from tests.world.vocabulary import shipped_rules

pytestmark = pytest.mark.databases  # SQLite always, PostgreSQL when it answers

TEMPLATES = Path(__file__).resolve().parents[2] / "aidservice" / "templates"


def html(client: FlaskClient, url: str, status: int = 200) -> str:
    response = client.get(url)
    assert response.status_code == status, (url, response.status_code)
    return response.get_data(as_text=True)


# ------------------------------------------------------------------------------------------ dashboards


def test_officer_dashboard(as_user: Callable[[str], FlaskClient], world: w.World) -> None:
    client = as_user("officer1")
    page = html(client, "/")
    assert "南京市玄武区第一中学" in page and "在校学生 5" in page
    block = re.search(r"未申请的特殊群体学生.*?</section>", page, re.S).group(0)
    assert "李娜" in block and "建档立卡学生" in block  # through the guardian's household record
    assert "张伟" in block and "孤儿" in block
    assert "王小明" not in block  # the 低保 record starts only in March 2021
    assert "/students/S1-002/apply" in block
    data = {"csrf_token": csrf(client, "/students/S1-002/apply"), "commitment": "y"}
    assert client.post("/students/S1-002/apply", data=data).status_code == 302
    page = html(client, "/")
    assert "李娜" not in re.search(r"未申请的特殊群体学生.*?</section>", page, re.S).group(0)
    assert re.search(r'<span class="tile-n">1</span> <span class="state state-submitted">', page)


def test_officer_dashboard_shows_quota_use(
    app: Flask, as_user: Callable[[str], FlaskClient], world: w.World
) -> None:
    from aidservice.services.applications.quotas import put_quota

    put_quota(
        db.session,
        actor=w.SYSTEM,
        settings=w.settings_for(app),
        school_code=w.S1,
        program="compulsory_living_subsidy",
        school_year=w.YEAR,
        places=3,
    )
    db.session.commit()
    page = html(as_user("officer1"), "/")
    block = re.search(r"名额使用.*?</section>", page, re.S).group(0)
    assert "义务教育家庭经济困难学生生活补助" in block and '<td class="num">3</td>' in block


def test_administrator_dashboard(as_user: Callable[[str], FlaskClient], world: w.World) -> None:
    page = html(as_user("province1"), "/")
    assert "江苏省" in page or "320000" in page
    assert re.search(r'<span class="tile-n">6</span> 在校学生', page)
    assert re.search(r'<span class="tile-n">2</span> 特殊群体学生（去重）', page)
    groups = re.search(r"特殊群体覆盖.*?</section>", page, re.S).group(0)
    assert re.search(r"建档立卡学生</th>\s*<td class=\"num\">1</td>", groups)
    assert re.search(r"孤儿</th>\s*<td class=\"num\">1</td>", groups)
    batches = re.search(r"最近的部门数据批次.*?</section>", page, re.S).group(0)
    assert "B-2020-09-01" in batches and "M-2020-09-01" in batches and "扶贫部门" in batches
    levels = re.search(r"认定等级分布.*?</section>", page, re.S).group(0)
    assert "特别困难" in levels
    county = html(as_user("city2"), "/")
    assert re.search(r'<span class="tile-n">1</span> 在校学生', county)  # 无锡: one student


# -------------------------------------------------------------------------------------------- rules


def test_rules_page_lists_programs_amounts_citations_and_statuses(
    as_user: Callable[[str], FlaskClient], world: w.World
) -> None:
    page = html(as_user("auditor1"), "/rules")
    program = re.search(r'<tr id="program-compulsory_living_subsidy">.*?</tr>', page, re.S).group(0)
    assert "义务教育家庭经济困难学生生活补助" in program and "¥1,250.00" in program and "¥2,000.00" in program
    assert "《江苏省学生资助政策基线（暂定）》" in program and 'class="badge provisional"' in program
    assert "按学费标准" in page  # the waivers pay the school's fee
    assert "教财〔2018〕16号" in page and "特别困难" in page
    assert "尚未运行" in page  # no what-if yet


def test_rules_page_lists_the_sources_their_statuses_and_the_special_groups(
    as_user: Callable[[str], FlaskClient], world: w.World
) -> None:
    page = html(as_user("auditor1"), "/rules")
    section = re.search(r'<section class="card" id="sources">.*?</section>', page, re.S).group(0)
    assert "数据来源与特殊群体" in section
    civil = re.search(r"<tr>\s*<th[^>]*>民政部门.*?</tr>", section, re.S).group(0)
    assert "城乡最低生活保障家庭" in civil and "学生本人或其监护人（家庭）" in civil
    assert (
        "残联" in section and "附带 残疾等级（必填）" in section and "监护人持有时：父母持残疾人证" in section
    )
    groups = re.findall(r"<li>([^<\s]+)<details", section)
    assert groups == list(shipped_rules().vocabulary.group_labels.values())
    assert groups[0] == "建档立卡学生" and "事实无人抚养儿童" in groups


def test_rules_page_shows_the_last_what_if(
    app: Flask, as_user: Callable[[str], FlaskClient], world: w.World, rules_copy: Path
) -> None:
    level_file = rules_copy / "parameters" / "basic_education.yaml"
    text = level_file.read_text(encoding="utf-8")
    assert "1250" in text
    level_file.write_text(text.replace("1250", "1300", 1), encoding="utf-8")
    runner = app.test_cli_runner()
    result = runner.invoke(args=["aid", "whatif", "--rules", str(rules_copy), "--as-of", "2020-09-01"])
    assert result.exit_code == 0, result.output
    saved = json.loads(Path(app.config["AID_WHATIF_FILE"]).read_text(encoding="utf-8"))
    assert saved["draft"] is True and saved["students"] == 6 and "examples" not in saved["diff"]
    page = html(as_user("officer1"), "/rules")
    block = re.search(r'<section class="card" id="whatif">.*?</section>', page, re.S).group(0)
    assert "草案规则（rules）" in block and "2020年9月1日" in block and "检查学生" in block
    assert not re.search(r"\d{17}[\dX]", block)


# ------------------------------------------------------------------------------------------ reports


def test_reports_page_shows_a_report_with_charts_and_downloads(
    as_user: Callable[[str], FlaskClient], world: w.World
) -> None:
    client = as_user("province1")
    form = html(client, "/reports")
    assert 'value="2020-2021-autumn"' in form  # the current semester is the default period
    page = html(client, "/reports?kind=special-groups&period=2020-2021-autumn")
    assert "<svg" in page and 'class="bar"' in page
    assert "建档立卡学生" in page and "李娜" in page and not re.search(r"\d{17}[\dX]", page)
    assert db.session.query(AuditEvent).filter_by(action="report.generated").count() == 1
    for kind in ("programs", "regions"):
        assert "<table" in html(client, f"/reports?kind={kind}&period=2020-2021&region=320100")
    xlsx = client.get("/reports/special-groups/download?period=2020-2021-autumn&region=320000&format=xlsx")
    assert xlsx.status_code == 200 and xlsx.data[:2] == b"PK"
    assert "attachment" in xlsx.headers["Content-Disposition"]
    book = load_workbook(io.BytesIO(xlsx.data), read_only=True)
    assert len(book.sheetnames) > 1
    csv_ = client.get("/reports/regions/download?period=2020-2021-autumn&format=csv")
    assert csv_.status_code == 200 and csv_.data.startswith(b"\xef\xbb\xbf")


def test_report_form_errors_are_shown_next_to_the_field(
    as_user: Callable[[str], FlaskClient], world: w.World
) -> None:
    client = as_user("county1")
    page = html(client, "/reports?kind=programs&period=next-year", 422)
    assert (
        re.search(r'<div class="field has-error">\s*<label for="period">', page)
        and 'value="next-year"' in page
    )
    outside = client.get("/reports?kind=programs&period=2020-2021&region=320200")
    assert outside.status_code == 403
    assert html(client, "/reports?kind=nope&period=2020-2021", 422).count("请选择报告类型。") == 1
    assert client.get("/reports/nope/download?period=2020-2021").status_code == 404
    assert client.get("/reports/programs/download?period=2020-2021&format=pdf").status_code == 422


# -------------------------------------------------------------------------------- language, formats


def test_english_on_request_and_remembered(as_user: Callable[[str], FlaskClient], world: w.World) -> None:
    client = as_user("officer1")
    page = html(client, "/students?lang=en")
    assert '<html lang="en">' in page and "Roster" in page and "Search students" in page
    assert "Roster" in html(client, "/students")  # remembered in the session
    assert "学生名册" in html(client, "/students?lang=zh-CN")


def test_the_default_language_is_a_setting(app_factory) -> None:  # type: ignore[no-untyped-def]
    english = app_factory(AID_UI_LANGUAGE="en")
    assert '<html lang="en">' in english.test_client().get("/login").get_data(as_text=True)


def test_dates_and_money_are_formatted_the_chinese_way() -> None:
    assert i18n.format_date(date(2020, 9, 1)) == "2020年9月1日"
    assert i18n.format_date("2021-03-01") == "2021年3月1日"
    assert i18n.format_date(date(2020, 9, 1), "en") == "1 Sep 2020"
    assert i18n.format_datetime(datetime(2020, 9, 1, 0, 30, tzinfo=UTC)) == "2020年9月1日 08:30"
    assert i18n.format_money("1250.00") == "¥1,250.00"
    assert i18n.format_money(1250) == "¥1,250.00"
    assert i18n.format_money("-12.5") == "-¥12.50"
    assert i18n.format_money(None) == ""


# ---------------------------------------------------------------------------------- errors, templates


def test_error_pages_are_chinese_and_use_the_layout(
    as_user: Callable[[str], FlaskClient], world: w.World
) -> None:
    client = as_user("officer1")
    missing = client.get("/applications/999")
    page = missing.get_data(as_text=True)
    assert missing.status_code == 404 and "页面不存在" in page and "aid.css" in page and "请求编号" in page
    assert missing.headers["X-Request-ID"] in page
    english = client.get("/applications/999?lang=en").get_data(as_text=True)
    assert "Not found" in english


@pytest.mark.parametrize("path", [*sorted(p.name for p in TEMPLATES.glob("web/*.html")), "../error.html"])
def test_templates_have_no_inline_script_or_style(path: str) -> None:
    source = (TEMPLATES / "web" / path).read_text(encoding="utf-8")
    # the only script allowed: a static file of ours, loaded by URL (the CSP has script-src 'self')
    scripts = re.findall(r"<script[^>]*>", source)
    assert all(
        re.fullmatch(r"""<script src="\{\{ url_for\('static', filename='[a-z_]+\.js'\) \}\}" defer>""", s)
        for s in scripts
    ), scripts
    assert len(re.findall(r"<script", source)) == len(
        re.findall(r"></script>", source)
    )  # empty: nothing inline
    assert "<style" not in source
    assert not re.search(r"\sstyle=", source) and not re.search(r"\son[a-z]+=", source)
    assert "javascript:" not in source


def test_rendered_pages_have_no_inline_script_or_style(
    as_user: Callable[[str], FlaskClient], world: w.World
) -> None:
    client = as_user("officer1")
    for url in (
        "/",
        "/students",
        "/students/S1-001",
        "/students/S1-001/apply",
        "/applications",
        "/rules",
        "/reports?kind=special-groups&period=2020-2021",
        "/students/import",
        "/nowhere",
    ):
        page = client.get(url).get_data(as_text=True)
        inline = [
            s
            for s in re.findall(r"<script[^>]*>", page)
            if not re.fullmatch(r'<script src="/static/[a-z_]+\.js" defer>', s)
        ]
        assert not inline and "<style" not in page and not re.search(r"\sstyle=", page), url
