"""The notices page (/notices): a school's notices with their revisions and print links, and the phone and
sign-off form; the printable revisions with 第N版 and 更正说明."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date

import pytest
from flask.testing import FlaskClient

from aidservice.extensions import db
from aidservice.models import AuditEvent
from tests.web.conftest import Clock, csrf
from tests.web.test_applications import act, created, text
from tests.world import web as w

pytestmark = pytest.mark.databases  # SQLite always, PostgreSQL when it answers

LATER = date(2020, 10, 14)


def revised_notice(client: FlaskClient, clock: Clock) -> int:
    """S1-001 published on 12 October, its objection upheld on the 14th (困难 -> 特别困难): revision 2."""
    application_id = created(client)
    assert act(client, application_id, "review").status_code == 302
    assert act(client, application_id, "publish_notice").status_code == 302
    clock.today = LATER
    assert act(client, application_id, "object", note="家长反映收入有误").status_code == 302
    done = act(client, application_id, "resolve", outcome="upheld", level="special", note="复核属实")
    assert done.status_code == 302, text(done)[:2000]
    return application_id


def settings_form(client: FlaskClient, school: str = w.S1, **fields: str) -> object:
    data = {"csrf_token": csrf(client, f"/notices?school={school}"), "school_code": school, **fields}
    return client.post("/notices/settings", data=data)


def test_the_officer_sees_the_notice_its_revisions_and_prints_each(
    as_user: Callable[[str], FlaskClient], world: w.World, clock: Clock
) -> None:
    client = as_user("officer1")
    revised_notice(client, clock)
    page = text(client.get("/notices"))
    assert "公示管理" in page and "公示中" in page
    assert "第2版（2020年10月14日）" in page and "版次记录（共2版）" in page
    assert "异议复核调整等级" in page and "首次公示" in page
    printed = re.search(r'href="(/schools/[^"]+/notices/\d+)">打印', page)
    assert printed is not None
    latest = text(client.get(printed.group(1)))
    assert "第2版（2020年10月14日）" in latest and "更正说明" in latest
    assert "认定等级由困难调整为特别困难" in latest and "王小明" in latest
    first_url = re.search(r'href="(/schools/[^"]+/notices/\d+/revisions/1)"', page).group(1)
    first = text(client.get(first_url))
    assert "第1版（2020年10月12日）" in first and "更正说明" not in first
    assert re.search(r"<td>王小明</td><td>[^<]*</td><td>困难</td>", first)  # as published that day


def test_the_officer_sets_the_phone_and_sign_off_and_the_notice_prints_them(
    as_user: Callable[[str], FlaskClient], world: w.World, clock: Clock
) -> None:
    client = as_user("officer1")
    revised_notice(client, clock)
    saved = settings_form(
        client, contact_phone="025-83456789", signoff="南京市玄武区第一中学学生资助工作领导小组"
    )
    assert saved.status_code == 303
    page = text(client.get(saved.headers["Location"]))  # type: ignore[attr-defined]
    assert "公示的监督电话和落款已保存。" in page and 'value="025-83456789"' in page
    notice_url = re.search(r'href="(/schools/[^"]+/notices/\d+)">打印', page).group(1)
    notice = text(client.get(notice_url))
    assert "监督电话：025-83456789。" in notice
    assert "南京市玄武区第一中学学生资助工作领导小组<br>2020年10月14日" in notice
    event = db.session.query(AuditEvent).filter_by(action="notice.settings").one()
    assert event.subject == f"school:{w.S1}"


def test_a_bad_phone_is_refused_next_to_the_field_in_chinese(
    as_user: Callable[[str], FlaskClient], world: w.World
) -> None:
    client = as_user("officer1")
    refused = settings_form(client, contact_phone="8345", signoff="小")
    assert refused.status_code == 422
    page = text(refused)
    assert "监督电话须为手机号码、带区号的固定电话" in page and "落款须为 2 至 60 个字的一行文字。" in page
    assert 'value="8345"' in page  # kept for correction
    assert db.session.query(AuditEvent).filter_by(action="notice.settings").count() == 0


def test_an_administrator_picks_a_school_and_the_auditor_only_reads(
    as_user: Callable[[str], FlaskClient], world: w.World
) -> None:
    page = text(as_user("province1").get(f"/notices?school={w.S2}"))
    assert re.search(rf'<option value="{w.S1}">', page) and re.search(
        rf'<option value="{w.S2}" selected>', page
    )
    city = text(as_user("city1").get("/notices"))
    assert (
        "<select" not in city and f'name="school_code" type="hidden" value="{w.S1}"' in city
    )  # its only school
    assert settings_form(as_user("county1"), contact_phone="13912345678", signoff="").status_code == 303
    audited = text(as_user("auditor1").get(f"/notices?school={w.S1}"))
    assert "13912345678" in audited and 'name="contact_phone"' not in audited
    assert as_user("officer2").get(f"/notices?school={w.S1}").status_code == 404


def test_the_navigation_links_the_notices_page(as_user: Callable[[str], FlaskClient], world: w.World) -> None:
    page = text(as_user("officer1").get("/notices"))
    assert re.search(r'<a href="/notices" aria-current="page">公示管理</a>', page)
    english = text(as_user("officer1").get("/notices?lang=en"))
    assert ">Notices</a>" in english and "Phone and sign-off printed on the notices" in english
