"""Importing students from a file: CSV or XLSX rows read one at a time, typed, and handed to the import's two passes.

The reader (`spreadsheets.iter_table`) yields raw cells row by row; each non-empty row becomes a payload
(cells typed for the strict schema, empty cells left out), packed with its neighbours into a compressed
blob (`roster_upsert.pack`, about 100 bytes a row): the table is never held as objects. The whole file
is read first, so a file refused as a whole (413/422 naming a bound) costs only its reading; then
`roster_upsert` checks the rows chunk by chunk, and writes them if none was refused (or `partial`).
A cell with a value under no header is a problem of its row; without `partial` such rows reject the
file with only those problems listed, before any other check.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from aidservice.services.actors import Actor
from aidservice.services.context import Settings
from aidservice.services.errors import ValidationFailed
from aidservice.services.roster import cells as cell_values
from aidservice.services.roster.import_columns import ERROR_COLUMN, HeaderNames, header_names, relation_value
from aidservice.services.roster.import_messages import in_chinese, refusal
from aidservice.services.roster.roster_schema import BOOL_FIELDS
from aidservice.services.roster.roster_upsert import (
    CHUNK,
    ImportResult,
    RawRow,
    RowError,
    check_rows,
    pack,
    reject_all,
    row_messages,
    unpack,
    write_checked,
)
from aidservice.services.sheets.spreadsheets import XLSX_MAGIC, iter_table

__all__ = ["ImportResult", "RowError", "import_student_file", "reject_all", "row_messages"]

GUARDIAN_COLUMN = re.compile(r"^guardian([1-9])_(id_number|name|relation)$")
TEXT_COLUMNS = frozenset(
    {
        "student_id",
        "id_number",
        "name",
        "school_code",
        "class_name",
        "stage",
        "east_west_origin",
        "enrolment_state",
    }
)
REQUIRED_COLUMNS = ("student_id", "id_number", "name", "stage", "grade")


def import_student_file(
    session: Session,
    *,
    actor: Actor,
    settings: Settings,
    filename: str,
    data: bytes,
    partial: bool = False,
    max_rows: int = 50_000,
    request_id: str | None = None,
) -> ImportResult:
    """Import students from a CSV (UTF-8, BOM or not, or GB18030/GBK) or XLSX file, Chinese or English headers.

    Columns are the payload's fields under their key (`stage`) or Chinese header (学段, `import_columns`); cells
    may hold the rules' labels (小学, 在读) and 是/否. Guardians are `guardian1_id_number, guardian1_name,
    guardian1_relation, guardian2_…` (监护人1身份证号 …); `school_code` may be left out by a school officer.
    Every problem of the file (header, stray cells, cells, rows against the roster) is found before the answer,
    which lists them all in Chinese. All-or-nothing unless `partial`; header problems refuse the file always.
    """
    facts = settings.rules.facts
    names = header_names(facts)
    table = iter_table(filename, data, max_rows)  # streamed: each row is typed and packed as it is read
    header = next(table)
    columns, header_errors = _check_header(
        header, names, default_school=actor.school_code if actor.role == "school_officer" else None
    )
    reading = _FileRows(columns, actor)
    reading.read(table)
    if not reading.count and not header_errors:
        raise ValidationFailed({"file": ["表头下没有数据行"]}, "The file has no data rows under the header.")
    checked = check_rows(session, actor=actor, settings=settings, rows=reading.rows())
    rejected = [e for e in checked.rejected if e.field not in columns.missing]
    problems = in_chinese([*header_errors, *reading.stray, *rejected], facts)
    if header_errors or (problems and not partial):
        raise refusal(problems, reading.count, names)
    checked.rejected = []
    result = write_checked(
        session,
        actor=actor,
        settings=settings,
        checked=checked,
        partial=partial,
        request_id=request_id,
        audit_extra={
            "file": {
                "name": filename[-128:],
                "sha256": hashlib.sha256(data).hexdigest(),
                "format": "xlsx" if data.startswith(XLSX_MAGIC) else "csv",
                "rows": reading.count,
            }
        },
    )
    result.rejected = sorted(problems, key=lambda e: e.row)
    return result


@dataclass(slots=True)
class _FileRows:
    """The file's data rows as the import's raw rows, packed `CHUNK` at a time (`roster_upsert.pack`).

    The whole file is read before any row is checked, so a file refused as a whole (too many rows,
    truncated XML) costs only its reading. Rows with a value under no header are held back (`stray`).
    """

    columns: _Columns
    actor: Actor
    count: int = 0  # non-empty data rows, held back or not
    stray: list[RowError] = field(default_factory=list)
    blobs: list[bytes] = field(default_factory=list)

    def read(self, table: Iterator[list[Any]]) -> None:
        part: list[RawRow] = []
        for offset, cells in enumerate(table):
            number = offset + 2  # the header is row 1
            if not any(_present(c) for c in cells):
                continue
            self.count += 1
            payload, guardian_columns, stray = _row_payload(self.columns, cells, self.actor)
            if stray:
                self.stray.extend(
                    RowError(number, column, "has a value but no column header") for column in stray
                )
                continue
            part.append((number, payload, guardian_columns))
            if len(part) == CHUNK:
                self.blobs.append(pack(part))
                part = []
        if part:
            self.blobs.append(pack(part))

    def rows(self) -> Iterator[RawRow]:
        """The packed rows in file order, each blob dropped as it is opened."""
        while self.blobs:
            yield from unpack(self.blobs.pop(0))


def _present(cell: Any) -> bool:
    return cell is not None and not (isinstance(cell, str) and cell.strip() == "")


@dataclass(frozen=True, slots=True)
class _Columns:
    """Where each payload field sits in the rows."""

    student: dict[str, int]  # field -> column index
    guardians: dict[int, dict[str, int]]  # N -> {id_number|name|relation -> column index}
    ignored: list[tuple[int, str]]  # (index, spreadsheet letter) of columns with no header
    missing: frozenset[str] = frozenset()  # required fields with no column (reported once, on the header)


def _letter(index: int) -> str:
    """Spreadsheet column letter of a 0-based index (0 -> A, 26 -> AA)."""
    name, index = "", index + 1
    while index:
        index, rest = divmod(index - 1, 26)
        name = chr(ord("A") + rest) + name
    return name


def _check_header(
    header: Sequence[Any], names: HeaderNames, default_school: str | None
) -> tuple[_Columns, list[RowError]]:
    """Known columns (key or Chinese header), each once, the required ones present; the problems are returned
    with the columns that could be placed, so the rows are still checked and every problem told at once."""
    student: dict[str, int] = {}
    guardians: dict[int, dict[str, int]] = {}
    ignored: list[tuple[int, str]] = []
    errors: list[RowError] = []
    for index, cell in enumerate(header):
        text = str(cell).strip() if _present(cell) else ""
        if text.startswith(ERROR_COLUMN):
            continue  # the error sheet's own column: an officer imports the fixed sheet as it is
        if not text:
            ignored.append((index, _letter(index)))
            continue
        name = names.key_of(text)
        match = GUARDIAN_COLUMN.fullmatch(name or "")
        if name is None:
            errors.append(RowError(1, text[:64], "unknown column"))
        elif match:
            slot = guardians.setdefault(int(match[1]), {})
            if match[2] in slot:
                errors.append(RowError(1, name, "appears twice"))
            slot[match[2]] = index
        else:
            if name in student:
                errors.append(RowError(1, name, "appears twice"))
            student[name] = index
    required = [c for c in REQUIRED_COLUMNS if c not in student]
    if "school_code" not in student and default_school is None:
        required.append("school_code")
    for n, slot in sorted(guardians.items()):
        required.extend(
            f"guardian{n}_{part}" for part in ("id_number", "name", "relation") if part not in slot
        )
    errors.extend(RowError(1, c, "missing column") for c in required)
    return _Columns(student, dict(sorted(guardians.items())), ignored, frozenset(required)), errors


def _row_payload(
    columns: _Columns, cells: Sequence[Any], actor: Actor
) -> tuple[dict[str, Any], list[int], list[str]]:
    """One row as a payload: cells typed for the strict schema, empty cells left out (defaults apply)."""

    def cell(index: int) -> Any:
        return cells[index] if index < len(cells) else None

    payload: dict[str, Any] = {}
    for name, index in columns.student.items():
        value = cell(index)
        if _present(value):
            payload[name] = _typed(name, value)
    if "school_code" not in payload and actor.role == "school_officer":
        payload["school_code"] = actor.school_code
    guardians: list[dict[str, Any]] = []
    guardian_columns: list[int] = []
    for n, slot in columns.guardians.items():
        guardian = {part: _typed(part, cell(i)) for part, i in slot.items() if _present(cell(i))}
        if guardian:
            guardians.append(guardian)
            guardian_columns.append(n)
    if guardians:
        payload["guardians"] = guardians
    stray = [letter for index, letter in columns.ignored if _present(cell(index))]
    return payload, guardian_columns, stray


def _typed(name: str, value: Any) -> Any:
    """A spreadsheet cell as the JSON value the payload schema expects; what cannot be converted stays as is."""
    if name == "relation":
        return relation_value(cell_values.text(value))
    if name in TEXT_COLUMNS:
        return cell_values.text(value)
    if name in BOOL_FIELDS:
        return cell_values.flag(value)
    if name == "grade":
        return cell_values.integer(value)
    if name == "enrolment_date":
        return cell_values.day(value)
    return value
