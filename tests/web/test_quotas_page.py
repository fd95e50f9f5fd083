"""The quotas page (/quotas): administrators see places, funded, unfunded and shortfall per school with the
stage's guide ratio and proposed places; a stage without a guide says so; officers are refused."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from aidservice.extensions import db
from aidservice.models import AuditEvent
from aidservice.services.applications.quotas import put_quota
from tests.web.conftest import csrf
from tests.world import web as w

pytestmark = pytest.mark.databases


def page(client: FlaskClient, url: str, status: int = 200) -> str:
    response = client.get(url)
    assert response.status_code == status, (url, response.status_code)
    return response.get_data(as_text=True)


def test_an_administrator_sees_places_and_that_junior_has_no_guide(
    app: Flask, as_user: Callable[[str], FlaskClient], world: w.World
) -> None:
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
    html = page(as_user("county1"), f"/quotas?stage=junior&school_year={w.YEAR}")
    assert "名额与指导比例" in html and "该学段暂无省定指导比例，不提出建议名额" in html
    row = re.search(r"<tr class=\"level-school\">.*?</tr>", html, re.S).group(0)
    assert "南京市玄武区第一中学" in row and "义务教育家庭经济困难学生生活补助" in row
    cells = re.findall(r'<td class="num">(.*?)</td>', row, re.S)
    assert cells[0] == "5" and cells[8] == "3"  # enrolled; places set
    assert "未设" in cells[7]  # no proposal without a guide
    assert "无锡" not in html  # another city's school is outside the county


def test_the_preschool_guide_is_shown_with_its_basis(
    as_user: Callable[[str], FlaskClient], world: w.World
) -> None:
    html = page(as_user("province1"), "/quotas?stage=preschool")
    assert "学前教育资助指导比例" in html and "第29项" in html
    assert "该范围内没有此学段的学校。" in html  # the world has no kindergarten
    assert 'aria-current="page">名额</a>' in html


@pytest.mark.parametrize(("who", "status"), [("officer1", 403), ("auditor1", 200)])
def test_officers_are_refused(
    as_user: Callable[[str], FlaskClient], world: w.World, who: str, status: int
) -> None:
    page(as_user(who), "/quotas", status)


def test_a_bad_stage_is_shown_on_the_form(as_user: Callable[[str], FlaskClient], world: w.World) -> None:
    html = page(as_user("county1"), "/quotas?stage=kindergarten", 422)
    assert re.search(r'field has-error">\s*<label for="stage">', html)


def _set_places(client: FlaskClient, reason: str, places: str = "4"):  # type: ignore[no-untyped-def]
    return client.post(
        "/quotas/places",
        data={
            "csrf_token": csrf(client, "/quotas?stage=junior"),
            "school_code": w.S1,
            "program": "compulsory_living_subsidy",
            "school_year": w.YEAR,
            "places": places,
            "reason": reason,
            "back_stage": "junior",
        },
    )


def test_an_administrator_sets_places_with_a_reason_kept_in_the_audit_trail(
    as_user: Callable[[str], FlaskClient], world: w.World
) -> None:
    client = as_user("county1")
    assert "设定名额" in page(client, "/quotas?stage=junior")
    response = _set_places(client, "按指导比例调整")
    assert response.status_code == 303 and "stage=junior" in response.headers["Location"]
    (event,) = db.session.execute(select(AuditEvent).where(AuditEvent.action == "quota.set")).scalars()
    assert (
        event.summary["places"] == {"before": None, "after": 4}
        and event.summary["reason"] == "按指导比例调整"
    )
    row = re.search(r"<tr class=\"level-school\">.*?</tr>", page(client, "/quotas?stage=junior"), re.S).group(
        0
    )
    assert re.findall(r'<td class="num">(.*?)</td>', row, re.S)[8] == "4"


def test_places_without_a_reason_are_refused_and_nothing_changes(
    as_user: Callable[[str], FlaskClient], world: w.World
) -> None:
    client = as_user("county1")
    response = _set_places(client, "")
    assert response.status_code == 422 and "请填写调整理由。" in response.get_data(as_text=True)
    assert _set_places(client, "理由", places="-1").status_code == 422
    assert db.session.execute(select(AuditEvent).where(AuditEvent.action == "quota.set")).first() is None


def test_an_auditor_reads_but_may_not_set_places(
    as_user: Callable[[str], FlaskClient], world: w.World
) -> None:
    client = as_user("auditor1")
    assert "设定名额" not in page(client, "/quotas?stage=junior")
    assert _set_places(client, "理由").status_code == 403


def test_the_region_is_chosen_by_name_among_the_administrators_own(
    as_user: Callable[[str], FlaskClient],
) -> None:
    html = page(as_user("city1"), f"/quotas?stage=junior&region=320102&school_year={w.YEAR}")
    select = re.search(r'<select id="region" name="region">(.*?)</select>', html, re.S)
    assert select is not None
    offered = re.findall(r'<option value="(\d*)"( selected)?>[　]*([^<]*)</option>', select.group(1))
    assert [(code, name) for code, _sel, name in offered] == [
        ("", "默认为您的范围"),
        ("320100", "南京市"),
        ("320102", "玄武区"),
    ]
    assert [code for code, selected, _name in offered if selected] == ["320102"]
    assert "南京市玄武区第一中学" in html


def test_without_a_stage_the_page_opens_on_one_the_regions_schools_teach(
    as_user: Callable[[str], FlaskClient],
) -> None:
    html = page(as_user("county1"), "/quotas")  # 玄武区 has one junior secondary school, no kindergarten
    assert '<option value="junior" selected>' in html and "南京市玄武区第一中学" in html
    html = page(as_user("city2"), "/quotas")  # 无锡市: one primary school
    assert '<option value="primary" selected>' in html and "无锡市梁溪区实验小学" in html
