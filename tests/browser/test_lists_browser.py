"""The roster in a real browser: filter it, sort it, download the XLSX the screen offers, and open the file: it
holds exactly the filtered rows, Chinese headers, masked numbers (issue 19, "an export opened with openpyxl")."""

from __future__ import annotations

import re
from typing import Any

from openpyxl import load_workbook

from tests.browser.conftest import Live
from tests.browser.test_officer_ui import no_full_id_numbers, sign_in, watch


def test_an_officer_filters_the_roster_and_downloads_exactly_those_rows(
    context: Any, live: Live, tmp_path: Any
) -> None:
    page = context.new_page()
    problems = watch(page)
    sign_in(page, live, "officer1")
    page.goto(live.url + "/students")
    page.select_option("#f-stage", "junior")
    page.fill("#f-grade", "2")
    page.click("form.list-filter button[type=submit]")
    page.wait_for_url(re.compile(r"grade=2"))
    page.click("th a.sort:has-text('学号')")  # ascending is the default: a click sorts descending
    page.wait_for_url(re.compile(r"order=desc"))
    shown = page.locator("table.list tbody tr td:first-child").all_inner_texts()
    assert shown == ["S1-003", "S1-002", "S1-001"]
    assert "共 3 条" in page.inner_text("nav.pager")
    no_full_id_numbers(page)
    live.shot(page, "20-roster-filtered")
    with page.expect_download() as caught:
        page.click("a:has-text('下载 Excel (XLSX)')")
    path = tmp_path / caught.value.suggested_filename
    caught.value.save_as(str(path))
    rows = [list(r) for r in load_workbook(path, read_only=True).worksheets[0].iter_rows(values_only=True)]
    assert rows[0][:3] == ["学号", "姓名", "身份证号（脱敏）"] and {"认定等级", "认定来源"} <= set(rows[0])
    assert [r[0] for r in rows[1:]] == shown  # the screen's rows, in the screen's order
    assert all(re.fullmatch(r"\d{6}\*{11}[\dX]", str(r[2])) for r in rows[1:])
    assert not problems, problems
