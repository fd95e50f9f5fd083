"""The officers' lists (issue 19 parts 3 and 5): one filter for page, API and download; sorting by whitelisted
keys; pages; search by name, student number or the last digits of the ID number (the school's own officer only,
through keyed digests); XLSX and CSV downloads with Chinese headers, masked numbers, the screen's rows, formula
cells quoted, every download audited."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable

import pytest
from flask import Flask
from flask.testing import FlaskClient
from openpyxl import load_workbook
from sqlalchemy import select, update

from aidservice.extensions import db
from aidservice.models import AuditEvent, Student
from aidservice.services.actors import Actor
from aidservice.services.errors import ValidationFailed
from aidservice.services.lists import applications as lists_applications
from aidservice.services.lists import export, filters, students
from tests.web.conftest import Clock, csrf
from tests.web.test_applications import act, created
from tests.world import web as w

pytestmark = pytest.mark.databases

OFFICER = Actor("user", "officer1", 1, "school_officer", school_code=w.S1)
COUNTY = Actor("user", "county1", 3, "county_admin", region_code="320102")
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def listed(client: FlaskClient, **query: str) -> list[str]:
    response = client.get("/students", query_string=query)
    assert response.status_code == 200, response.status_code
    return re.findall(r">(S\d-\d{3})</a>", response.get_data(as_text=True))


def sheet_rows(data: bytes) -> list[list[object]]:
    book = load_workbook(io.BytesIO(data), read_only=True)
    return [list(row) for row in book.worksheets[0].iter_rows(values_only=True)]


def csv_rows(data: bytes) -> list[list[str]]:
    assert data.startswith(b"\xef\xbb\xbf")  # BOM: Excel reads the UTF-8 Chinese
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))


def bearer(world: w.World, user: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {world.tokens[user]}"}


# ------------------------------------------------------------------------------------------- the filter


def test_every_bad_value_is_named_with_its_field(app: Flask) -> None:
    rules = w.settings_for(app).rules
    with pytest.raises(ValidationFailed) as caught:
        filters.parse(
            "students",
            {
                "level": "rich",
                "grade": "13",
                "sort": "id_cipher; drop table students",
                "page": "0",
                "q": "320102200803010114",
                "group": "nobody",
            },
            rules,
        )
    assert set(caught.value.errors) == {"level", "grade", "sort", "page", "q", "group"}
    assert "按身份证号查找" in caught.value.errors["q"][0]  # a full number never becomes a search text
    flt = filters.parse(
        "applications", {"state": "notice", "sort": "name", "order": "asc", "page": "3"}, rules
    )
    assert (flt.state, flt.sort, flt.desc, flt.offset) == ("notice", "name", False, 100)
    assert flt.args() == {"state": "notice", "sort": "name", "page": "3", "order": "asc"}
    assert flt.download("xlsx") == {"state": "notice", "sort": "name", "order": "asc", "format": "xlsx"}


def test_filters_sorting_and_pages_in_the_service(app: Flask, world: w.World) -> None:
    settings = w.settings_for(app)

    def ids(**changes: object) -> list[str]:
        flt = filters.ListFilter(kind="students", **changes)  # type: ignore[arg-type]
        page = students.page(db.session, actor=OFFICER, settings=settings, flt=flt)
        return [s["student_id"] for s in page["items"]]

    assert ids() == ["S1-001", "S1-002", "S1-003", "S1-004", "S1-005"]  # the officer's school only
    assert ids(grade=1) == ["S1-004", "S1-005"]
    assert ids(class_name="初二(1)班", sort="student_id", desc=True) == ["S1-002", "S1-001"]
    assert ids(sort="grade")[:2] == ["S1-004", "S1-005"]  # grade 1 first, then by row
    assert ids(group="orphan") == ["S1-003"]  # a personal status on the student's own number
    assert ids(group="registered_poor") == ["S1-002"]  # a household status through the guardian
    assert ids(per_page=2, page=3) == ["S1-005"]
    for key in filters.SORT_KEYS["students"]:  # every whitelisted column sorts on both databases
        assert sorted(ids(sort=key, desc=True)) == ids(), key
    flt = filters.ListFilter(kind="students", per_page=2)
    page = students.page(db.session, actor=COUNTY, settings=settings, flt=flt)
    assert (page["total"], page["pages"]) == (5, 3)


def test_the_schools_officer_finds_a_student_by_the_last_digits_and_nobody_else_does(
    as_user: Callable[[str], FlaskClient], world: w.World
) -> None:
    number = world.number("S1-003")
    officer = as_user("officer1")
    assert listed(officer, q=number[-4:]) == ["S1-003"]
    assert listed(officer, q=number[-6:].lower()) == ["S1-003"]
    assert listed(officer, q=number[-5:]) == []  # 5 characters: no tail search
    # an administrator over the school, or another school's officer: the tail adds no digit to what they know
    assert listed(as_user("county1"), q=number[-4:]) == []
    assert listed(as_user("officer2"), q=number[-4:]) == []
    stored = db.session.execute(
        select(Student.id_tail4, Student.id_tail6).where(Student.student_id == "S1-003")
    )
    tail4, tail6 = stored.one()
    assert number[-4:] not in (tail4 or "") and number[-6:] not in (tail6 or "") and len(tail4) == 32


def test_the_page_names_a_bad_filter_in_chinese_and_never_echoes_a_full_number(
    as_user: Callable[[str], FlaskClient], world: w.World
) -> None:
    client = as_user("officer1")
    response = client.get("/students", query_string={"grade": "九", "q": world.number("S1-001")})
    html = response.get_data(as_text=True)
    assert response.status_code == 422 and "应为 1 到 12 之间的整数" in html and "按身份证号查找" in html
    assert world.number("S1-001") not in html
    page = client.get("/students", query_string={"per_page": "2", "page": "2", "sort": "name"}).get_data(
        as_text=True
    )
    assert "第 2 / 3 页，共 5 条" in page and 'name="page"' in page and "跳至第" in page
    assert "format=xlsx" in page and "sort=name" in page  # the download keeps the screen's filter


# ------------------------------------------------------------------------------------------- downloads


def test_the_roster_downloads_as_xlsx_with_the_screens_rows_chinese_headers_and_masked_numbers(
    as_user: Callable[[str], FlaskClient], world: w.World
) -> None:
    client = as_user("officer1")
    query = {"grade": "2", "sort": "student_id", "order": "desc", "format": "xlsx"}
    response = client.get("/students", query_string=query)
    assert response.status_code == 200 and response.mimetype == XLSX
    assert "attachment" in response.headers["Content-Disposition"]
    rows = sheet_rows(response.data)
    assert rows[0][:4] == ["学号", "姓名", "身份证号（脱敏）", "学校代码"]
    assert [r[0] for r in rows[1:]] == ["S1-003", "S1-002", "S1-001"]  # grade 2, as sorted on screen
    number = world.number("S1-001")
    masked = next(r[2] for r in rows[1:] if r[0] == "S1-001")
    assert masked == number[:6] + "*" * 11 + number[-1:]
    assert all(r[6] == "初中" for r in rows[1:])  # the stage by the rules' label
    assert all(
        r[9] == ("系统预判" if r[8] else "") and r[10] == "未申请" for r in rows[1:]
    )  # no decision yet
    events = db.session.execute(
        select(AuditEvent).where(AuditEvent.action == export.EXPORTED_ACTION)
    ).scalars()
    [event] = list(events)
    assert (
        event.summary["rows"] == 3
        and event.summary["filter"]["grade"] == "2"
        and event.actor == "user:officer1"
    )


def test_csv_has_a_bom_and_quotes_cells_a_spreadsheet_would_run(
    as_user: Callable[[str], FlaskClient], world: w.World
) -> None:
    db.session.execute(update(Student).where(Student.student_id == "S1-004").values(name="=HYPERLINK(1)"))
    db.session.commit()
    data = as_user("officer1").get("/students?grade=1&format=csv").data
    rows = csv_rows(data)
    assert rows[0][0] == "学号" and [r[0] for r in rows[1:]] == ["S1-004", "S1-005"]
    assert rows[1][1] == "'=HYPERLINK(1)"


def test_the_api_lists_students_in_scope_and_downloads_them(
    client: FlaskClient, world: w.World, monkeypatch: pytest.MonkeyPatch
) -> None:
    page = client.get("/api/v1/students?per_page=2", headers=bearer(world, "county1"))
    assert page.status_code == 200 and page.json["total"] == 5 and len(page.json["items"]) == 2
    assert all("*" * 11 in s["id_number"] for s in page.json["items"])
    bad = client.get("/api/v1/students?sort=id_hmac", headers=bearer(world, "county1"))
    assert bad.status_code == 422 and bad.mimetype == "application/problem+json"
    assert "sort" in str(bad.json)
    sheet = client.get("/api/v1/students?class_name=初一(1)班&format=xlsx", headers=bearer(world, "officer1"))
    assert sheet.status_code == 200 and [r[0] for r in sheet_rows(sheet.data)[1:]] == ["S1-004", "S1-005"]
    monkeypatch.setattr(export, "EXPORT_MAX_ROWS", 4)
    too_many = client.get("/api/v1/students?format=csv", headers=bearer(world, "officer1"))
    assert too_many.status_code == 422 and "format" in str(too_many.json) and "导出上限" in str(too_many.json)


def test_the_applications_download_holds_the_filtered_applications(
    app: Flask, as_user: Callable[[str], FlaskClient], client: FlaskClient, world: w.World
) -> None:
    officer = as_user("officer1")
    for student_id in ("S1-001", "S1-002"):
        data = {"csrf_token": csrf(officer, f"/students/{student_id}/apply"), "commitment": "y"}
        assert officer.post(f"/students/{student_id}/apply", data=data).status_code == 302
    rows = csv_rows(officer.get("/applications?q=李&format=csv").data)
    assert rows[0][:3] == ["申请编号", "学号", "姓名"] and len(rows) == 2
    assert rows[1][1:3] == ["S1-002", "李娜"] and rows[1][9] == "已提交"
    api = client.get("/api/v1/applications?state=submitted&format=xlsx", headers=bearer(world, "county1"))
    assert api.status_code == 200 and sorted(r[1] for r in sheet_rows(api.data)[1:]) == ["S1-001", "S1-002"]
    listed_ = client.get(
        "/api/v1/applications?sort=student_id&order=asc", headers=bearer(world, "county1")
    ).json
    assert [a["student"]["name"] for a in listed_["items"]] == ["王小明", "李娜"] and listed_["total"] == 2
    for key in filters.SORT_KEYS["applications"]:  # every whitelisted column sorts on both databases
        for order in ("asc", "desc"):
            sorted_ = client.get(
                f"/api/v1/applications?sort={key}&order={order}", headers=bearer(world, "county1")
            )
            assert sorted_.status_code == 200 and sorted_.json["total"] == 2, (key, order)
    settings = w.settings_for(app)
    matching = lists_applications.matching_application_ids(
        db.session,
        actor=OFFICER,
        settings=settings,
        flt=filters.ListFilter(kind="applications", q="王"),
        school_year=None,
    )
    assert len(matching) == 1  # what a batch action's "select all N matching" takes
    assert lists_applications.matching_application_ids(
        db.session,
        actor=OFFICER,
        settings=settings,
        flt=filters.ListFilter(kind="applications"),
        school_year=None,
    ) == sorted(matching + [a for a in (int(rows[1][0]),)], reverse=True)
    approved = officer.get("/applications/approved?format=xlsx")
    header = sheet_rows(approved.data)[0]
    assert (
        approved.status_code == 200 and "已资助金额（元）" in header and "名额不足未资助金额（元）" in header
    )


def test_the_unaided_special_group_students_download_alone(
    as_user: Callable[[str], FlaskClient], world: w.World
) -> None:
    """The 应助尽助 list: the special-group report's unaided table as a file of its own, audited as reports are."""
    client = as_user("county1")
    page = client.get("/reports?kind=special-groups&period=2020-2021-autumn").get_data(as_text=True)
    assert "section=unaided" in page and "下载本表 XLSX" in page
    query = "period=2020-2021-autumn&region=320102&format=xlsx&section=unaided"
    response = client.get(f"/reports/special-groups/download?{query}")
    assert response.status_code == 200 and "special-groups_unaided" in response.headers["Content-Disposition"]
    book = load_workbook(io.BytesIO(response.data), read_only=True)
    assert book.sheetnames[0] == "说明" and len(book.sheetnames) == 2
    rows = [list(r) for r in book.worksheets[1].iter_rows(values_only=True)]
    names = {c for r in rows[1:] for c in r if isinstance(c, str)}
    assert "李娜" in names and "张伟" in names  # special-group students without an application
    assert not any(re.fullmatch(r"\d{17}[\dXx]", c) for c in names)
    assert (
        client.get(f"/reports/special-groups/download?{query.replace('unaided', 'Robert;')}").status_code
        == 422
    )
    event = (
        db.session.execute(select(AuditEvent).where(AuditEvent.action == "report.generated")).scalars().all()
    )
    assert event[-1].summary["section"] == "unaided"


def test_the_approved_list_shows_funded_money_and_a_notice_downloads_as_shown(
    as_user: Callable[[str], FlaskClient], world: w.World, clock: Clock
) -> None:
    client = as_user("officer1")
    application_id = created(client)  # S1-001
    assert act(client, application_id, "review", level="special", note="评议小组一致同意").status_code == 302
    assert act(client, application_id, "publish_notice").status_code == 302
    html = client.get(f"/applications/{application_id}").get_data(as_text=True)
    notice_url = re.search(r'href="(/schools/[^"]+/notices/\d+)"', html).group(1)
    notice_page = client.get(notice_url).get_data(as_text=True)
    assert "download?format=xlsx" in notice_page
    notice = csv_rows(client.get(notice_url + "/download?format=csv").data)
    assert notice == [
        ["姓名", "班级", "认定等级"],
        ["王小明", "初二(1)班", "特别困难"],
    ]  # name, class, level only
    clock.today = w.AFTER_NOTICE
    assert act(client, application_id, "approve", note="公示无异议").status_code == 302
    rows = sheet_rows(client.get("/applications/approved?format=xlsx").data)
    header, [row] = rows[0], rows[1:]
    cell = dict(zip(header, row, strict=True))
    assert cell["学号"] == "S1-001" and cell["认定等级"] == "特别困难"
    assert cell["已资助金额（元）"] == 1250 and "生活补助" in cell["资助项目（已资助）"]
    assert cell["名额不足未资助金额（元）"] == 0  # funded and unfunded never added together
    assert "*" * 11 in cell["身份证号（脱敏）"]
