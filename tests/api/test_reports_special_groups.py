"""The special-group report against the hand-computed province of tests/world/reports.py."""

from __future__ import annotations

import io
from datetime import date

import pytest
from flask.testing import FlaskClient
from openpyxl import load_workbook

from aidservice.services.reports.special_groups import REJECTED_ELSEWHERE
from tests.world.factories import VAULT, id_number
from tests.world.reports import (
    Province,
    as_json,
    csv_sections,
    person,
    province_fixture,  # noqa: F401 - fixture "province"
    rows_by,
    xlsx_sheets,
)

pytestmark = pytest.mark.databases

REASONS = ("no_application", "in_review", "rejected", "quota_shortfall", "data_conflict", "no_award")


def get(client: FlaskClient, province: Province, who: str = "province_admin", **query: str):  # type: ignore[no-untyped-def]
    params = {"period": "2020-2021-autumn", **query}
    return client.get("/api/v1/reports/special-groups", query_string=params, headers=province.headers(who))


def counts(row: dict, *keys: str) -> tuple:
    return tuple(row[k] for k in keys)


CELLS = ("students", "aided", "not_aided", "coverage", *REASONS, "unmatched", "committed", "paid")


def test_coverage_by_group_and_stage_as_computed_by_hand(client: FlaskClient, province: Province) -> None:
    response = get(client, province)
    assert response.status_code == 200 and response.mimetype == "application/json"
    report = as_json(response.data)
    assert report["empty"] is False and report["period"]["start"] == "2020-09-01"
    assert report["region"] == {"code": "320000", "level": "province", "name": "江苏省"}
    rows = rows_by(report["sections"]["groups"], "group", "stage")
    expected = {
        # students aided not coverage no_app review reject quota conflict no_award unmatched committed paid
        ("registered_poor", "junior"): (1, 1, 0, 1.0, 0, 0, 0, 0, 0, 0, 0, "1250.00", "625.00"),
        ("registered_poor", "senior_high"): (1, 1, 0, 1.0, 0, 0, 0, 0, 0, 0, 0, "4600.00", "2300.00"),
        ("registered_poor", "all"): (2, 2, 0, 1.0, 0, 0, 0, 0, 0, 0, 1, "5850.00", "2925.00"),
        ("poverty_monitored", "all"): (0, 0, 0, None, 0, 0, 0, 0, 0, 0, 0, "0.00", "0.00"),
        ("subsistence_allowance", "primary"): (1, 0, 1, 0.0, 0, 0, 0, 0, 1, 0, 0, "0.00", "0.00"),
        ("subsistence_allowance", "junior"): (1, 0, 1, 0.0, 0, 1, 0, 0, 0, 0, 0, "0.00", "0.00"),
        ("subsistence_allowance", "senior_high"): (1, 1, 0, 1.0, 0, 0, 0, 0, 0, 0, 0, "4600.00", "2300.00"),
        ("subsistence_allowance", "all"): (3, 1, 2, 0.3333, 0, 1, 0, 0, 1, 0, 0, "4600.00", "2300.00"),
        ("extreme_poverty_support", "all"): (0, 0, 0, None, 0, 0, 0, 0, 0, 0, 0, "0.00", "0.00"),
        ("orphan", "preschool"): (1, 0, 1, 0.0, 0, 0, 0, 0, 0, 1, 0, "0.00", "0.00"),
        ("orphan", "primary"): (1, 0, 1, 0.0, 1, 0, 0, 0, 0, 0, 0, "0.00", "0.00"),
        ("orphan", "all"): (2, 0, 2, 0.0, 1, 0, 0, 0, 0, 1, 0, "0.00", "0.00"),
        ("de_facto_orphan", "all"): (0, 0, 0, None, 0, 0, 0, 0, 0, 0, 0, "0.00", "0.00"),
        ("martyr_child", "junior"): (1, 0, 1, 0.0, 0, 0, 0, 1, 0, 0, 0, "0.00", "0.00"),
        ("martyr_child", "all"): (1, 0, 1, 0.0, 0, 0, 0, 1, 0, 0, 0, "0.00", "0.00"),
        ("disabled", "junior"): (1, 0, 1, 0.0, 0, 0, 1, 0, 0, 0, 0, "0.00", "0.00"),
        ("disabled", "all"): (1, 0, 1, 0.0, 0, 0, 1, 0, 0, 0, 1, "0.00", "0.00"),
        ("any", "preschool"): (1, 0, 1, 0.0, 0, 0, 0, 0, 0, 1, 0, "0.00", "0.00"),
        ("any", "primary"): (2, 0, 2, 0.0, 1, 0, 0, 0, 1, 0, 0, "0.00", "0.00"),
        ("any", "junior"): (4, 1, 3, 0.25, 0, 1, 1, 1, 0, 0, 0, "1250.00", "625.00"),
        ("any", "senior_high"): (1, 1, 0, 1.0, 0, 0, 0, 0, 0, 0, 0, "4600.00", "2300.00"),
        ("any", "all"): (8, 2, 6, 0.25, 1, 1, 1, 1, 1, 1, 2, "5850.00", "2925.00"),
    }
    assert {key: counts(row, *CELLS) for key, row in rows.items()} == expected
    assert rows[("orphan", "all")]["group_name"] == "孤儿" and rows[("any", "junior")]["stage_name"] == "初中"
    assert report["rule_set_versions"]["decisions"] == [report["running_rule_set_version"]]
    sources = [w["source"] for w in report["feed_watermark"]]
    assert sources == [
        "civil_affairs",
        "disabled_persons_federation",
        "poverty_alleviation",
        "veterans_affairs",
    ]
    assert all(
        w["batch_id"].startswith("R-") and w["received_at"] <= report["as_of"]
        for w in report["feed_watermark"]
    )
    assert "awarded" in report["aided_definition"]


def test_money_by_program_and_coverage_by_city(client: FlaskClient, province: Province) -> None:
    report = as_json(get(client, province, period="2020-2021").data)
    money = rows_by(report["sections"]["money"], "group", "stage", "program")
    assert counts(
        money[("any", "junior", "compulsory_living_subsidy")], "recipients", "committed", "paid"
    ) == (1, "1250.00", "1250.00")  # the whole school year: both semesters are paid in the period
    assert counts(money[("any", "senior_high", "senior_high_fee_waiver")], "kind", "committed", "paid") == (
        "waiver",
        "1600.00",
        "1600.00",
    )
    assert counts(
        money[("subsistence_allowance", "senior_high", "senior_high_grant")], "recipients", "committed"
    ) == (1, "3000.00")
    assert ("orphan", "primary", "compulsory_living_subsidy") not in money
    regions = report["sections"]["regions"]["rows"]
    assert [(r["code"], r["students"], r["aided"], r["coverage"]) for r in regions] == [
        ("320200", 2, 0, 0.0),
        ("320100", 6, 2, 0.3333),
    ]  # weakest first


def test_each_unaided_student_with_the_reason_and_its_detail(client: FlaskClient, province: Province) -> None:
    rows = as_json(get(client, province).data)["sections"]["unaided"]["rows"]
    assert [(r["reason"], r["student_id"]) for r in rows] == [
        ("no_application", "ST-NOAPP"),
        ("in_review", "ST-REVIEW"),
        ("rejected", "ST-REJECT"),
        ("quota_shortfall", "ST-QUOTA"),
        ("data_conflict", "ST-CONFLICT"),
        ("no_award", "ST-NOAWARD"),
        ("unmatched", ""),
        ("unmatched", ""),
    ]
    by = {r["student_id"] or r["id_number"]: r for r in rows}
    assert by["ST-NOAPP"]["application_id"] is None and by["ST-NOAPP"]["groups"] == "orphan"
    assert (
        by["ST-REVIEW"]["application_state"] == "已提交"
        and by["ST-REVIEW"]["application_id"] == province.applications["REVIEW"]
    )
    assert (
        by["ST-REJECT"]["detail"] == REJECTED_ELSEWHERE and by["ST-REJECT"]["school_code"] == "S3"
    )  # not the note
    assert (
        "义务教育家庭经济困难学生生活补助" in by["ST-QUOTA"]["detail"]
        and by["ST-QUOTA"]["groups"] == "martyr_child"
    )
    assert "城乡最低生活保障家庭" in by["ST-CONFLICT"]["detail"]
    assert (
        by["ST-NOAWARD"]["reason_name"] == "已认定但无适用资助项目"
        and by["ST-NOAWARD"]["stage"] == "学前教育"
    )
    number = id_number(101 + 1)
    assert by["ST-NOAPP"]["id_number"] == number[:6] + "*" * 11 + number[-1:]
    stranger_poor = id_number(900, county="320102", born=date(1975, 5, 5))
    stranger_disabled = id_number(901, county="320213", born=date(1970, 7, 7))
    unmatched = [r for r in rows if r["reason"] == "unmatched"]
    assert [(r["id_number"], r["source"], r["groups"]) for r in unmatched] == [
        (
            stranger_disabled[:6] + "*" * 11 + stranger_disabled[-1:],
            "disabled_persons_federation",
            "disabled",
        ),
        (stranger_poor[:6] + "*" * 11 + stranger_poor[-1:], "poverty_alleviation", "registered_poor"),
    ]


def test_no_full_id_number_in_any_format(client: FlaskClient, province: Province) -> None:
    numbers = [VAULT.open_row("student", s) for s in province.students.values()]
    numbers += [person(g) for g in (6001, 6003, 6006, 6008, 6010)]
    numbers += [
        id_number(900, county="320102", born=date(1975, 5, 5)),
        id_number(901, county="320213", born=date(1970, 7, 7)),
    ]
    for fmt in ("json", "csv", "html"):
        text = get(client, province, format=fmt).data.decode("utf-8")
        assert not [n for n in numbers if n in text], fmt
    sheets = xlsx_sheets(get(client, province, format="xlsx").data)
    cells = " ".join(str(v) for rows in sheets.values() for row in rows for v in row if v is not None)
    assert not [n for n in numbers if n in cells]


def test_csv_sections_with_headers_bom_and_money_strings(client: FlaskClient, province: Province) -> None:
    response = get(client, province, format="csv")
    assert response.mimetype == "text/csv" and "attachment" in response.headers["Content-Disposition"]
    sections = csv_sections(response.data)
    assert list(sections)[1:] == [
        "各特殊群体资助覆盖情况（按学段）",
        "特殊群体学生资助金额（按项目）",
        "东西协作计划学生资助情况（按学校）",
        "各地区特殊群体资助覆盖率（由低到高）",
        "未获资助的特殊群体学生名单及原因",
        "外省建档立卡等（已核实）学生资助情况",
    ]
    record = dict(row[:2] for row in sections[""])
    assert record["地区"] == "江苏省（320000）" and record["期间"].startswith("2020-2021学年秋季学期")
    assert "数据截至（北京时间）" in record and "T" not in record["数据截至（北京时间）"]
    groups = sections["各特殊群体资助覆盖情况（按学段）"]
    header = groups[0]
    assert header[:3] == ["特殊群体", "学段", "在校学生数"]  # the codes beside them stay in the JSON
    last = dict(zip(header, groups[-1], strict=True))
    assert (
        last["特殊群体"],
        last["在校学生数"],
        last["已资助"],
        last["资助覆盖率"],
        last["资助金额（元）"],
    ) == ("任一特殊群体", "8", "2", "25.00%", "5850.00")
    unaided = sections["未获资助的特殊群体学生名单及原因"]
    assert unaided[0][0] == "未资助原因" and len(unaided) == 1 + 8


def test_xlsx_a_sheet_per_section_numbers_as_numbers(client: FlaskClient, province: Province) -> None:
    response = get(client, province, format="xlsx")
    assert response.mimetype == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    book = load_workbook(io.BytesIO(response.data))
    assert book.sheetnames == [
        "说明",
        "各特殊群体资助覆盖情况（按学段）",
        "特殊群体学生资助金额（按项目）",
        "东西协作计划学生资助情况（按学校）",
        "各地区特殊群体资助覆盖率（由低到高）",
        "未获资助的特殊群体学生名单及原因",
        "外省建档立卡等（已核实）学生资助情况",
    ]
    sheet = book["各特殊群体资助覆盖情况（按学段）"]
    assert sheet.freeze_panes == "A2"
    header = [c.value for c in sheet[1]]
    last = {h: c for h, c in zip(header, list(sheet.iter_rows())[-1], strict=True)}
    assert last["在校学生数"].value == 8 and last["资助覆盖率"].value == 0.25
    assert last["资助金额（元）"].value == 5850 and last["资助金额（元）"].number_format == "#,##0.00"
    assert last["资助覆盖率"].number_format == "0.00%"
    assert book["未获资助的特殊群体学生名单及原因"].max_row == 1 + 8


def test_html_page_with_server_rendered_charts_and_no_script(client: FlaskClient, province: Province) -> None:
    response = get(client, province, format="html")
    assert response.mimetype == "text/html"
    assert "script-src" not in response.headers["Content-Security-Policy"]
    page = response.data.decode("utf-8")
    assert '<html lang="zh-CN">' in page and page.count("<svg") == 2 and "<script" not in page
    assert "http://" not in page.replace("http://www.w3.org/2000/svg", "")  # nothing fetched from elsewhere
    assert "各地区特殊群体资助覆盖率" in page and "无锡市" in page and "33.33%" in page
    assert "家庭情况核实不符" not in page and "5,850.00" in page  # the officer's note stays with the school


@pytest.mark.parametrize(
    ("who", "region", "students", "unmatched"),
    [
        ("nanjing_admin", None, 6, 1),
        ("wuxi_admin", None, 2, 1),
        ("county_admin", None, 5, 1),
        ("officer_S3", None, 2, 0),
        ("officer_S1", "S1", 4, 0),
        ("province_admin", "320100", 6, 1),
        ("auditor", "320213", 2, 1),
        ("nanjing_admin", "320104", 1, 0),
        ("nanjing_admin", "K1", 1, 0),
    ],
)
def test_the_region_defaults_to_the_callers_scope(
    client: FlaskClient, province: Province, who: str, region: str | None, students: int, unmatched: int
) -> None:
    query = {} if region is None else {"region": region}
    report = as_json(get(client, province, who, **query).data)
    row = rows_by(report["sections"]["groups"], "group", "stage")[("any", "all")]
    assert (row["students"], row["unmatched"]) == (students, unmatched)
    listed = [r for r in report["sections"]["unaided"]["rows"] if r["reason"] == "unmatched"]
    assert len(listed) == unmatched
