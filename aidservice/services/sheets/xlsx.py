"""The rows of an XLSX workbook's first worksheet, streamed from its XML with every bound checked while reading.

The parts are found as a reader of the format must: the package relationships name the workbook, the
workbook's relationships name its worksheets, shared strings and styles; the first `<sheet>` that is a
worksheet is read. Every part is inflated through `zipped.Archive` (sizes and ratio counted) and parsed
by expat in 64 KiB steps with handlers only, no tree: a DOCTYPE (and so any entity declaration) is
refused outright, whether or not defusedxml is installed, so no entity is ever expanded.

The worksheet's `<dimension>` is never read. `<row r>` places each row (a gap becomes empty rows, so row
numbers stay the sheet's) and `<c r>` each cell; a row or cell without `r` follows the one before it.
Cells are returned raw, as openpyxl's read-only mode gave them: shared and inline strings as text
(phonetic runs left out), numbers as int or float, booleans, formula results as cached, error codes as
text, numbers in a date format as datetimes (1900 or 1904 calendar). Bounds: `SheetLimits`.
"""

from __future__ import annotations

import posixpath
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from xml.parsers import expat

from openpyxl.styles.numbers import BUILTIN_FORMATS, is_date_format, is_timedelta_format
from openpyxl.utils.datetime import CALENDAR_MAC_1904, CALENDAR_WINDOWS_1900, from_excel, from_ISO8601

from aidservice.services.sheets.sheet_limits import SheetLimits, too_large, too_many_rows, unreadable
from aidservice.services.sheets.zipped import Archive

MAX_SHEET_ROW = 1_048_576
MAX_SHEET_COLUMN = 16_384
MALFORMED = "could not be read as an XLSX workbook (a part is not well-formed XML)"

Start = Callable[[str, dict[str, str]], None]
End = Callable[[str], None]
Text = Callable[[str], None]


class Interned:
    """One object for each short text seen again ("junior", "否", a school code): a roster repeats a few values
    in most columns, and 50,000 copies of each would cost tens of MB. At most `size` texts are kept."""

    def __init__(self, size: int = 10_000, longest: int = 16) -> None:
        self.seen: dict[str, str] = {}
        self.size, self.longest = size, longest

    def __call__(self, text: str) -> str:
        if len(text) > self.longest:
            return text
        found = self.seen.get(text)
        if found is not None:
            return found
        if len(self.seen) < self.size:
            self.seen[text] = text
        return text


def xlsx_rows(data: bytes, limits: SheetLimits) -> Iterator[list[Any]]:
    """Cell values of the first worksheet, row by row (header first); refusals as `sheet_limits` describes."""
    archive = Archive(data, limits)
    book = _workbook(archive)
    strings = _shared_strings(archive, book.strings, limits) if book.strings else []
    formats = _date_formats(archive, book.styles, limits) if book.styles else {}
    sheet = _Sheet(strings, formats, CALENDAR_MAC_1904 if book.date1904 else CALENDAR_WINDOWS_1900, limits)
    parser = _parser(sheet.start, sheet.end, sheet.runs.text)
    try:
        for chunk in archive.chunks(book.sheet):
            parser.Parse(chunk, False)
            yield from sheet.take()
        parser.Parse(b"", True)
    except (expat.ExpatError, LookupError, ValueError):  # an encoding Python or expat does not take
        raise unreadable(MALFORMED) from None
    yield from sheet.take()


# ------------------------------------------------------------------------------------------ parsing


def _refuse_doctype(*_args: Any) -> None:
    raise unreadable("has a DOCTYPE or entity declaration in its XML, which a workbook never needs")


def _parser(start: Start, end: End, text: Text | None = None) -> Any:
    """An expat parser with namespaces as `uri}local`, refusing DOCTYPE and entity declarations."""
    parser = expat.ParserCreate(namespace_separator="}")
    parser.StartDoctypeDeclHandler = _refuse_doctype
    parser.EntityDeclHandler = _refuse_doctype
    parser.StartElementHandler = start
    parser.EndElementHandler = end
    if text is not None:
        parser.CharacterDataHandler = text
        parser.buffer_text = True
    return parser


class _Idle:
    """Counts the XML elements of a part that hold no value (formatting, empty cells, anything unknown): each
    costs a call however small it is, so a part of millions of `<x/>` is refused instead of parsed for seconds."""

    def __init__(self, limit: int) -> None:
        self.left = limit
        self.limit = limit

    def spend(self) -> None:
        self.left -= 1
        if self.left < 0:
            raise unreadable(f"has more than {self.limit} XML elements that hold no value in one part")


def _parse(
    archive: Archive, name: str, start: Start, end: End, text: Text | None = None, *, counted: bool = True
) -> None:
    """Parse one part; unless `counted` is False (the handler counts), every element spends from an idle budget."""
    if counted:
        idle, inner = _Idle(archive.limits.max_idle_elements), start

        def start(name: str, attrs: dict[str, str]) -> None:
            idle.spend()
            inner(name, attrs)

    parser = _parser(start, end, text)
    try:
        for chunk in archive.chunks(name):
            parser.Parse(chunk, False)
        parser.Parse(b"", True)
    except (expat.ExpatError, LookupError, ValueError):  # an encoding Python or expat does not take
        raise unreadable(MALFORMED) from None


_LOCAL_NAMES: dict[str, str] = {}


def _local(name: str) -> str:
    """`uri}local` -> `local`, remembered (a sheet repeats a handful of names a million times)."""
    local = _LOCAL_NAMES.get(name)
    if local is None:
        local = name.rpartition("}")[2]
        if len(_LOCAL_NAMES) < 1_000:
            _LOCAL_NAMES[name] = local
    return local


def _ignore(_name: str) -> None:
    return None


# ---------------------------------------------------------------------------------------- the parts


@dataclass(slots=True)
class _Book:
    sheet: str = ""
    strings: str = ""
    styles: str = ""
    date1904: bool = False


def _relationships(archive: Archive, part: str) -> dict[str, tuple[str, str]]:
    """Relationship id -> (type's last segment, target part name) of `part`'s .rels (none when absent)."""
    folder, base = posixpath.split(part)
    rels_name = posixpath.join(folder, "_rels", base + ".rels")
    found: dict[str, tuple[str, str]] = {}
    if not archive.has(rels_name):
        return found

    def start(name: str, attrs: dict[str, str]) -> None:
        if _local(name) != "Relationship" or attrs.get("TargetMode") == "External":
            return
        if len(found) >= archive.limits.max_members:
            raise unreadable(f"has more than {archive.limits.max_members} parts in its ZIP archive")
        target = attrs.get("Target", "")
        path = (
            target.lstrip("/")
            if target.startswith("/")
            else posixpath.normpath(posixpath.join(folder, target))
        )
        found[attrs.get("Id", "")] = (attrs.get("Type", "").rpartition("/")[2], path)

    _parse(archive, rels_name, start, _ignore)
    return found


def _workbook(archive: Archive) -> _Book:
    """Where the first worksheet, the shared strings and the styles are, and the workbook's calendar."""
    package = _relationships(archive, "")
    workbook = next((path for kind, path in package.values() if kind == "officeDocument"), "xl/workbook.xml")
    parts = _relationships(archive, workbook)
    book = _Book()

    def start(name: str, attrs: dict[str, str]) -> None:
        local = _local(name)
        if local == "workbookPr":
            book.date1904 = attrs.get("date1904", "").lower() in ("1", "true")
        elif local == "sheet" and not book.sheet:
            rid = next((value for key, value in attrs.items() if key.endswith("}id")), "")
            kind, path = parts.get(rid, ("", ""))
            if kind == "worksheet":
                book.sheet = path

    _parse(archive, workbook, start, _ignore)
    if not book.sheet:
        raise unreadable("has no worksheet")
    for kind, path in parts.values():
        if kind == "sharedStrings":
            book.strings = path
        elif kind == "styles":
            book.styles = path
    return book


def _shared_strings(archive: Archive, part: str, limits: SheetLimits) -> list[str]:
    """The shared string table: each `<si>`'s text runs joined, phonetic runs (`<rPh>`) left out."""
    strings: list[str] = []
    state = _Runs(limits.max_cell_chars)
    idle = _Idle(limits.max_idle_elements)

    def start(name: str, _attrs: dict[str, str]) -> None:
        local = _local(name)
        if local != "si" and local != "t":
            idle.spend()
        if local == "si":
            if len(strings) >= limits.max_shared_strings:
                raise too_large(f"has more than {limits.max_shared_strings} shared strings")
            state.open()
        else:
            state.start(local)

    def end(name: str) -> None:
        local = _local(name)
        if local == "si":
            strings.append(state.close() or "")
        else:
            state.end(local)

    _parse(archive, part, start, end, state.text, counted=False)
    return strings


def _date_formats(archive: Archive, part: str, limits: SheetLimits) -> dict[int, bool]:
    """Cell format index -> True for a duration format, False for a date; formats that are neither are absent."""
    custom: dict[int, str] = {}
    formats: list[int] = []
    inside = [False]

    def start(name: str, attrs: dict[str, str]) -> None:
        local = _local(name)
        if local == "numFmt" and len(custom) < limits.max_styles:
            custom[_int(attrs.get("numFmtId"), -1)] = attrs.get("formatCode", "")[: limits.max_cell_chars]
        elif local == "cellXfs":
            inside[0] = True
        elif local == "xf" and inside[0]:
            if len(formats) >= limits.max_styles:
                raise unreadable(f"has more than {limits.max_styles} cell formats")
            formats.append(_int(attrs.get("numFmtId"), 0))

    def end(name: str) -> None:
        if _local(name) == "cellXfs":
            inside[0] = False

    _parse(archive, part, start, end)
    dates: dict[int, bool] = {}
    for index, number in enumerate(formats):
        code = custom.get(number, BUILTIN_FORMATS.get(number, ""))
        if code and is_date_format(code):
            dates[index] = is_timedelta_format(code)
    return dates


def _int(text: str | None, default: int) -> int:
    return int(text) if text is not None and text.isascii() and text.isdigit() and len(text) < 10 else default


# ----------------------------------------------------------------------------------------- the text


@dataclass(slots=True)
class _Runs:
    """Text of a string item or a cell: `<t>` runs (not under `<rPh>`) or `<v>`, at most `limit` characters."""

    limit: int
    parts: list[str] = field(default_factory=list)
    length: int = 0
    capture: bool = False
    phonetic: bool = False
    seen: bool = False

    def open(self) -> None:
        self.parts, self.length, self.capture, self.phonetic, self.seen = [], 0, False, False, False

    def start(self, local: str) -> None:
        if local == "rPh":
            self.phonetic = True
        elif local in ("t", "v") and not self.phonetic:
            self.capture = self.seen = True

    def end(self, local: str) -> None:
        if local == "rPh":
            self.phonetic = False
        elif local in ("t", "v"):
            self.capture = False

    def text(self, data: str) -> None:
        if self.capture:
            self.length += len(data)
            if self.length > self.limit:
                raise unreadable(f"has a cell longer than {self.limit} characters")
            self.parts.append(data)

    def close(self) -> str | None:
        return "".join(self.parts) if self.seen else None


class _Sheet:
    """The worksheet parser's state: handlers fill `ready` with finished rows, `take` hands them on."""

    def __init__(self, strings: list[str], dates: dict[int, bool], epoch: Any, limits: SheetLimits) -> None:
        self.strings, self.dates, self.epoch, self.limits = strings, dates, epoch, limits
        self.ready: list[list[Any]] = []
        self.emitted = 0  # sheet rows handed on so far (the last one's number)
        self.row = 0  # number of the row being read (or the last one read)
        self.in_row = False
        self.cells: list[Any] = []
        self.column = -1
        self.kind = "n"
        self.style = 0
        self.runs = _Runs(limits.max_cell_chars)
        self.interned = Interned()
        self.idle = _Idle(limits.max_idle_elements)

    def take(self) -> Iterator[list[Any]]:
        ready, self.ready = self.ready, []
        yield from ready

    def start(self, name: str, attrs: dict[str, str]) -> None:
        local = _local(name)
        if local == "row":
            self._open_row(attrs.get("r"))
        elif local == "c" and self.in_row:
            reference = attrs.get("r")
            self.column = _column(reference) if reference else self.column + 1
            if self.column >= MAX_SHEET_COLUMN:
                raise unreadable("could not be read as an XLSX workbook (a cell lies beyond column XFD)")
            self.kind = attrs.get("t", "n")
            self.style = _int(attrs.get("s"), 0)
            self.runs.open()
        else:
            if local not in ("v", "is", "t"):
                self.idle.spend()
            if self.in_row:
                self.runs.start(local)

    def end(self, name: str) -> None:
        local = _local(name)
        if local == "c" and self.in_row:
            self._place(self._value(self.runs.close()))
        elif local == "row" and self.in_row:
            self._close_row()
        elif self.in_row:
            self.runs.end(local)

    def _open_row(self, reference: str | None) -> None:
        number = _int(reference, -1) if reference else self.row + 1
        if not 0 < number <= MAX_SHEET_ROW or number <= self.row:
            raise unreadable("could not be read as an XLSX workbook (row numbers missing or out of order)")
        self.row, self.in_row, self.cells, self.column = number, True, [], -1

    def _place(self, value: Any) -> None:
        if value is None or value == "":
            self.idle.spend()
            return
        if self.column >= self.limits.max_columns:
            raise unreadable(f"has more than {self.limits.max_columns} columns (row {self.row})")
        if self.column >= len(self.cells):
            self.cells.extend([None] * (self.column + 1 - len(self.cells)))
        self.cells[self.column] = value

    def _close_row(self) -> None:
        self.in_row = False
        if not self.cells:
            self.idle.spend()
            return  # an empty row (formatting only) is handed on only if a row with values follows it
        if self.row > self.limits.max_rows + 1:
            raise too_many_rows(self.limits.max_rows)
        self.ready.extend([] for _ in range(self.row - self.emitted - 1))
        self.ready.append(self.cells)
        self.emitted = self.row

    def _value(self, text: str | None) -> Any:
        kind = self.kind
        if not text or kind in ("str", "e", "inlineStr"):
            return self.interned(text) if text else None
        if kind == "s":
            index = _int(text.strip(), -1)
            if not 0 <= index < len(self.strings):
                raise unreadable(
                    "could not be read as an XLSX workbook (a cell refers to a missing shared string)"
                )
            return self.strings[index]
        if kind == "b":
            return text.strip() in ("1", "true")
        if kind == "d":
            try:
                return from_ISO8601(text.strip())
            except ValueError:
                return text
        return self._number(text.strip())

    def _number(self, text: str) -> Any:
        try:
            number: int | float = float(text) if any(c in text for c in ".eEnN") else int(text)
        except ValueError:
            raise unreadable(
                f"could not be read as an XLSX workbook (row {self.row} has a number cell "
                "that is not a number)"
            ) from None
        duration = self.dates.get(self.style)
        if duration is None:
            return number
        try:
            return from_excel(number, self.epoch, timedelta=duration)
        except (ValueError, OverflowError, TypeError):
            return number


_COLUMNS: dict[str, int] = {}


def _column(reference: str) -> int:
    """0-based column of a cell reference ("B7" -> 1); not a reference -> a refusal."""
    letters = reference.rstrip("0123456789")
    index = _COLUMNS.get(letters)
    if index is not None and len(letters) < len(reference):
        return index
    if not (
        0 < len(letters) <= 3 and letters.isascii() and letters.isalpha() and len(letters) < len(reference)
    ):
        raise unreadable("could not be read as an XLSX workbook (a cell reference is not valid)")
    index = 0
    for char in letters.upper():
        index = index * 26 + ord(char) - ord("A") + 1
    _COLUMNS[letters] = index - 1  # at most 2 x 18,278 one- to three-letter names
    return index - 1
