"""Roster import cells (CSV text or spreadsheet values) as the JSON values the student payload schema expects.

A number is made exact only through aidservice.engine.numbers, which checks its text (length, exponent) first:
a 5,000-digit or `1e100000000` grade stays as it was read, and the schema then rejects that row naming the
column, instead of `int()` failing the whole import. What cannot be converted is always left as read.
"""

from __future__ import annotations

import math
from datetime import date, datetime

from aidservice.engine.facts import FALSE_TEXT, TRUE_TEXT
from aidservice.engine.numbers import NumberRefused, bounded_int

CellValue = str | int | float | bool | None | object
HAS, HAS_NOT = frozenset({"有", "√", "✓"}), frozenset({"无", "没有"})
"""What officers also write in a yes/no column (寄宿生：有/无, a tick), beside the rules' true/false texts."""


def text(value: CellValue) -> str:
    """A text column: a spreadsheet number without its `.0` (a code typed as a number), otherwise as written."""
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        value = int(value)
    return value if isinstance(value, str) else str(value)


def integer(value: CellValue) -> CellValue:
    """An integer column (grade): an int when the cell holds a bounded integer, otherwise the cell as read."""
    if isinstance(value, bool):
        return value
    try:
        return bounded_int(value)
    except NumberRefused:
        return value


def flag(value: CellValue) -> CellValue:
    """true/false, 1/0, yes/no, 是/否, 有/无 as booleans; anything else as read."""
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        value = int(value)
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        lowered = value.strip().lower()
        if lowered in TRUE_TEXT or lowered in HAS:
            return True
        if lowered in FALSE_TEXT or lowered in HAS_NOT:
            return False
    return value


def day(value: CellValue) -> CellValue:
    """A date column: a spreadsheet date (or date-time at midnight) as ISO text, text as written."""
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == datetime.min.time() else value
    if isinstance(value, date):
        return value.isoformat()
    return value.strip() if isinstance(value, str) else value
