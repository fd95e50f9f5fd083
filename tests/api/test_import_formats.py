"""Imports that fit real files: the template, Chinese headers and labels in a GBK CSV, and every problem of a
file in one Chinese answer, downloadable as the same sheet with 错误说明 first, fixed and imported again."""

from __future__ import annotations

import io
from datetime import date

import openpyxl
import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from aidservice.extensions import db
from aidservice.models import Student
from tests.world.factories import bearer, id_number, make_school, make_user

pytestmark = pytest.mark.databases

HEADER = "学号,身份证号,姓名,班级,学段,年级,寄宿生,农村户籍,监护人1身份证号,监护人1姓名,监护人1与学生关系"


@pytest.fixture
def officer(app: Flask) -> dict[str, str]:
    session = db.session
    make_school(session, "S1", "320102", stages=("primary", "junior"))
    token = make_user(session, "school_officer", school_code="S1")[1]
    session.commit()
    return bearer(token)


def row(student_id: str, seed: int, **cells: str) -> str:
    values = {
        "学号": student_id,
        "身份证号": id_number(seed),
        "姓名": "学生",
        "班级": "一班",
        "学段": "初中",
        "年级": "1",
        "寄宿生": "否",
        "农村户籍": "是",
        "监护人1身份证号": id_number(seed + 5000, born=date(1980, 1, 1)),
        "监护人1姓名": "家长",
        "监护人1与学生关系": "母亲",
    }
    values.update(cells)
    return ",".join(values[c] for c in HEADER.split(","))


def upload(
    client: FlaskClient, headers: dict[str, str], content: bytes, name: str = "名册.csv", query: str = ""
):  # type: ignore[no-untyped-def]
    return client.post(
        "/api/v1/students/import" + query,
        data={"file": (io.BytesIO(content), name)},
        headers=headers,
        content_type="multipart/form-data",
    )


def students() -> dict[str, Student]:
    return {s.student_id: s for s in db.session.scalars(sa.select(Student))}


def test_the_template_has_chinese_headers_instructions_and_drop_down_lists(
    client: FlaskClient, officer: dict[str, str]
) -> None:
    response = client.get("/api/v1/students/import/template", headers=officer)
    assert response.status_code == 200 and response.mimetype.endswith("spreadsheetml.sheet")
    book = openpyxl.load_workbook(io.BytesIO(response.data))
    sheet = book["学生名册"]
    headers = [c.value for c in sheet[1]]
    assert headers[:7] == ["学号", "身份证号", "姓名", "学校代码", "班级", "学段", "年级"]
    assert "监护人1与学生关系" in headers
    about = book["说明"]
    described = {r[0].value: r for r in about.iter_rows(min_row=2) if r[0].value}
    assert described["学段"][1].value == "必填" and "小学" in described["学段"][2].value
    assert described["学段"][3].value == "小学"
    validated = {}
    for validation in sheet.data_validations.dataValidation:
        column = str(validation.sqref).split(":")[0].rstrip("0123456789")
        validated[headers[openpyxl.utils.column_index_from_string(column) - 1]] = validation.formula1
    assert {"学段", "寄宿生", "监护人1与学生关系", "学籍状态"} <= set(validated)
    options = book["选项"]
    stage_col = headers.index("学段") + 1
    labels = [options.cell(r, stage_col).value for r in range(2, 10)]
    assert labels[:3] == ["学前教育", "小学", "初中"]


def test_a_gbk_csv_with_chinese_headers_and_labels_imports(
    client: FlaskClient, officer: dict[str, str]
) -> None:
    rows = [row(f"G{n:02d}", 600 + n, 学段="小学" if n % 2 else "初中", 寄宿生="是") for n in range(30)]
    content = "\r\n".join([HEADER, *rows]).encode("gbk") + b"\r\n"
    response = upload(client, officer, content)
    assert response.status_code == 200, response.json
    assert response.json["created"] == 30
    saved = students()
    assert saved["G01"].stage == "primary" and saved["G02"].stage == "junior" and saved["G01"].boarding
    assert [g.relation for g in saved["G01"].guardians] == ["mother"]


def three_bad_rows() -> bytes:
    rows = [
        row("B1", 701),
        row("B2", 702, 学段="初三"),  # not a label of the rules
        row("B3", 703, 年级="二"),  # not a number
        row("B4", 704),
        row("B5", 705, 身份证号=id_number(705)[:-1] + "0", 寄宿生="也许"),  # check character, not 是/否
    ]
    return ("\r\n".join([HEADER + ",备注", *[r + "," for r in rows]]) + "\r\n").encode("utf-8-sig")


def test_every_problem_of_a_file_comes_in_one_chinese_answer(
    client: FlaskClient, officer: dict[str, str]
) -> None:
    response = upload(client, officer, three_bad_rows())
    assert response.status_code == 422 and response.mimetype == "application/problem+json"
    body = response.json
    assert set(body["errors"]) == {
        "rows.1.备注",
        "rows.3.stage",
        "rows.4.grade",
        "rows.6.id_number",
        "rows.6.boarding",
    }
    assert body["total_errors"] == 5
    listed = {(r["row"], r["column"]): r["message"] for r in body["rows"]}
    assert listed[(3, "学段")].startswith("“初三”不是允许的值（可选：学前教育、小学、初中")
    assert listed[(4, "年级")] == "应为整数"
    assert listed[(1, "备注")] == "无法识别的列名"
    assert "未写入任何数据" in body["detail"]
    assert students().keys() == set()


def test_the_error_sheet_is_the_same_sheet_with_the_problems_first_and_imports_once_fixed(
    client: FlaskClient, officer: dict[str, str]
) -> None:
    content = three_bad_rows().decode("utf-8-sig").replace(",备注", "").replace(",\r\n", "\r\n").encode()
    response = upload(client, officer, content, query="?error_sheet=true")
    assert response.status_code == 422 and response.mimetype.endswith("spreadsheetml.sheet")
    sheet = openpyxl.load_workbook(io.BytesIO(response.data)).active
    table = [[c.value for c in r] for r in sheet.iter_rows()]
    assert table[0][0] == "错误说明" and table[0][1:3] == ["学号", "身份证号"]
    assert [r[1] for r in table[1:]] == ["B1", "B2", "B3", "B4", "B5"]
    assert [bool(r[0]) for r in table[1:]] == [False, True, True, False, True]
    assert "学段" in table[2][0] and "年级" in table[3][0] and "寄宿生" in table[5][0]
    table[2][5], table[3][6] = "初中", "2"  # the officer fixes the three rows in the sheet itself
    table[5][2], table[5][7] = id_number(705), "否"
    fixed = openpyxl.Workbook()
    for cells in table:
        fixed.active.append(cells)
    buffer = io.BytesIO()
    fixed.save(buffer)
    again = upload(client, officer, buffer.getvalue(), name="名册.xlsx")
    assert again.status_code == 200, again.json
    assert again.json["created"] == 5 and students()["B3"].grade == 2
