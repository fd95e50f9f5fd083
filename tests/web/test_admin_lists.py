"""The administrators' application list (issue 20 part 1): region and school filters offered by name within the
caller's scope, the school and county columns; a region outside the scope, forged in the query, matches nothing
(the list's scope always applies), in the page, the download and the API alike."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from flask.testing import FlaskClient

from tests.web.test_applications import created
from tests.web.test_lists import bearer, csv_rows
from tests.world import web as w

pytestmark = pytest.mark.databases

S1_NAME, S2_NAME = "南京市玄武区第一中学", "无锡市梁溪区实验小学"


@pytest.fixture
def applied(as_user: Callable[[str], FlaskClient]) -> dict[str, int]:
    """An application in each school: S1-001 (Nanjing, 玄武区) and S2-001 (Wuxi, 梁溪区)."""
    return {
        "S1-001": created(as_user("officer1"), "S1-001"),
        "S2-001": created(as_user("officer2"), "S2-001"),
    }


def page_of(client: FlaskClient, **query: str) -> tuple[int, str]:
    response = client.get("/applications", query_string=query)
    return response.status_code, response.get_data(as_text=True)


def students_on(html: str) -> list[str]:
    return re.findall(r">(S\d-\d{3})</a>", html)


def options(html: str, name: str) -> list[str]:
    select = re.search(rf'<select id="f-{name}" name="{name}"[^>]*>(.*?)</select>', html, re.S)
    assert select, f"no {name} select"
    return [label.strip("　") for label in re.findall(r"<option [^>]*>([^<]*)</option>", select.group(1))]


def test_the_province_administrator_filters_by_region_and_school_named(
    as_user: Callable[[str], FlaskClient], applied: dict[str, int]
) -> None:
    province = as_user("province1")
    status, html = page_of(province)
    assert status == 200 and sorted(students_on(html)) == ["S1-001", "S2-001"]
    regions = options(html, "region")
    assert (
        regions[:3] == ["全部", "南京市", "玄武区"] and regions.index("梁溪区") == regions.index("无锡市") + 1
    )
    assert len(regions) == 1 + 13 + 2  # the province's 13 cities and the two counties known
    assert options(html, "school") == ["全部", S1_NAME, S2_NAME]
    assert 'class="school-col"' in html and 'class="region-col">玄武区<' in html
    assert students_on(page_of(province, region="320200")[1]) == ["S2-001"]
    assert students_on(page_of(province, region="320102")[1]) == ["S1-001"]
    assert students_on(page_of(province, school=w.S2)[1]) == ["S2-001"]
    status, html = page_of(province, region="320100")
    assert options(html, "school") == ["全部", S1_NAME]  # a chosen region narrows the schools offered
    assert 'value="320100" selected' in html


def test_a_county_administrator_is_offered_only_the_county_and_a_forged_region_matches_nothing(
    as_user: Callable[[str], FlaskClient], client: FlaskClient, world: w.World, applied: dict[str, int]
) -> None:
    county = as_user("county1")
    status, html = page_of(county)
    assert status == 200 and students_on(html) == ["S1-001"]
    assert options(html, "region") == ["全部", "玄武区"] and options(html, "school") == ["全部", S1_NAME]
    status, html = page_of(county, region="320213")
    assert status == 200 and students_on(html) == [] and S2_NAME not in html and "赵六" not in html
    assert options(html, "school") == ["全部"]
    assert csv_rows(county.get("/applications?region=320213&format=csv").data)[1:] == []
    api = client.get("/api/v1/applications?region=320213", headers=bearer(world, "county1"))
    assert api.status_code == 200 and api.json["total"] == 0
    api = client.get("/api/v1/applications?region=320102", headers=bearer(world, "county1"))
    assert [a["student"]["student_id"] for a in api.json["items"]] == ["S1-001"]
    roster = county.get("/students?region=320213").get_data(as_text=True)
    assert "赵六" not in roster and "王小明" not in roster


def test_a_bad_region_is_named_and_officers_get_no_region_filter(
    as_user: Callable[[str], FlaskClient], applied: dict[str, int]
) -> None:
    status, html = page_of(as_user("city1"), region="32'--")
    assert status == 422 and "应为6位行政区划代码" in html
    status, html = page_of(as_user("officer1"))
    assert status == 200 and 'id="f-region"' not in html and 'id="f-school"' not in html
    assert students_on(html) == ["S1-001"]


def test_the_city_administrator_filters_the_roster_by_county(as_user: Callable[[str], FlaskClient]) -> None:
    city = as_user("city2")
    html = city.get("/students?region=320213").get_data(as_text=True)
    assert "赵六" in html
    assert options(html, "region") == ["全部", "无锡市", "梁溪区"]
    assert "赵六" not in city.get("/students?region=320102").get_data(as_text=True)
