"""The programs report against the hand-computed province of tests/world/reports.py."""

from __future__ import annotations

import io

import pytest
from flask.testing import FlaskClient
from openpyxl import load_workbook

from tests.world.reports import (
    Province,
    as_json,
    csv_sections,
    province_fixture,  # noqa: F401 - fixture "province"
    rows_by,
)

pytestmark = pytest.mark.databases
CELLS = ("recipients", "not_funded", "committed", "paid_autumn", "paid_spring", "paid", "rule_status")


def get(client: FlaskClient, province: Province, who: str = "province_admin", **query: str):  # type: ignore[no-untyped-def]
    params = {"period": "2020-2021-autumn", **query}
    return client.get("/api/v1/reports/programs", query_string=params, headers=province.headers(who))


def table(report: dict) -> dict:
    return {
        key: tuple(row[c] for c in CELLS)
        for key, row in rows_by(report["sections"]["programs"], "program", "stage").items()
    }


def test_recipients_money_committed_and_paid_in_the_semester(client: FlaskClient, province: Province) -> None:
    report = as_json(get(client, province).data)
    assert table(report) == {
        ("compulsory_living_subsidy", "junior"): (
            2,
            1,
            "2500.00",
            "1250.00",
            "0.00",
            "1250.00",
            "provisional",
        ),
        ("compulsory_living_subsidy", "all"): (2, 1, "2500.00", "1250.00", "0.00", "1250.00", "provisional"),
        ("senior_high_fee_waiver", "senior_high"): (1, 0, "1600.00", "800.00", "0.00", "800.00", "confirmed"),
        ("senior_high_fee_waiver", "all"): (1, 0, "1600.00", "800.00", "0.00", "800.00", "confirmed"),
        ("senior_high_grant", "senior_high"): (1, 0, "3000.00", "1500.00", "0.00", "1500.00", "provisional"),
        ("senior_high_grant", "all"): (1, 0, "3000.00", "1500.00", "0.00", "1500.00", "provisional"),
    }
    (quota,) = report["sections"]["quotas"]["rows"]
    assert quota == {
        "program": "compulsory_living_subsidy",
        "program_name": "义务教育家庭经济困难学生生活补助",
        "schools": 1,
        "places": 0,
        "funded": 1,
        "not_funded": 1,
        "shortfall": 1,
    }
    provisional = {(r["program"], r["item"]) for r in report["sections"]["provisional"]["rows"]}
    assert ("compulsory_living_subsidy", "program") in provisional
    assert any(
        p == "senior_high_grant" and item.startswith("parameter senior_high_grant_special")
        for p, item in provisional
    )
    assert not any(p == "senior_high_fee_waiver" for p, _item in provisional)
    assert {r["rule_set_version"] for r in report["sections"]["provisional"]["rows"]} == set(
        report["rule_set_versions"]["decisions"]
    )


def test_the_school_year_pays_both_semesters_and_a_range_what_falls_due_in_it(
    client: FlaskClient, province: Province
) -> None:
    year = table(as_json(get(client, province, period="2020-2021").data))
    assert year[("compulsory_living_subsidy", "all")] == (
        2,
        1,
        "2500.00",
        "1250.00",
        "1250.00",
        "2500.00",
        "provisional",
    )
    spring = table(as_json(get(client, province, period="2020-2021-spring").data))
    assert spring[("senior_high_grant", "senior_high")][3:6] == ("0.00", "1500.00", "1500.00")
    september = table(as_json(get(client, province, period="2020-09-01..2020-09-30").data))
    assert september[("senior_high_fee_waiver", "all")][2:6] == ("1600.00", "800.00", "0.00", "800.00")
    later = table(as_json(get(client, province, period="2020-10-01..2021-02-28").data))
    assert later[("senior_high_fee_waiver", "all")][2:6] == ("1600.00", "0.00", "0.00", "0.00")


def test_scoped_to_a_city_and_a_county(client: FlaskClient, province: Province) -> None:
    wuxi = as_json(get(client, province, "wuxi_admin").data)
    assert table(wuxi) == {
        ("compulsory_living_subsidy", "junior"): (1, 0, "1250.00", "625.00", "0.00", "625.00", "provisional"),
        ("compulsory_living_subsidy", "all"): (1, 0, "1250.00", "625.00", "0.00", "625.00", "provisional"),
    }
    assert wuxi["sections"]["quotas"]["rows"] == []
    county = as_json(get(client, province, "nanjing_admin", region="320104").data)
    assert {p for p, _s in table(county)} == {"senior_high_fee_waiver", "senior_high_grant"}


def test_formats_carry_the_same_numbers(client: FlaskClient, province: Province) -> None:
    sections = csv_sections(get(client, province, format="csv").data)
    rows = sections["各资助项目执行情况（按学段）"]
    header = rows[0]
    first = dict(zip(header, rows[1], strict=True))
    assert (
        first["资助项目"],
        first["受助学生数"],
        first["已决定金额（元）"],
        first["秋季学期应发（元）"],
    ) == ("义务教育家庭经济困难学生生活补助", "2", "2500.00", "1250.00")
    assert (
        "项目代码" not in header and "学段代码" not in header
    )  # files for people: labels, the JSON keeps codes
    book = load_workbook(io.BytesIO(get(client, province, format="xlsx").data))
    sheet = book["各资助项目执行情况（按学段）"]
    values = [c.value for c in sheet[2]]
    assert values[:6] == [
        "义务教育家庭经济困难学生生活补助",
        "助学金",  # the kind by its label (the JSON keeps the code)
        "初中",
        2,
        1,
        2500,
    ]
    page = get(client, province, format="html").data.decode("utf-8")
    assert page.count("<svg") == 2 and "普通高中免学杂费" in page and "2,500.00" in page
