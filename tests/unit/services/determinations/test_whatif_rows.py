"""The what-if's changing students as rows and as an XLSX workbook (`whatif_rows`, `whatif_xlsx`), no Flask
request: the service on the small province of `test_redetermine`."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from flask import Flask
from openpyxl import load_workbook

from aidservice.engine import load_rules
from aidservice.extensions import db
from aidservice.services.actors import Actor
from aidservice.services.determinations.whatif_compare import compare_with_running
from aidservice.services.determinations.whatif_xlsx import STUDENT_HEADINGS, compare_to_workbook
from tests.unit.services.determinations.test_redetermine import province
from tests.unit.services.determinations.test_whatif import draft_with
from tests.world.feeds import AS_OF, settings_for

pytestmark = pytest.mark.databases
SYSTEM = Actor.system("test")
__all__ = ["province"]


def sheets(path: Path) -> dict[str, list[list[Any]]]:
    book = load_workbook(io.BytesIO(path.read_bytes()), read_only=True)
    return {name: [list(r) for r in book[name].iter_rows(values_only=True)] for name in book.sheetnames}


def test_rows_carry_levels_totals_and_per_program_amounts_of_each_changing_student(
    app: Flask, province: list[int], rules_copy: Path
) -> None:
    draft = draft_with(rules_copy, "values: {2018-09-01: 2000}", "values: {2018-09-01: 2200}")
    chunks: list[pl.DataFrame] = []
    result = compare_with_running(
        db.session, actor=SYSTEM, settings=settings_for(app), draft=draft, as_of=AS_OF, sink=chunks.append
    )
    (rows,) = chunks
    assert rows.height == result.totals()["students_changing"] == 1
    row = rows.row(0, named=True)
    assert row["student_id"] == "S02" and row["school_code"] == "3201020001" and row["group"] == "320100"
    assert (row["level_before"], row["level_after"]) == ("special", "special")
    assert (
        row["before_compulsory_living_subsidy"] == 200000 and row["after_compulsory_living_subsidy"] == 220000
    )
    assert row["delta_compulsory_living_subsidy"] == 20000 and row["total_delta"] == 20000
    assert row["total_after"] - row["total_before"] == 20000
    assert not row["gained_compulsory_living_subsidy"] and not row["lost_compulsory_living_subsidy"]


def test_a_level_lost_by_a_draft_is_tallied_as_a_move_down_and_programs_lost(
    app: Flask, province: list[int], rules_copy: Path
) -> None:
    levels = rules_copy / "levels.yaml"
    text = levels.read_text(encoding="utf-8")
    for clause in ("registered_poor", "subsistence_allowance", "extreme_poverty_support"):
        text = text.replace(f"when: {clause}\n", "when: false\n", 1)
    levels.write_text(text, encoding="utf-8")
    chunks: list[pl.DataFrame] = []
    result = compare_with_running(
        db.session,
        actor=SYSTEM,
        settings=settings_for(app),
        draft=load_rules(rules_copy),
        as_of=AS_OF,
        keep=None,
        sink=chunks.append,
    )
    totals = result.totals()
    rows = pl.concat(chunks)
    assert totals["level_down"] > 0 and totals["level_up"] == 0
    assert totals["students_losing"] == rows.filter(pl.col("total_delta") < 0).height > 0
    moved = rows.filter(pl.col("level_before") != pl.col("level_after"))
    assert sum(totals["level_moves"].values()) == moved.height == totals["level_down"]
    # the set-based tallies agree with the students kept one by one
    assert len(result.changes) == rows.height == totals["students_changing"]
    assert sum(c.total_delta_fen for c in result.changes) == rows["total_delta"].sum()
    by_region = result.regions()
    assert sum(t["students_changing"] for t in by_region.values()) == totals["students_changing"]


def test_the_workbook_lists_changing_students_masked_with_chinese_headings_and_a_summary(
    app: Flask, province: list[int], rules_copy: Path, tmp_path: Path
) -> None:
    draft = draft_with(rules_copy, "values: {2018-09-01: 2000}", "values: {2018-09-01: 2200}")
    path = tmp_path / "whatif.xlsx"
    settings = settings_for(app)
    result = compare_to_workbook(
        db.session,
        str(path),
        actor=SYSTEM,
        settings=settings,
        draft=draft,
        draft_name="raise",
        region=None,
        as_of=AS_OF,
    )
    assert result.totals()["students_gaining"] == 1
    book = sheets(path)
    assert list(book) == ["汇总", "变化学生"]
    header, *students = book["变化学生"]
    names = {p.id: p.name for p in settings.rules.rules.programs}
    assert tuple(header[: len(STUDENT_HEADINGS)]) == STUDENT_HEADINGS
    assert f"{names['compulsory_living_subsidy']}变化" in header
    (student,) = students
    assert student[0] == "S02" and "*" in student[1] and len(student[1]) == 18
    assert student[4] == student[5] == settings.rules.rules.level_labels["special"]
    assert student[8] == 200 and student[7] - student[6] == 200
    assert student[header.index(f"{names['compulsory_living_subsidy']}变化")] == 200
    summary = {row[0]: row[1] for row in book["汇总"] if row and row[0]}
    assert summary["资助增加的学生"] == 1 and summary["资助变化合计（元，不含助学贷款）"] == 200
    assert summary["草案规则"].startswith("raise")
    assert names["compulsory_living_subsidy"] in summary


def test_with_no_draft_the_workbook_says_no_change_and_lists_no_student(
    app: Flask, province: list[int], tmp_path: Path
) -> None:
    path = tmp_path / "same.xlsx"
    result = compare_to_workbook(
        db.session,
        str(path),
        actor=SYSTEM,
        settings=settings_for(app),
        draft=None,
        draft_name=None,
        region="320100",
        as_of=AS_OF,
    )
    assert result.no_change
    book = sheets(path)
    assert len(book["变化学生"]) == 1  # the heading only
    texts = [row[0] for row in book["汇总"] if row and row[0]]
    assert any(str(t).startswith("无变化") for t in texts)
    assert any(row[0] == "草案规则" and row[1].startswith("无草案") for row in book["汇总"] if row)


def test_students_past_the_sheet_limit_are_counted_in_the_summary_not_listed(
    app: Flask, province: list[int], rules_copy: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from aidservice.services.determinations import whatif_xlsx

    levels = rules_copy / "levels.yaml"
    text = levels.read_text(encoding="utf-8")
    for clause in ("registered_poor", "subsistence_allowance", "extreme_poverty_support"):
        text = text.replace(f"when: {clause}\n", "when: false\n", 1)
    levels.write_text(text, encoding="utf-8")
    monkeypatch.setattr(whatif_xlsx, "MAX_STUDENT_ROWS", 1)
    path = tmp_path / "capped.xlsx"
    result = compare_to_workbook(
        db.session,
        str(path),
        actor=SYSTEM,
        settings=settings_for(app),
        draft=load_rules(rules_copy),
        draft_name="cut",
        region=None,
        as_of=AS_OF,
    )
    changing = result.totals()["students_changing"]
    assert changing > 1
    book = sheets(path)
    assert len(book["变化学生"]) == 2  # the heading and one student
    summary = {row[0]: row[1] for row in book["汇总"] if row and row[0]}
    assert summary["超出工作表行数上限未列出的学生"] == changing - 1
