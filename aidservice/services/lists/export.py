"""A list as a file: XLSX (one sheet, frozen Chinese header row) or CSV (UTF-8 with BOM, so Excel reads the
Chinese), the rows the screen's filter selects in its order, ID numbers masked, every download audited
(`list.exported`, as reports are: `report.generated`).

Bounded: a list of more than `EXPORT_MAX_ROWS` rows is refused (422 naming `format`, with the count) before
anything is read; the officer narrows the filter. Cells a spreadsheet would run as a formula (= + - @, tab,
carriage return) are written with a leading apostrophe in CSV and always as text in XLSX.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

from sqlalchemy.orm import Session

from aidservice.services import audit
from aidservice.services.actors import Actor
from aidservice.services.errors import ValidationFailed
from aidservice.services.lists.filters import ListFilter
from aidservice.services.reports.common import Column
from aidservice.services.reports.render import FORMULA_START, MEDIA_TYPES, yuan

EXPORT_FORMATS = ("csv", "xlsx")
EXPORT_MAX_ROWS = 20_000
"""The most rows one download holds (documented in the API): above it, narrow the filter."""
EXPORTED_ACTION = "list.exported"
BEIJING_FORMAT = "%Y-%m-%d %H:%M"
BEIJING = timezone(timedelta(hours=8), "CST")


@dataclass(frozen=True, slots=True)
class Export:
    """A finished download: its bytes, media type and file name."""

    content: bytes
    media_type: str
    filename: str


def check_format(fmt: str) -> None:
    if fmt not in EXPORT_FORMATS:
        raise ValidationFailed({"format": [f"应为 {' 或 '.join(EXPORT_FORMATS)}"]})


def check_size(total: int) -> None:
    """Refuse before reading when the filter selects more rows than one file holds."""
    if total > EXPORT_MAX_ROWS:
        raise ValidationFailed(
            {
                "format": [
                    f"筛选结果共 {total} 行，超过导出上限 {EXPORT_MAX_ROWS} 行；请缩小筛选范围后再导出。"
                ]
            }
        )


def audit_export(
    session: Session,
    *,
    actor: Actor,
    name: str,
    flt: ListFilter | None,
    fmt: str,
    rows: int,
    request_id: str | None,
    extra: dict[str, str] | None = None,
) -> None:
    """Who downloaded which list, how filtered, how many rows; the search text is not kept (it may be a name)."""
    summary: dict[str, Any] = {"list": name, "format": fmt, "rows": rows, **(extra or {})}
    if flt is not None:
        summary["filter"] = {k: v for k, v in flt.args().items() if k != "q"}
        summary["searched"] = bool(flt.q)
    audit.record(
        session,
        actor=actor,
        action=EXPORTED_ACTION,
        subject=f"list:{name}",
        summary=summary,
        request_id=request_id,
    )


def write(
    title: str, columns: Sequence[Column], rows: Iterable[Sequence[Any]], fmt: str, stem: str
) -> Export:
    """The rows as a CSV or XLSX file named `<stem>.<fmt>`."""
    materialised = [tuple(row) for row in rows]
    content = _csv(columns, materialised) if fmt == "csv" else _xlsx(title, columns, materialised)
    return Export(content, MEDIA_TYPES[fmt], f"{stem}.{fmt}")


def _text(value: Any) -> str:
    if isinstance(value, datetime):  # stored in UTC, read by officers in Beijing time
        aware = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
        return aware.astimezone(BEIJING).strftime(BEIJING_FORMAT)
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def _csv_cell(column: Column, value: Any) -> str:
    if value is None:
        return ""
    if column.type == "money":
        return yuan(int(value)) or ""
    if column.type == "int":
        return str(int(value))
    text = _text(value)
    return "'" + text if text.startswith(FORMULA_START) else text


def _csv(columns: Sequence[Column], rows: list[tuple[Any, ...]]) -> bytes:
    out = io.StringIO()
    out.write("\ufeff")  # BOM: Excel then reads the UTF-8 Chinese correctly
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([c.heading for c in columns])
    for row in rows:
        writer.writerow([_csv_cell(c, v) for c, v in zip(columns, row, strict=True)])
    return out.getvalue().encode("utf-8")


def _xlsx(title: str, columns: Sequence[Column], rows: list[tuple[Any, ...]]) -> bytes:
    import xlsxwriter  # the writer of the reports; loaded only for a download

    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(
        buffer,
        {
            "in_memory": True,
            "strings_to_formulas": False,
            "strings_to_urls": False,
            "strings_to_numbers": False,
        },
    )
    book.set_properties({"title": title})
    header = book.add_format({"bold": True, "bg_color": "#DDEBF7", "border": 1, "text_wrap": True})
    money = book.add_format({"num_format": "#,##0.00"})
    sheet = book.add_worksheet(title[:31])
    sheet.freeze_panes(1, 0)
    for col, column in enumerate(columns):
        sheet.set_column(col, col, column.width)
        sheet.write_string(0, col, column.heading, header)
    for r, row in enumerate(rows, start=1):
        for col, (column, value) in enumerate(zip(columns, row, strict=True)):
            if value is None or value == "":
                continue
            if column.type == "money":
                sheet.write_number(r, col, int(value) / 100, money)
            elif column.type == "int":
                sheet.write_number(r, col, int(value))
            else:
                sheet.write_string(r, col, _text(value))  # text, never a formula
    book.close()
    return buffer.getvalue()
