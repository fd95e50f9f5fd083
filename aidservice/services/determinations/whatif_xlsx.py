"""The what-if as an XLSX workbook: a summary sheet and every changing student (masked ID number) with the deltas.

Written with XlsxWriter in constant-memory mode, chunk by chunk as the comparison produces its rows
(`compare_with_running(sink=...)`), so a province's roster never sits in memory as cells. Headings are
Chinese; program names and level labels are read from the rule sets (the draft's name where the running
rules lack the program). Amounts are yuan; totals leave loans out, as a student's funded total does.
The students sheet holds only masked ID numbers (first 6 + last 4), never a full one, nor a name.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

import polars as pl
from sqlalchemy import select
from sqlalchemy.orm import Session

from aidservice.engine import RuleSet
from aidservice.models import Region, School
from aidservice.services.actors import Actor
from aidservice.services.bulk import where_in
from aidservice.services.context import Settings
from aidservice.services.determinations.diff import masked_numbers
from aidservice.services.determinations.whatif_compare import WhatIfResult, compare_with_running
from aidservice.services.determinations.whatif_rows import ComparisonTotals

MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
STUDENT_HEADINGS = (
    "学号",
    "身份证号（脱敏）",
    "学校",
    "地区",
    "原认定等级",
    "新认定等级",
    "原资助合计",
    "新资助合计",
    "变化",
)
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
MAX_STUDENT_ROWS = 1_048_575
"""Rows under the heading a worksheet holds (Excel's limit); students past it are counted, not listed."""


@dataclass(frozen=True, slots=True)
class Vocabulary:
    """Names read from the two rule sets: programs (in the rows' order) and level labels."""

    programs: dict[str, str]  # id: name
    loans: frozenset[str]
    levels: dict[str, str]

    @classmethod
    def of(cls, running: RuleSet, draft: RuleSet) -> Vocabulary:
        names = {p.id: p.name for p in draft.rules.programs}
        names.update({p.id: p.name for p in running.rules.programs})
        loans = {p.id for p in (*running.rules.programs, *draft.rules.programs) if p.kind == "loan"}
        levels = {**draft.rules.level_labels, **running.rules.level_labels}
        return cls(dict(sorted(names.items())), frozenset(loans), levels)


class StudentsWorkbook:
    """A what-if workbook being written to `path`: `add` each chunk of rows, then `close` with the result."""

    def __init__(self, path: str, vocabulary: Vocabulary, *, names: Mapping[str, str] | None = None) -> None:
        import xlsxwriter

        self.vocabulary = vocabulary
        self.region_names = dict(names or {})
        self.book = xlsxwriter.Workbook(
            path,
            {
                "constant_memory": True,
                "strings_to_formulas": False,
                "strings_to_urls": False,
                "strings_to_numbers": False,
            },
        )
        self.header = self.book.add_format(
            {"bold": True, "bg_color": "#DDEBF7", "border": 1, "text_wrap": True}
        )
        self.money = self.book.add_format({"num_format": "#,##0.00"})
        self.summary = self.book.add_worksheet("汇总")
        self.students = self.book.add_worksheet("变化学生")
        headings = [*STUDENT_HEADINGS, *(f"{name}变化" for name in vocabulary.programs.values())]
        self.students.freeze_panes(1, 2)
        for col, heading in enumerate(headings):
            self.students.set_column(col, col, 14 if col != 2 else 24)
            self.students.write_string(0, col, heading, self.header)
        self.row = 0
        self.max_rows = MAX_STUDENT_ROWS
        self.left_out = 0

    def add(self, session: Session, rows: pl.DataFrame) -> None:
        """Write a chunk of changing students (`whatif_rows.change_rows`), looking up masks and names once."""
        room = self.max_rows - self.row
        if rows.height > room:
            self.left_out += rows.height - room
            rows = rows.head(room)
        if rows.is_empty():
            return
        masks = masked_numbers(session, rows["pk"].to_list())
        schools = _names(session, School.code, School.name, rows["school_code"].unique().to_list())
        regions = self._regions(session, rows["region_code"].unique().to_list())
        levels = self.vocabulary.levels
        money_columns = ["total_before", "total_after", "total_delta"]
        money_columns += [f"delta_{p}" for p in self.vocabulary.programs]
        sheet, money = self.students, self.money
        for row in rows.select(
            "pk", "student_id", "school_code", "region_code", "level_before", "level_after", *money_columns
        ).iter_rows():
            pk, student_id, school, region, before, after, *amounts = row
            self.row += 1
            r = self.row
            sheet.write_string(r, 0, _text(student_id))
            sheet.write_string(r, 1, masks.get(pk, ""))
            sheet.write_string(r, 2, _text(schools.get(school, school or "")))
            sheet.write_string(r, 3, _text(regions.get(region, region)))
            sheet.write_string(r, 4, levels.get(before, before))
            sheet.write_string(r, 5, levels.get(after, after))
            for col, fen in enumerate(amounts, start=6):
                sheet.write_number(r, col, (fen or 0) / 100, money)

    def close(self, result: WhatIfResult, *, draft_name: str | None) -> None:
        """Write the summary sheet and finish the file."""
        sheet, header, money = self.summary, self.header, self.money
        sheet.set_column(0, 0, 28)
        sheet.set_column(1, 8, 14)
        totals = result.totals()
        lines: list[tuple[str, Any]] = [
            ("范围", self.region_names.get(result.region or "320000", result.region or "320000")),
            ("认定日期", result.as_of.isoformat()),
            ("现行规则版本", result.running_version),
            (
                "草案规则",
                f"{draft_name}（{result.draft_version}）" if draft_name else "无草案（与现行规则相同）",
            ),
            ("检查学生", result.students),
            ("无法读取的名册行", result.skipped),
            ("等级或资助变化的学生", totals["students_changing"]),
            ("资助增加的学生", totals["students_gaining"]),
            ("资助减少的学生", totals["students_losing"]),
            ("等级上升", totals["level_up"]),
            ("等级下降", totals["level_down"]),
        ]
        if self.left_out:
            lines.append(("超出工作表行数上限未列出的学生", self.left_out))
        r = 0
        for label, value in lines:
            sheet.write_string(r, 0, label, header)
            if isinstance(value, int):
                sheet.write_number(r, 1, value)
            else:
                sheet.write_string(r, 1, value)
            r += 1
        sheet.write_string(r, 0, "资助变化合计（元，不含助学贷款）", header)
        sheet.write_number(r, 1, float(totals["total_delta"]), money)
        r += 2
        if result.no_change:
            sheet.write_string(r, 0, "无变化：每名学生的认定等级、资助项目和金额均不变")
            self.book.close()
            return
        r = self._table(r, ["资助项目", "新增人数", "减少人数", "金额变化（元）"], self._by_program(totals))
        by_region = [
            (
                self.region_names.get(code, code),
                t["students_changing"],
                t["students_gaining"],
                t["students_losing"],
                t["level_up"],
                t["level_down"],
                float(t["total_delta"]),
            )
            for code, t in result.regions().items()
        ]
        headings = ["地区", "变化学生", "资助增加", "资助减少", "等级上升", "等级下降", "金额变化（元）"]
        r = self._table(r, headings, by_region)
        levels = self.vocabulary.levels
        moves = []
        for move, n in totals["level_moves"].items():
            before, after = move.split("->")
            moves.append((levels.get(before, before), levels.get(after, after), n))
        self._table(r, ["原认定等级", "新认定等级", "人数"], moves)
        self.book.close()

    def _by_program(self, totals: ComparisonTotals) -> list[tuple[Any, ...]]:
        rows = []
        for p, name in self.vocabulary.programs.items():
            gained = totals["programs_gained"].get(p, 0)
            lost = totals["programs_lost"].get(p, 0)
            delta = totals["money_delta"].get(p)
            if gained or lost or delta is not None:
                label = f"{name}（助学贷款，不计入合计）" if p in self.vocabulary.loans else name
                rows.append((label, gained, lost, float(delta or 0)))
        return rows

    def _table(self, r: int, headings: list[str], rows: Iterable[tuple[Any, ...]]) -> int:
        sheet = self.summary
        for col, heading in enumerate(headings):
            sheet.write_string(r, col, heading, self.header)
        money_col = len(headings) - 1 if headings[-1].startswith("金额") else None
        for values in rows:
            r += 1
            for col, value in enumerate(values):
                if isinstance(value, str):
                    sheet.write_string(r, col, _text(value))
                elif col == money_col:
                    sheet.write_number(r, col, value, self.money)
                else:
                    sheet.write_number(r, col, value)
        return r + 2

    def _regions(self, session: Session, codes: list[str]) -> dict[str, str]:
        missing = [c for c in codes if c not in self.region_names]
        for code, name in _names(session, Region.code, Region.name, missing).items():
            self.region_names[code] = f"{code} {name}"
        return {c: self.region_names.get(c, c) for c in codes}


def _names(session: Session, key: Any, value: Any, codes: list[Any]) -> dict[str, str]:
    found: dict[str, str] = {}
    for condition in where_in(session, key, [c for c in codes if c]):
        found.update({k: v for k, v in session.execute(select(key, value).where(condition))})
    return found


def _text(value: Any) -> str:
    """Spreadsheets run cells that start like a formula; such a text is quoted."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_START) else text


def region_names(session: Session, codes: Iterable[str]) -> dict[str, str]:
    """'320100 南京市' for each known code (the scope and the groups of a what-if)."""
    return {
        code: f"{code} {name}"
        for code, name in _names(session, Region.code, Region.name, list(codes)).items()
    }


def compare_to_workbook(
    session: Session,
    path: str,
    *,
    actor: Actor,
    settings: Settings,
    draft: RuleSet | None,
    draft_name: str | None,
    region: str | None,
    as_of: date | None,
    chunk: int = 50_000,
    keep: int | None = 0,
    progress: Callable[[int], object] | None = None,
) -> WhatIfResult:
    """`compare_with_running`, writing every changing student and the summary to an XLSX file at `path`."""
    vocabulary = Vocabulary.of(settings.rules, draft or settings.rules)
    scope = region or "320000"
    book = StudentsWorkbook(path, vocabulary, names=region_names(session, [scope]))
    result = compare_with_running(
        session,
        actor=actor,
        settings=settings,
        draft=draft,
        region=region,
        as_of=as_of,
        chunk=chunk,
        keep=keep,
        progress=progress,
        sink=lambda rows: book.add(session, rows),
    )
    book.region_names.update(
        region_names(session, [c for c in result.by_region if c not in book.region_names])
    )
    book.close(result, draft_name=draft_name)
    return result
