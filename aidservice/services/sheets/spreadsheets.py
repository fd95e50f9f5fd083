"""Uploaded roster files as rows of raw cells, read within fixed bounds; and the import's ID-number guard.

`read_table` reads the first worksheet of an XLSX workbook (`xlsx.xlsx_rows`: streamed, `<dimension>`
ignored, no entity expanded) or the records of a UTF-8 CSV file, header first, and refuses a file over
any bound of `SheetLimits` as it reads (413 for size, 422 for shape, `errors.file` naming the bound).

CSV: the text is fed to the csv module line by line, and the characters fed since the last finished
record are counted, so a record can never grow past what `max_columns` cells of `max_cell_chars` (every
character a doubled quote) take: the csv module never builds a row of a million empty fields. Each
record is then checked for columns holding a value and for cell length.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

from aidservice.services.errors import ValidationFailed
from aidservice.services.sheets.sheet_limits import SheetLimits, too_large, too_many_rows, unreadable
from aidservice.services.sheets.xlsx import Interned, xlsx_rows

XLSX_MAGIC = b"PK\x03\x04"
XLS_MAGIC = b"\xd0\xcf\x11\xe0"
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
"""Characters no text file of a roster holds: their presence means the bytes are not text in that encoding."""
ID_NUMBER_CHARACTERS = (
    "must contain only the ASCII digits 0-9 and X (no full-width or other non-ASCII characters)"
)


def read_table(
    filename: str, data: bytes, max_rows: int, limits: SheetLimits | None = None
) -> list[list[Any]]:
    """The first sheet (XLSX) or the records (CSV) as rows of cells, header first; at most `max_rows` data rows."""
    return list(iter_table(filename, data, max_rows, limits))


def iter_table(
    filename: str, data: bytes, max_rows: int, limits: SheetLimits | None = None
) -> Iterator[list[Any]]:
    """`read_table` one row at a time: the import keeps what it makes of each row, never the whole table."""
    bounds = replace(limits or SheetLimits(), max_rows=max_rows)
    if data.startswith(XLS_MAGIC):
        raise ValidationFailed({"file": ["is an old Excel (.xls) file; save it as .xlsx or CSV UTF-8"]})
    rows = xlsx_rows(data, bounds) if data.startswith(XLSX_MAGIC) else csv_rows(data, filename, bounds)
    count = 0
    for cells in rows:
        count += 1
        if count > max_rows + 1:
            raise too_many_rows(max_rows)
        yield cells
    if not count:
        raise ValidationFailed({"file": ["is empty"]})


def csv_rows(data: bytes, filename: str, limits: SheetLimits) -> Iterator[list[str]]:
    """Records of a CSV file in UTF-8 (BOM or not) or GB18030/GBK (`decode_csv`), each within the bounds."""
    text = decode_csv(data, filename, limits)
    budget = _RecordBudget(limits.max_columns * (2 * limits.max_cell_chars + 3) + 2, limits)
    number = 0
    interned = Interned()
    try:
        for record in csv.reader(budget.lines(text)):
            budget.used = 0
            number += 1
            yield [interned(cell) for cell in _checked(record, number, limits)]
    except csv.Error as exc:
        if "field limit" in str(exc):
            raise budget.refusal() from None
        raise ValidationFailed({"file": [f"is not valid CSV: {exc}"]}) from None


class _RecordBudget:
    """Characters handed to the csv module since its last finished record, at most `limit`."""

    def __init__(self, limit: int, limits: SheetLimits) -> None:
        self.limit, self.limits, self.used = limit, limits, 0

    def lines(self, text: str) -> Iterator[str]:
        for line in io.StringIO(text, newline=""):
            self.used += len(line)
            if self.used > self.limit:
                raise self.refusal()
            yield line

    def refusal(self) -> ValidationFailed:
        return unreadable(
            f"has a row with more than {self.limits.max_columns} columns or a cell longer than "
            f"{self.limits.max_cell_chars} characters"
        )


def decode_csv(data: bytes, filename: str, limits: SheetLimits) -> str:
    """The text of a CSV file: UTF-8 tried strictly (a byte-order mark skipped), then GB18030 (a superset of GBK,
    what Excel saves as "CSV" on Chinese Windows). No declared charset is trusted; the size is bounded before
    anything is decoded; bytes that are not UTF-8 and decode as GB18030 only with control characters in them (a
    binary file: GB18030 maps almost any byte sequence) are refused."""
    if len(data) > limits.max_csv_bytes:
        raise too_large(f"is larger than {limits.max_csv_bytes} bytes")
    try:
        return data.decode("utf-8-sig")  # a control character here is refused by row, as it always was
    except UnicodeDecodeError:
        pass
    try:
        text = data.decode("gb18030")
    except UnicodeDecodeError:
        text = None
    if text is not None and not CONTROL.search(text):
        return text
    name = "XLSX 工作簿" if filename.lower().endswith(".xlsx") else "CSV 文件（UTF-8 或 GBK/GB18030 编码）"
    raise ValidationFailed(
        {"file": [f"无法作为{name}读取：请另存为 XLSX，或 CSV（UTF-8 或 GBK 编码）"]},
        "The file could not be read as CSV (UTF-8 or GB18030/GBK) or XLSX; nothing was read.",
    )


def _checked(record: list[str], number: int, limits: SheetLimits) -> list[str]:
    if len(record) > limits.max_columns:
        if any(cell.strip() for cell in record[limits.max_columns :]):
            raise unreadable(f"has more than {limits.max_columns} columns (row {number})")
        record = record[: limits.max_columns]
    if any(len(cell) > limits.max_cell_chars for cell in record):
        raise unreadable(f"has a cell longer than {limits.max_cell_chars} characters (row {number})")
    return record


def id_number_problem(value: object) -> str | None:
    """Why an imported ID number cannot be one before it is validated: any character outside ASCII.

    `identity.normalise_id_number` checks digits with str.isdigit, which Arabic-Indic (٣٢٠…), full-width
    (３２０…) and other Unicode digits pass; the keyed hash then fails on them. Refused here per row.
    """
    if isinstance(value, str) and not value.isascii():
        return ID_NUMBER_CHARACTERS
    return None
