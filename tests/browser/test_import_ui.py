"""The import as an officer does it in Chromium: the template, a 30-row GBK CSV with Chinese headers, and a
file with three different bad rows fixed from one answer (its error sheet downloaded, fixed, imported again)."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import openpyxl

from tests.browser.conftest import Live
from tests.browser.test_officer_ui import no_full_id_numbers, no_horizontal_scroll, sign_in, watch
from tests.world import web as w
from tests.world.factories import id_number

HEADER = [
    "学号",
    "身份证号",
    "姓名",
    "班级",
    "学段",
    "年级",
    "寄宿生",
    "监护人1身份证号",
    "监护人1姓名",
    "监护人1与学生关系",
]


def student(student_id: str, seed: int, **cells: str) -> list[str]:
    values = dict(
        zip(
            HEADER,
            [
                student_id,
                id_number(seed),
                "新同学",
                "初一(5)班",
                "初中",
                "1",
                "否",
                w.adult(seed + 50),
                "家长",
                "母亲",
            ],
            strict=True,
        )
    )
    values.update(cells)
    return [values[c] for c in HEADER]


def csv_bytes(rows: list[list[str]], encoding: str) -> bytes:
    return ("\r\n".join(",".join(r) for r in [HEADER, *rows]) + "\r\n").encode(encoding)


def upload(page: Any, live: Live, name: str, data: bytes, mime: str = "text/csv") -> None:
    page.goto(live.url + "/students/import")
    page.set_input_files("input[type=file]", files=[{"name": name, "mimeType": mime, "buffer": data}])
    page.click("form.card button[type=submit]")
    page.wait_for_load_state()


def test_an_officer_imports_a_gbk_file_with_chinese_headers_from_the_template(
    context: Any, live: Live
) -> None:
    page = context.new_page()
    problems = watch(page)
    sign_in(page, live, "officer1")
    page.goto(live.url + "/students/import")
    with page.expect_download() as template:
        page.click("text=下载导入模板（XLSX）")
    book = openpyxl.load_workbook(io.BytesIO(Path(template.value.path()).read_bytes()))
    assert [c.value for c in book["学生名册"][1]][:3] == [
        "学号",
        "身份证号",
        "姓名",
    ] and "说明" in book.sheetnames
    upload(page, live, "名册.csv", csv_bytes([student(f"GBK-{n:02d}", 1200 + n) for n in range(30)], "gbk"))
    assert page.url == live.url + "/students"
    assert "导入完成：新增 30 人" in page.content()
    assert problems == []


def test_three_bad_rows_come_in_one_answer_and_the_fixed_error_sheet_imports(
    context: Any, live: Live, tmp_path: Path
) -> None:
    page = context.new_page()
    sign_in(page, live, "officer1")
    rows = [
        student("FIX-01", 1301),
        student("FIX-02", 1302, 学段="初三"),
        student("FIX-03", 1303, 年级="一"),
        student("FIX-04", 1304),
        student("FIX-05", 1305, 身份证号=id_number(1305)[:-1] + ("0" if id_number(1305)[-1] != "0" else "1")),
    ]
    upload(page, live, "名册.csv", csv_bytes(rows, "utf-8-sig"))
    listed = page.locator("#import-errors tr.bad-row")
    assert listed.count() == 3
    text = page.locator("#import-errors").inner_text()
    assert "第 3 行" in text and "第 4 行" in text and "第 6 行" in text
    assert "学段" in text and "年级" in text and "身份证号" in text
    first = listed.first.locator("td.row-errors").bounding_box()
    assert first["x"] + first["width"] <= page.viewport_size["width"]  # the problems are on screen
    no_horizontal_scroll(page)
    no_full_id_numbers(page)
    live.shot(page, "import-three-bad-rows")
    with page.expect_download() as download:
        page.click("#error-sheet")
    sheet = openpyxl.load_workbook(io.BytesIO(Path(download.value.path()).read_bytes())).active
    table = [[c.value for c in r] for r in sheet.iter_rows()]
    assert table[0][0] == "错误说明" and [bool(r[0]) for r in table[1:]] == [False, True, True, False, True]
    table[2][5], table[3][6], table[5][2] = "初中", "1", id_number(1305)  # the officer fixes the three rows
    fixed = openpyxl.Workbook()
    for cells in table:
        fixed.active.append(cells)
    buffer = io.BytesIO()
    fixed.save(buffer)
    upload(
        page,
        live,
        "名册-已修正.xlsx",
        buffer.getvalue(),
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    )
    assert page.url == live.url + "/students", page.locator("main").inner_text()[:500]
    assert "导入完成：新增 5 人" in page.content()
