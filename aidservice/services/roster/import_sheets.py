"""The import's workbooks: the template officers fill in, and their own sheet back with the problems in front.

The template (`template_workbook`) is built from `import_columns`: Chinese headers in the officers' order, the
ID-number columns formatted as text, drop-down lists (data validations) for the enum columns, 是/否 columns and
the guardians' relation, and a 说明 sheet saying for each column whether it is required, what it takes and an
example. The error sheet (`error_workbook`) is the uploaded table row for row, in order, with 错误说明 as its
first column: the officer fixes the rows it names and imports the same sheet again (the import skips a column
headed 错误说明).
Both are written with xlsxwriter with formulas off: a cell that starts with "=" stays text.
"""

from __future__ import annotations

import io
import os
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import xlsxwriter
from xlsxwriter.utility import xl_col_to_name

from aidservice.services.errors import DomainError
from aidservice.services.roster import cells as cell_values
from aidservice.services.roster.import_columns import (
    ERROR_COLUMN,
    Column,
    HeaderNames,
    columns,
    example_row,
    header_names,
)
from aidservice.services.roster.import_messages import message_lines
from aidservice.services.sheets import sheet_messages
from aidservice.services.sheets.spreadsheets import iter_table

TEMPLATE_ROWS = 2000
"""Rows of the template sheet the drop-down lists cover (Excel copies them down further on paste)."""
OPTIONS = {
    "in_memory": True,
    "strings_to_formulas": False,
    "strings_to_urls": False,
    "strings_to_numbers": False,
}
TEXT_COLUMNS = ("student_id", "id_number", "school_code")
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def template_workbook(facts: Mapping[str, Any]) -> bytes:
    """The import template: 学生名册 (headers, drop-downs) and 说明 (each column, an example row)."""
    table = columns(facts)
    out = io.BytesIO()
    book = xlsxwriter.Workbook(out, OPTIONS)
    head = book.add_format({"bold": True, "bg_color": "#DDEBF7", "border": 1})
    required = book.add_format({"bold": True, "bg_color": "#FCE4D6", "border": 1})
    text = book.add_format({"num_format": "@"})
    sheet = book.add_worksheet("学生名册")
    sheet.freeze_panes(1, 0)
    lists = book.add_worksheet("选项")
    for col, column in enumerate(table):
        is_text = column.key in TEXT_COLUMNS or column.key.endswith("_id_number")
        sheet.set_column(
            col, col, 22 if is_text else max(10, len(column.header) * 2 + 2), text if is_text else None
        )
        sheet.write_string(0, col, column.header, required if column.required else head)
        if column.choices:
            _drop_down(sheet, lists, col, column)
    lists.hide()
    _instructions(book, facts, table, head)
    book.close()
    return out.getvalue()


def _drop_down(sheet: Any, lists: Any, col: int, column: Column) -> None:
    """A list validation on the column, its labels on the hidden 选项 sheet (no 255-character limit)."""
    letter = xl_col_to_name(col)
    lists.write_string(0, col, column.header)
    for row, label in enumerate(column.choices, start=1):
        lists.write_string(row, col, label)
    sheet.data_validation(
        1,
        col,
        TEMPLATE_ROWS,
        col,
        {
            "validate": "list",
            "source": f"=选项!${letter}$2:${letter}${len(column.choices) + 1}",
            "error_title": column.header,
            "error_message": "请从下拉列表中选择：" + "、".join(column.choices)[:200],
            "input_title": column.header[:32],
            "input_message": ("必填。" if column.required else "") + "从列表中选择",
            # a relation may be one the list does not name (舅舅): Excel warns, the officer may keep it
            "error_type": "information" if column.key.endswith("_relation") else "stop",
        },
    )


def _instructions(book: Any, facts: Mapping[str, Any], table: Sequence[Column], head: Any) -> None:
    about = book.add_worksheet("说明")
    about.set_column(0, 0, 22)
    about.set_column(1, 1, 10)
    about.set_column(2, 2, 60)
    about.set_column(3, 3, 24)
    for col, title in enumerate(("列名", "是否必填", "填写说明 / 可选值", "示例")):
        about.write_string(0, col, title, head)
    example = example_row(facts, table)
    for row, (column, value) in enumerate(zip(table, example, strict=True), start=1):
        allowed = "可选值：" + "、".join(column.choices) if column.choices else ""
        about.write_string(row, 0, column.header)
        about.write_string(row, 1, "必填" if column.required else "选填")
        about.write_string(row, 2, "；".join(part for part in (column.note, allowed) if part))
        about.write_string(row, 3, "" if value is None else str(value))
    end = len(table) + 2
    notes = (
        "在“学生名册”工作表第 2 行起每行填写一名学生；第 1 行的列名请勿修改（也可使用英文列名，如 student_id）。",
        "可另存为 XLSX，或 CSV（UTF-8 或 GBK 编码均可）。",
        "有 3 名及以上监护人时，可按同样格式增加“监护人3身份证号”“监护人3姓名”“监护人3与学生关系”列。",
        "导入有错误时不写入任何数据；可下载带“错误说明”列的原表，按说明修正后直接再次导入（“错误说明”列不会被读取）。",
    )
    for offset, note in enumerate(notes):
        about.write_string(end + offset, 0, note)


@dataclass(slots=True)
class ReportRow:
    """One bad row as the page lists it: row number as in Excel, its 学号 and 姓名, each problem a line."""

    row: int
    student_id: str
    name: str
    problems: list[str]


@dataclass(slots=True)
class ImportReport:
    """An import's problems for the page (first `shown` rows) and the error sheet (every row)."""

    rows: list[ReportRow] = field(default_factory=list)
    file_errors: list[str] = field(default_factory=list)
    bad_rows: int = 0
    total_errors: int = 0
    workbook: bytes | None = None


def import_report(
    filename: str,
    data: bytes,
    errors: Mapping[str, Sequence[str]],
    facts: Mapping[str, Any],
    *,
    max_rows: int,
    shown: int,
    total_errors: int | None = None,
) -> ImportReport:
    """The import's messages (`rows.<row>.<field>`, `file`) by row, with the file read again for the sheet."""
    names = header_names(facts)
    lines = message_lines(errors, names)
    report = ImportReport(total_errors=total_errors or sum(len(m) for m in errors.values()))
    for key, messages in errors.items():
        if not key.startswith("rows."):
            report.file_errors.extend(sheet_messages.chinese(m) for m in messages)
    report.file_errors.extend(f"表头（第 1 行）：{m}" for m in lines.get(1, []))
    report.bad_rows = len([n for n in lines if n > 1])
    if not lines:
        return report
    listed = set(sorted(n for n in lines if n > 1)[:shown])
    where: Callable[[Sequence[Any], str], str] | None = None

    def noting(table: Iterable[list[Any]]) -> Iterator[list[Any]]:
        """The rows on their way into the sheet, the listed ones noted for the page (the table is never held)."""
        nonlocal where
        for number, cells in enumerate(table, start=1):
            if where is None:
                where = _where(cells, names)
            elif number in listed:
                report.rows.append(
                    ReportRow(number, where(cells, "student_id"), where(cells, "name"), lines[number])
                )
            yield cells

    try:
        report.workbook = error_workbook(noting(iter_table(filename, data, max_rows)), lines)
    except DomainError:
        report.rows, report.workbook = [], None
    return report


def _where(header: Sequence[Any], names: HeaderNames) -> Callable[[Sequence[Any], str], str]:
    """A reader of one column's text in a row, found by its key or Chinese header."""
    index = {names.key_of(str(c)): i for i, c in enumerate(header) if c is not None and str(c).strip()}

    def cell(cells: Sequence[Any], key: str) -> str:
        at = index.get(key)
        value = cells[at] if at is not None and at < len(cells) else None
        return "" if value is None else str(cell_values.text(value))[:64]

    return cell


def error_workbook(table: Iterable[Sequence[Any]], problems: Mapping[int, Sequence[str]]) -> bytes:
    """The uploaded table, every row in its order, with 错误说明 (the row's problems) as the first column."""
    # constant_memory (a row at a time) needs a file: with in_memory xlsxwriter would hold every cell
    with tempfile.TemporaryDirectory(prefix="aid-import-") as folder:
        path = os.path.join(folder, "errors.xlsx")
        book = xlsxwriter.Workbook(path, {**OPTIONS, "in_memory": False, "constant_memory": True})
        _error_rows(book, table, problems)
        book.close()
        with open(path, "rb") as written:
            return written.read()


def _error_rows(book: Any, table: Iterable[Sequence[Any]], problems: Mapping[int, Sequence[str]]) -> None:
    head = book.add_format({"bold": True, "bg_color": "#DDEBF7", "border": 1})
    bad = book.add_format({"font_color": "#9C0006", "bg_color": "#FFC7CE", "text_wrap": True})
    sheet = book.add_worksheet("学生名册")
    sheet.freeze_panes(1, 1)
    sheet.set_column(0, 0, 48)
    for number, cells in enumerate(table, start=1):
        if number == 1:
            header_problems = "；".join(problems.get(1, ()))
            title = f"{ERROR_COLUMN}（表头：{header_problems}）" if header_problems else ERROR_COLUMN
            sheet.write_string(0, 0, title[:32000], head)
            for col, value in enumerate(cells, start=1):
                _write(sheet, 0, col, value, head)
            continue
        messages = problems.get(number, ())
        if messages:
            sheet.write_string(number - 1, 0, "；".join(messages)[:32000], bad)
        for col, value in enumerate(cells, start=1):
            _write(sheet, number - 1, col, value, None)


def _write(sheet: Any, row: int, col: int, value: Any, style: Any) -> None:
    """A cell as it was read: numbers and booleans typed, everything else as text (never a formula)."""
    if value is None:
        return
    if isinstance(value, bool):
        sheet.write_boolean(row, col, value, style)
    elif isinstance(value, int | float):
        sheet.write_number(row, col, value, style)
    else:
        sheet.write_string(row, col, str(cell_values.day(value))[:32000], style)
