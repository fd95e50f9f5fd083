"""Administrators' regions in the UI: the dashboard's rows drill down province → city → county → school → the
school's roster, within the caller's scope; an administrator re-determines their region from the start page
(a background job, confirmed, with a reason in the trail); the application list names school and county."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from aidservice.extensions import db
from aidservice.models import AuditEvent, Job
from tests.web.conftest import csrf
from tests.web.test_applications import created
from tests.world import web as w

pytestmark = pytest.mark.databases


def page(client: FlaskClient, url: str, status: int = 200) -> str:
    response = client.get(url)
    assert response.status_code == status, (url, response.status_code)
    return response.get_data(as_text=True)


def drill_links(html: str) -> list[str]:
    return re.findall(r'<tr class="drill-row"[^>]*>\s*<th scope="row"><a href="([^"]+)"', html)


def test_the_province_drills_down_to_a_schools_roster(
    as_user: Callable[[str], FlaskClient], world: w.World
) -> None:
    client = as_user("province1")
    assert "/regions/320100" in drill_links(page(client, "/"))  # the province's cities on the start page
    city = page(client, "/regions/320100")
    assert "/regions/320102" in drill_links(city)
    county = page(client, "/regions/320102")
    assert drill_links(county) == [f"/students?school={w.S1}"]
    row = re.search(r'<tr class="drill-row" data-code="3201020001">.*?</tr>', county, re.S).group(0)
    assert re.findall(r'<td class="num">(\d+)</td>', row)[0] == "5"  # the school's students
    crumbs = re.search(r'<nav class="breadcrumb".*?</nav>', county, re.S).group(0)
    assert 'href="/regions/320100"' in crumbs and 'href="/"' in crumbs
    roster = page(client, f"/students?school={w.S1}")
    assert "王小明" in roster and "赵六" not in roster


def test_a_county_administrator_stays_in_the_county(
    as_user: Callable[[str], FlaskClient], world: w.World
) -> None:
    client = as_user("county1")
    assert drill_links(page(client, "/")) == [f"/students?school={w.S1}"]  # the county's schools
    county = page(client, "/regions/320102")
    crumbs = re.search(r'<nav class="breadcrumb".*?</nav>', county, re.S).group(0)
    assert "/regions/320100" not in crumbs  # never a link above the caller's own region
    for outside in ("320100", "320000", "320200", "320213"):
        page(client, f"/regions/{outside}", 403)
    page(as_user("city1"), "/regions/320213", 403)
    page(as_user("province1"), "/regions/329999", 404)
    page(as_user("officer1"), "/regions/320102", 403)
    assert "/regions/320200" in drill_links(page(as_user("auditor1"), "/"))  # the auditor reads the province


def test_an_administrator_starts_the_regions_redetermination_with_a_reason(
    as_user: Callable[[str], FlaskClient], world: w.World
) -> None:
    client = as_user("county1")
    token = csrf(client)
    response = client.post(
        "/regions/redetermine", data={"csrf_token": token, "reason": "部门数据更新", "confirm": "y"}
    )
    assert response.status_code == 303
    job_id = int(re.fullmatch(r".*/jobs/(\d+)", response.headers["Location"]).group(1))
    job = db.session.get(Job, job_id)
    assert job is not None and job.kind == "redetermine" and job.scope_region == "320102"
    assert job.params["region"] == "320102"
    events = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "redetermine.requested")).all()
    assert [(e.subject, e.summary["reason"]) for e in events] == [("region:320102", "部门数据更新")]
    assert "批量重新认定" in page(client, f"/jobs/{job_id}")


def test_redetermination_needs_the_confirmation_and_an_administrator(
    as_user: Callable[[str], FlaskClient], world: w.World
) -> None:
    client = as_user("city1")
    before = db.session.scalar(select(db.func.count()).select_from(Job))
    response = client.post("/regions/redetermine", data={"csrf_token": csrf(client), "reason": "更新"})
    assert response.status_code == 422 and "请勾选确认。" in response.get_data(as_text=True)
    assert db.session.scalar(select(db.func.count()).select_from(Job)) == before
    for username in ("officer1", "auditor1"):
        other = as_user(username)
        assert 'action="/regions/redetermine"' not in page(other, "/")
        denied = other.post(
            "/regions/redetermine", data={"csrf_token": csrf(other), "reason": "x", "confirm": "y"}
        )
        assert denied.status_code == 403
    assert 'action="/regions/redetermine"' in page(client, "/")


def test_the_administrators_list_names_school_and_county(
    as_user: Callable[[str], FlaskClient], world: w.World
) -> None:
    created(as_user("officer1"))
    html = page(as_user("city1"), "/applications")
    assert "南京市玄武区第一中学" in html and 'class="region-col">玄武区' in html
    assert "sort=region" in html
    officer = page(as_user("officer1"), "/applications")
    assert 'class="region-col"' not in officer
