"""Roster pages: ID numbers masked everywhere but the student's own page for the school's officer (audited),
search and pages, the student's facts with their sources, and the import with errors beside the rows."""

from __future__ import annotations

import io
import re
from collections.abc import Callable

import pytest
from flask import Flask
from flask.testing import FlaskClient
from openpyxl import Workbook

from aidservice.extensions import db
from aidservice.models import AuditEvent
from tests.web.conftest import csrf
from tests.world import web as w
from tests.world.factories import id_number, make_student

pytestmark = pytest.mark.databases  # SQLite always, PostgreSQL when it answers

FULL_ID = re.compile(r"(?<![0-9A-Za-z*])\d{17}[\dXx](?![0-9A-Za-z*])")


def full_numbers(html: str) -> list[str]:
    """Every full 18-character resident ID number in a page."""
    return FULL_ID.findall(html)


def test_list_pages_never_show_a_full_id_number(
    as_user: Callable[[str], FlaskClient], world: w.World
) -> None:
    for user in ("officer1", "county1", "province1", "auditor1"):
        client = as_user(user)
        for url in (
            "/",
            "/students",
            "/students?q=初二",
            f"/students?q={world.number('S1-001')}&lang=zh",
            "/applications",
            "/students/S1-001",
            "/students/S1-001/apply" if user == "officer1" else "/rules",
        ):
            html = client.get(url).get_data(as_text=True)
            assert not full_numbers(html), (user, url, full_numbers(html))
    listed = as_user("officer1").get("/students").get_data(as_text=True)
    number = world.number("S1-001")
    assert number[:6] + "*" * 11 + number[-1:] in listed


def test_the_schools_officer_reads_the_full_number_and_it_is_audited(
    as_user: Callable[[str], FlaskClient], world: w.World
) -> None:
    client = as_user("officer1")
    page = client.get("/students/S1-001").get_data(as_text=True)
    assert "查看完整身份证号" in page and not full_numbers(page)
    response = client.post(
        "/students/S1-001/id-number", data={"csrf_token": csrf(client, "/students/S1-001")}
    )
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert full_numbers(html) == [world.number("S1-001")]  # the student's own; guardians stay masked
    assert response.headers["Cache-Control"] == "no-store"
    events = db.session.query(AuditEvent).filter_by(action="student.id_number.read").all()
    assert [(e.actor, e.subject) for e in events] == [("user:officer1", "student:S1-001")]
    assert world.number("S1-001") not in str(events[0].summary)


def test_nobody_else_reads_the_full_number(as_user: Callable[[str], FlaskClient], world: w.World) -> None:
    for user in ("county1", "city1", "province1", "auditor1", "officer2"):
        client = as_user(user)
        if user != "officer2":
            assert "查看完整身份证号" not in client.get("/students/S1-001").get_data(as_text=True)
        response = client.post("/students/S1-001/id-number", data={"csrf_token": csrf(client)})
        assert response.status_code == 403, user
        assert not full_numbers(response.get_data(as_text=True))
    assert db.session.query(AuditEvent).filter_by(action="student.id_number.read").count() == 0


def test_student_page_shows_facts_with_their_sources_and_the_determination(
    as_user: Callable[[str], FlaskClient], world: w.World
) -> None:
    html = as_user("officer1").get("/students/S1-003").get_data(as_text=True)
    assert "张伟" in html and "初二(2)班" in html
    assert (
        "孤儿" in html and "民政部门" in html and "批次 M-2020-09-01" in html
    )  # the agency record, its batch
    assert "学籍名册" in html and "学校信息" in html
    assert "张家长（父亲）" in html  # the guardian's relation in Chinese
    assert 'class="level level-special"' in html  # the current determination: 特别困难
    assert "教财〔2018〕16号" in html and "暂定" in html


def test_search_by_name_class_and_full_id_number(
    as_user: Callable[[str], FlaskClient], world: w.World
) -> None:
    client = as_user("officer1")

    def found(query: str) -> set[str]:
        html = client.get("/students", query_string={"q": query}).get_data(as_text=True)
        return set(re.findall(r">(S\d-\d{3})</a>", html))

    assert found("李") == {"S1-002"}
    assert found("初一") == {"S1-004", "S1-005"}
    assert found("S1-00") == {"S1-001", "S1-002", "S1-003", "S1-004", "S1-005"}
    assert found("100%_") == set()  # LIKE wildcards are literal


def test_find_by_full_id_number_is_a_post_within_scope(
    as_user: Callable[[str], FlaskClient], world: w.World
) -> None:
    client = as_user("officer1")
    token = csrf(client, "/students")
    found = client.post("/students/lookup", data={"csrf_token": token, "id_number": world.number("S1-003")})
    assert found.status_code == 302 and found.headers["Location"] == "/students/S1-003"
    other = client.post("/students/lookup", data={"csrf_token": token, "id_number": world.number("S2-001")})
    assert other.status_code == 404  # another school's student, even by number
    assert "不在您的管理范围内" in other.get_data(as_text=True) and not full_numbers(
        other.get_data(as_text=True)
    )
    bad = client.post("/students/lookup", data={"csrf_token": token, "id_number": "320102200803010110"})
    assert bad.status_code == 422 and "check character" in bad.get_data(as_text=True)
    typed = client.get("/students", query_string={"q": world.number("S1-003")})
    assert typed.status_code == 422 and "按身份证号查找" in typed.get_data(as_text=True)
    assert not full_numbers(typed.get_data(as_text=True))


def test_search_keeps_the_query_and_rejects_bad_input_next_to_the_field(
    as_user: Callable[[str], FlaskClient], world: w.World
) -> None:
    client = as_user("officer1")
    response = client.get("/students", query_string={"q": "x" * 65})
    assert response.status_code == 422
    response = client.get("/students", query_string={"q": "李", "page": "zero"})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert 'value="李"' in html and 'class="error"' in html


def test_the_roster_is_paged(app: Flask, as_user: Callable[[str], FlaskClient], world: w.World) -> None:
    from aidservice.models import School

    school = db.session.get(School, w.S1)
    for n in range(60):
        make_student(db.session, f"S1-1{n:02d}", school, seed=3000 + n, stage="junior", name=f"学生{n}")
    db.session.commit()
    client = as_user("county1")
    first = client.get("/students").get_data(as_text=True)
    assert "第 1 / 2 页，共 65 条" in first and 'rel="next"' in first
    second = client.get("/students?page=2").get_data(as_text=True)
    assert "第 2 / 2 页，共 65 条" in second and len(re.findall(r'<td class="idno">', second)) == 15
    assert not full_numbers(first + second)


def csv_file(rows: list[list[str]]) -> io.BytesIO:
    text = "\n".join(",".join(r) for r in rows) + "\n"
    return io.BytesIO(text.encode("utf-8"))


HEADER = [
    "student_id",
    "id_number",
    "name",
    "class_name",
    "stage",
    "grade",
    "guardian1_id_number",
    "guardian1_name",
    "guardian1_relation",
]


def import_rows() -> list[list[str]]:
    good = id_number(701, county="320102")
    bad = id_number(702, county="320102")[:-1] + ("0" if id_number(702, county="320102")[-1] != "0" else "1")
    return [
        HEADER,
        ["S1-201", good, "新生甲", "初一(3)班", "junior", "1", w.adult(801), "甲父", "father"],
        ["S1-202", bad, "新生乙", "初一(3)班", "junior", "x", w.adult(802), "乙父", "father"],
    ]


def test_import_shows_each_bad_row_with_its_errors_and_masked_numbers(
    as_user: Callable[[str], FlaskClient], world: w.World
) -> None:
    client = as_user("officer1")
    rows = import_rows()
    response = client.post(
        "/students/import",
        data={
            "csrf_token": csrf(client, "/students/import"),
            "file": (csv_file(rows), "roster.csv"),
        },
        content_type="multipart/form-data",
    )
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "有 1 行无效（共 2 处错误），未导入任何数据" in html
    bad_row = re.search(r'<tr class="bad-row">(.*?)</tr>', html, re.S).group(1)
    assert "第 3 行" in bad_row and "新生乙" in bad_row  # row 3 of the file, as the spreadsheet numbers it
    assert "身份证号：校验位不正确" in bad_row and "年级：" in bad_row
    assert bad_row.index("row-errors") < bad_row.index("第 3 行")  # the problems come first, on screen
    assert 'id="error-sheet"' in html and not full_numbers(html)
    assert "新生甲" not in html  # good rows are not listed
    assert as_user("officer1").get("/students?q=新生").get_data(as_text=True).count("新生甲") == 0


def test_partial_import_writes_the_good_rows_and_lists_the_bad(
    as_user: Callable[[str], FlaskClient], world: w.World
) -> None:
    client = as_user("officer1")
    response = client.post(
        "/students/import",
        data={
            "csrf_token": csrf(client, "/students/import"),
            "file": (csv_file(import_rows()), "roster.csv"),
            "partial": "y",
        },
        content_type="multipart/form-data",
    )
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "导入完成：新增 1 人，更新 0 人，未变 0 人。" in html and "以下 1 行无效，未导入" in html
    assert "新生甲" in client.get("/students?q=新生").get_data(as_text=True)


def test_import_of_an_xlsx_file(as_user: Callable[[str], FlaskClient], world: w.World) -> None:
    book = Workbook()
    sheet = book.active
    for row in import_rows()[:2]:
        sheet.append(row)
    data = io.BytesIO()
    book.save(data)
    data.seek(0)
    client = as_user("officer1")
    response = client.post(
        "/students/import",
        data={
            "csrf_token": csrf(client, "/students/import"),
            "file": (data, "roster.xlsx"),
        },
        content_type="multipart/form-data",
    )
    assert response.status_code == 302 and response.headers["Location"] == "/students"
    assert "导入完成：新增 1 人" in client.get("/students").get_data(as_text=True)


def test_import_without_a_file_or_with_a_bad_one(
    as_user: Callable[[str], FlaskClient], world: w.World
) -> None:
    client = as_user("officer1")
    missing = client.post(
        "/students/import",
        data={"csrf_token": csrf(client, "/students/import")},
        content_type="multipart/form-data",
    )
    assert missing.status_code == 422 and "请选择文件" in missing.get_data(as_text=True)
    header_only = client.post(
        "/students/import",
        data={
            "csrf_token": csrf(client, "/students/import"),
            "file": (csv_file([["name", "colour"]]), "x.csv"),
        },
        content_type="multipart/form-data",
    )
    html = header_only.get_data(as_text=True)
    assert header_only.status_code == 422 and "缺少此必填列" in html and "无法识别的列名" in html


@pytest.mark.parametrize(
    ("content", "said"),
    [
        (b"\xd0\xcf\x11\xe0old", "旧版 Excel（.xls）"),
        (b"PK\x03\x04not really a zip", "无法作为 XLSX 工作簿读取"),
    ],
)
def test_a_file_the_reader_refuses_is_explained_in_chinese(
    as_user: Callable[[str], FlaskClient], world: w.World, content: bytes, said: str
) -> None:
    client = as_user("officer1")
    refused = client.post(
        "/students/import",
        data={"csrf_token": csrf(client, "/students/import"), "file": (io.BytesIO(content), "x.xlsx")},
        content_type="multipart/form-data",
    )
    html = refused.get_data(as_text=True)
    assert refused.status_code == 422 and said in html, html[-3000:]
    assert "could not be read" not in html and "old Excel" not in html
