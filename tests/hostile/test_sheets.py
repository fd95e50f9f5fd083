"""Hostile spreadsheets at POST /api/v1/students/import (issue 15, item 3; item 4's ID-number rows).

Each probe is refused fast with problem+json naming `file` and the bound, and nothing is stored; a sheet
whose `<dimension>` lies, or whose rows are sparse, has every row read. The workbooks are built by
tests/hostile/workbooks.py, part by part.
"""

from __future__ import annotations

import datetime as dt
import io
import random
import time
import zipfile
from collections.abc import Sequence
from typing import Any

import openpyxl
import pytest
import sqlalchemy as sa
import xlsxwriter
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import given, settings
from hypothesis import strategies as st

from aidservice.extensions import db
from aidservice.models import AuditEvent, Student
from aidservice.services.errors import DomainError
from aidservice.services.sheets.spreadsheets import read_table
from tests.hostile.workbooks import bomb, by_hand, rows_xml, shared_strings, sheet, workbook
from tests.timing_support import FAST, SLOW_FILE
from tests.world.factories import bearer, id_number, make_school, make_user

pytestmark = pytest.mark.databases

HEADER = [
    "student_id",
    "id_number",
    "name",
    "stage",
    "grade",
    "guardian1_id_number",
    "guardian1_name",
    "guardian1_relation",
]
GUARDIAN_BORN = dt.date(1980, 1, 1)
LAUGHS = (
    '<!DOCTYPE lolz [<!ENTITY lol "lol">'
    + "".join(
        f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">' for i in range(1, 10)
    )
    + "]>"
)
EXTERNAL = '<!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'


def row(student_id: str, seed: int, **cells: Any) -> list[Any]:
    values = {
        "student_id": student_id,
        "id_number": id_number(seed),
        "name": "学生",
        "stage": "junior",
        "grade": 1,
        "guardian1_id_number": id_number(seed + 5000, born=GUARDIAN_BORN),
        "guardian1_name": "父亲",
        "guardian1_relation": "father",
    }
    values.update(cells)
    return [values[name] for name in HEADER]


def csv_bytes(rows: Sequence[Sequence[Any]]) -> bytes:
    return "\r\n".join(",".join("" if v is None else str(v) for v in r) for r in rows).encode() + b"\r\n"


@pytest.fixture
def officer(app: Flask) -> dict[str, str]:
    make_school(db.session, "S1", "320102", stages=("primary", "junior"))
    token = make_user(db.session, "school_officer", school_code="S1")[1]
    db.session.commit()
    return bearer(token)


def upload(
    client: FlaskClient,
    headers: dict[str, str],
    content: bytes,
    name: str = "roster.xlsx",
    partial: bool = False,
) -> tuple[Any, float]:
    url = "/api/v1/students/import" + ("?partial=true" if partial else "")
    started = time.monotonic()
    response = client.post(
        url, data={"file": (io.BytesIO(content), name)}, headers=headers, content_type="multipart/form-data"
    )
    return response, time.monotonic() - started


def stored() -> tuple[int, int]:
    students = db.session.execute(sa.select(sa.func.count()).select_from(Student)).scalar_one()
    imports = db.session.execute(
        sa.select(sa.func.count()).select_from(AuditEvent).where(AuditEvent.action == "student.import")
    ).scalar_one()
    return students, imports


def refused(response: Any, elapsed: float, status: int, words: str, limit: float = FAST) -> None:
    """The problem+json refusal: status, `errors.file` naming the bound, fast, nothing stored."""
    assert response.status_code == status, response.get_data(as_text=True)[:500]
    assert response.mimetype == "application/problem+json"
    assert words in response.json["errors"]["file"][0], response.json
    assert elapsed < limit, elapsed
    assert stored() == (0, 0)


# ------------------------------------------------------------------------------------- XML entities


def _with_doctype(part: str, doctype: str) -> bytes:
    cells = [HEADER, row("E1", 401, name="&lol9;" if "lol" in doctype else "&xxe;")]
    if part == "sheet":
        return workbook(sheet(cells, doctype=doctype))
    if part == "shared strings":
        return workbook(sheet([[("shared", 0)]]), strings=shared_strings(["&lol9;"], doctype=doctype))
    name = {"workbook": "xl/workbook.xml", "relationships": "xl/_rels/workbook.xml.rels"}[part]
    plain = workbook(sheet(cells))
    with zipfile.ZipFile(io.BytesIO(plain)) as archive:
        original = archive.read(name).decode()
    declaration, rest = original.split("?>", 1)
    return workbook(sheet(cells), replace={name: f"{declaration}?>{doctype}{rest}".encode()})


@pytest.mark.parametrize("doctype", [LAUGHS, EXTERNAL], ids=["billion-laughs", "external-entity"])
@pytest.mark.parametrize("part", ["sheet", "shared strings", "workbook", "relationships"])
def test_a_workbook_with_a_doctype_or_entity_is_a_422_naming_file(
    client: FlaskClient, officer: dict[str, str], part: str, doctype: str
) -> None:
    response, elapsed = upload(client, officer, _with_doctype(part, doctype))
    refused(response, elapsed, 422, "DOCTYPE or entity declaration")


# ---------------------------------------------------------------------------------- rows all read


def test_a_sheet_whose_dimension_lies_has_every_row_imported(
    client: FlaskClient, officer: dict[str, str]
) -> None:
    rows = [HEADER, *(row(f"D{i:03d}", 1000 + i) for i in range(300))]
    response, elapsed = upload(client, officer, workbook(sheet(rows, dimension="A1:B2")))
    assert response.status_code == 200, response.json
    assert response.json["created"] == 300 and response.json["rejected"] == []
    assert stored() == (300, 1) and elapsed < 20


def test_sparse_rows_and_cells_without_references_keep_the_sheets_row_numbers(
    client: FlaskClient, officer: dict[str, str]
) -> None:
    body = (
        rows_xml(
            [HEADER, row("P3", 403), row("P7", 407, grade="two"), row("P9", 409)],
            numbers=[1, 3, 7, 9],
            cell_refs=False,
        )
        + rows_xml([row("P10", 410)], row_refs=False, cell_refs=False)
        + '<row r="12" spans="1:8" ht="20" customHeight="1"/>'  # formatting only: no row handed on
    )
    response, elapsed = upload(client, officer, workbook(sheet(body=body, dimension="A1")), partial=True)
    assert response.status_code == 200, response.json
    assert response.json["created"] == 3
    assert [(r["row"], r["field"]) for r in response.json["rejected"]] == [(7, "grade")]
    assert elapsed < SLOW_FILE


def _openpyxl_book() -> bytes:
    book = openpyxl.Workbook()
    sheet_ = book.active
    sheet_.append(["text", 7, 2.5, True, dt.datetime(2020, 9, 1), None, "末尾"])
    sheet_.append([None, None, "=1+1", False, -3, "0012"])
    sheet_["C5"] = "far"
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def _xlsxwriter_book() -> bytes:
    """Shared strings, a date format in styles.xml, rich text, a formula with its cached value."""
    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer, {"in_memory": True})
    sheet_ = book.add_worksheet()
    sheet_.write_row(0, 0, ["text", 7, 2.5, True, None, "末尾"])
    sheet_.write_datetime(0, 4, dt.datetime(2020, 9, 1), book.add_format({"num_format": "yyyy-mm-dd"}))
    sheet_.write_rich_string(1, 0, "ab", book.add_format({"bold": True}), "cd")
    sheet_.write_formula(1, 1, "=1+1", None, 2)
    sheet_.write(4, 2, "far")
    book.close()
    return buffer.getvalue()


@pytest.mark.parametrize("make", [_openpyxl_book, _xlsxwriter_book], ids=["openpyxl", "xlsxwriter"])
def test_cells_read_as_openpyxl_reads_them(make: Any) -> None:
    """Inline and shared strings, numbers, booleans, dates, formulas' cached values: the same raw cells."""
    content = make()
    expected = [
        [c.value for c in r]
        for r in openpyxl.load_workbook(io.BytesIO(content), data_only=True).active.iter_rows()
    ]
    got = read_table("x.xlsx", content, 50_000)
    assert [r + [None] * (len(e) - len(r)) for r, e in zip(got, expected, strict=True)] == expected


# ------------------------------------------------------------------------------------------ bounds


def _wide(kind: str) -> bytes:
    rows = [[f"c{i}" for i in range(65)], ["v"] * 65]
    return workbook(sheet(rows)) if kind == "xlsx" else csv_bytes(rows)


@pytest.mark.parametrize("kind", ["xlsx", "csv"])
def test_65_columns_are_a_422_naming_the_bound(
    client: FlaskClient, officer: dict[str, str], kind: str
) -> None:
    response, elapsed = upload(client, officer, _wide(kind), name=f"roster.{kind}")
    refused(response, elapsed, 422, "has more than 64 columns")


def test_trailing_empty_csv_columns_are_not_counted(client: FlaskClient, officer: dict[str, str]) -> None:
    rows = [[*HEADER, *[""] * 70], [*row("T1", 411), *[""] * 70]]
    response, _elapsed = upload(client, officer, csv_bytes(rows), name="roster.csv")
    assert response.status_code == 200 and response.json["created"] == 1


def _tall(kind: str) -> bytes:
    rows = [HEADER, *([f"R{i}", "x", "y", "junior", 1] for i in range(50_001))]
    return workbook(sheet(rows)) if kind == "xlsx" else csv_bytes(rows)


@pytest.mark.parametrize("kind", ["xlsx", "csv"])
def test_50001_rows_are_a_413_naming_the_bound(
    client: FlaskClient, officer: dict[str, str], kind: str
) -> None:
    response, elapsed = upload(client, officer, _tall(kind), name=f"roster.{kind}")
    refused(
        response, elapsed, 413, "has more than 50000 rows", limit=SLOW_FILE
    )  # ~2.5 s for XLSX on an idle machine


def test_one_row_numbered_past_the_bound_is_a_413_at_once(
    client: FlaskClient, officer: dict[str, str]
) -> None:
    body = rows_xml([HEADER, row("F1", 401)], numbers=[1, 50_002])
    response, elapsed = upload(client, officer, workbook(sheet(body=body)))
    refused(response, elapsed, 413, "has more than 50000 rows")


def _long_cell(kind: str, length: int) -> bytes:
    rows = [HEADER, row("L1", 401, name="长" * length)]
    if kind == "shared":
        return workbook(sheet([[("shared", 0)]]), strings=shared_strings(["长" * length]))
    return workbook(sheet(rows)) if kind == "xlsx" else csv_bytes(rows)


@pytest.mark.parametrize("length", [1_001, 20_000_000], ids=["1001-chars", "20M-chars"])
@pytest.mark.parametrize("kind", ["xlsx", "shared", "csv"])
def test_a_cell_over_1000_characters_is_a_422_naming_the_bound(
    client: FlaskClient, officer: dict[str, str], kind: str, length: int
) -> None:
    if kind == "csv" and length > 1_001:
        length = 2_000_000  # the upload limit is 8 MiB of CSV text
    response, elapsed = upload(
        client, officer, _long_cell(kind, length), name=f"roster.{'csv' if kind == 'csv' else 'xlsx'}"
    )
    refused(response, elapsed, 422, "1000 characters", limit=FAST)


def test_a_csv_row_of_a_million_commas_is_a_422(client: FlaskClient, officer: dict[str, str]) -> None:
    content = csv_bytes([HEADER]) + b"x" + b",x" * 1_000_000 + b"\r\n"
    response, elapsed = upload(client, officer, content, name="roster.csv")
    refused(response, elapsed, 422, "more than 64 columns")


def test_a_csv_record_spread_over_many_lines_is_bounded(client: FlaskClient, officer: dict[str, str]) -> None:
    """Quoted line breaks keep every physical line short while the record grows: the budget is per record."""
    content = csv_bytes([HEADER]) + b'"' + b"a\r\n" * 200_000 + b'"\r\n'
    response, elapsed = upload(client, officer, content, name="roster.csv")
    refused(response, elapsed, 422, "1000 characters")


def test_a_zip_bomb_is_a_413_at_once(client: FlaskClient, officer: dict[str, str]) -> None:
    content = bomb(1024)  # 1 GiB of sheet from about 1 MB
    assert len(content) < 2 * 1024 * 1024
    response, elapsed = upload(client, officer, content)
    refused(response, elapsed, 413, "compressed more than 100:1")


def test_a_workbook_inflating_past_64_mib_at_a_modest_ratio_is_a_413(
    client: FlaskClient, officer: dict[str, str]
) -> None:
    """Under the ratio bound (text from 256 tokens compresses ~20:1) but over the total: counted while inflating."""
    chooser = random.Random(15)
    tokens = [f"{chooser.getrandbits(128):032x}" for _ in range(256)]
    filler = " ".join(chooser.choices(tokens, k=2_200_000))  # ~72 MiB of text between the rows
    content = workbook(sheet(body=filler))
    assert len(content) < 8 * 1024 * 1024
    response, elapsed = upload(client, officer, content)
    refused(response, elapsed, 413, "inflates to more than 64 MiB", limit=SLOW_FILE)


def test_a_sheet_of_millions_of_empty_elements_is_a_422(client: FlaskClient, officer: dict[str, str]) -> None:
    """Each element costs a parser call however small: 9 million `<x/>` (random names, so the ratio stays low)."""
    names = random.Random(15).choices("abcdefghijklmnopqrstuvwxyz", k=9_000_000)
    content = workbook(sheet(body="".join(f"<{name}/>" for name in names)))
    assert len(content) < 8 * 1024 * 1024
    response, elapsed = upload(client, officer, content)
    refused(response, elapsed, 422, "XML elements that hold no value", limit=SLOW_FILE)


def test_more_than_1000_parts_are_a_422(client: FlaskClient, officer: dict[str, str]) -> None:
    response, elapsed = upload(client, officer, workbook(sheet([HEADER, row("M1", 401)]), extra=1_000))
    refused(response, elapsed, 422, "more than 1000 parts")


# ----------------------------------------------------------------------------------- broken files


def _broken(kind: str) -> bytes:
    good = workbook(sheet([HEADER, row("B1", 401)]))
    if kind == "truncated XML":
        part = sheet([HEADER, row("B1", 401)])
        return workbook(part[: len(part) // 2])
    if kind == "truncated archive":
        return good[: len(good) - 30]
    if kind == "damaged data":
        at = good.index(b"xl/worksheets/sheet1.xml") + 40
        return good[:at] + bytes(b ^ 0x5A for b in good[at : at + 20]) + good[at + 20 :]
    if kind == "missing sheet":
        return workbook(
            sheet([HEADER]),
            replace={
                "xl/_rels/workbook.xml.rels": (
                    b'<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
                    b'<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
                    b'worksheet" Target="worksheets/nowhere.xml"/></Relationships>'
                )
            },
        )
    if kind == "undeclared entity":
        return workbook(sheet(body='<row r="1"><c t="inlineStr"><is><t>&boom;</t></is></c></row>'))
    if kind == "shared string out of range":
        return workbook(sheet([[("shared", 5)]]), strings=shared_strings(["a"]))
    if kind in ("unknown encoding", "multi-byte encoding"):
        declared = "UTF-9" if kind == "unknown encoding" else "Shift_JIS"
        return workbook(
            sheet([HEADER]),
            replace={
                "xl/workbook.xml": (
                    f'<?xml version="1.0" encoding="{declared}"?><workbook xmlns="http://schemas.openxmlformats.org/'
                    'spreadsheetml/2006/main"/>'
                ).encode()
            },
        )
    assert kind == "member twice"
    return by_hand([("xl/worksheets/sheet1.xml", b"\x03\x00", 0, 0)] * 2)


@pytest.mark.parametrize(
    "kind",
    [
        "truncated XML",
        "truncated archive",
        "damaged data",
        "missing sheet",
        "undeclared entity",
        "shared string out of range",
        "member twice",
        "unknown encoding",
        "multi-byte encoding",
    ],
)
def test_a_broken_workbook_is_a_422(client: FlaskClient, officer: dict[str, str], kind: str) -> None:
    response, elapsed = upload(client, officer, _broken(kind))
    refused(response, elapsed, 422, "could not be read as an XLSX workbook")


@settings(max_examples=300, deadline=1000)
@given(
    part=st.sampled_from(
        [
            "[Content_Types].xml",
            "_rels/.rels",
            "xl/workbook.xml",
            "xl/_rels/workbook.xml.rels",
            "xl/worksheets/sheet1.xml",
            "xl/sharedStrings.xml",
        ]
    ),
    edits=st.lists(
        st.tuples(
            st.floats(0, 1),
            st.sampled_from(
                [
                    b"<",
                    b">",
                    b'"',
                    b'r="ZZZZ9"',
                    b"<c>",
                    b"</row>",
                    b' t="s"',
                    b' t="d"',
                    b' t="b"',
                    b' s="1"',
                    b"<v>99</v>",
                    b"<v>1e999</v>",
                    b"&#0;",
                    b"\xff",
                    b'<row r="0">',
                    b"<is><t>q</t></is>",
                    b"",
                    b'encoding="UTF-16"',
                ]
            ),
        ),
        min_size=1,
        max_size=4,
    ),
    archive_byte=st.none() | st.tuples(st.floats(0, 1), st.integers(0, 255)),
)
def test_a_mangled_workbook_is_read_or_refused_never_a_crash(
    part: str, edits: list[tuple[float, bytes]], archive_byte: tuple[float, int] | None
) -> None:
    """Bytes inserted into or cut from any part, or a byte of the archive changed: rows, or a DomainError."""
    good = workbook(sheet([["a", 1, True, ("shared", 0)], [2.5, "x"]]), strings=shared_strings(["s"]))
    with zipfile.ZipFile(io.BytesIO(good)) as archive:
        content = archive.read(part)
    for where, text in edits:
        at = int(where * len(content))
        content = content[:at] + text + content[at + (0 if text else 7) :]
    data = workbook(
        sheet([["a", 1, True, ("shared", 0)], [2.5, "x"]]),
        strings=shared_strings(["s"]),
        replace={part: content},
    )
    if archive_byte is not None:
        at = int(archive_byte[0] * (len(data) - 1))
        data = data[:at] + bytes([archive_byte[1]]) + data[at + 1 :]
    try:
        read_table("x.xlsx", data, 50_000)
    except DomainError as refusal:
        assert refusal.status in (413, 422) and "file" in refusal.errors


@settings(max_examples=200, deadline=1000)
@given(st.binary(max_size=2000) | st.text(alphabet=',"\r\n\x00ab٣３', max_size=2000).map(str.encode))
def test_any_csv_bytes_are_read_or_refused_never_a_crash(content: bytes) -> None:
    try:
        read_table("x.csv", content, 50_000)
    except DomainError as refusal:
        assert refusal.status in (413, 422) and "file" in refusal.errors


# ------------------------------------------------------------------------- ID numbers, row by row


def _arabic_indic(number: str) -> str:
    return "".join(chr(0x0660 + int(c)) if c.isdigit() else c for c in number)


def _full_width(number: str) -> str:
    return "".join(chr(0xFF10 + int(c)) if c.isdigit() else c for c in number)


def _id_rows() -> list[list[Any]]:
    arabic = id_number(19)  # its check character is X: the digits alone once passed validation
    assert arabic.endswith("X")
    return [
        HEADER,
        row("I1", 401),
        row("I2", 19, id_number=_arabic_indic(arabic)),
        row("I3", 403, guardian1_id_number=_full_width(id_number(5403, born=GUARDIAN_BORN))),
        row("I4", 404),
    ]


@pytest.mark.parametrize("kind", ["xlsx", "csv"])
def test_non_ascii_digits_in_id_numbers_reject_only_their_rows(
    client: FlaskClient, officer: dict[str, str], kind: str
) -> None:
    content = workbook(sheet(_id_rows())) if kind == "xlsx" else csv_bytes(_id_rows())
    response, elapsed = upload(client, officer, content, name=f"roster.{kind}", partial=True)
    assert response.status_code == 200, response.json
    assert response.json["created"] == 2
    assert [(r["row"], r["field"]) for r in response.json["rejected"]] == [
        (3, "id_number"),
        (4, "guardian1_id_number"),
    ]
    assert all("半角数字" in r["message"] for r in response.json["rejected"])
    assert stored() == (2, 1) and elapsed < SLOW_FILE


@pytest.mark.parametrize("kind", ["xlsx", "csv"])
def test_non_ascii_digits_in_id_numbers_without_partial_are_a_422_naming_the_rows(
    client: FlaskClient, officer: dict[str, str], kind: str
) -> None:
    content = workbook(sheet(_id_rows())) if kind == "xlsx" else csv_bytes(_id_rows())
    response, elapsed = upload(client, officer, content, name=f"roster.{kind}")
    assert response.status_code == 422 and response.mimetype == "application/problem+json"
    assert set(response.json["errors"]) == {"rows.3.id_number", "rows.4.guardian1_id_number"}
    assert stored() == (0, 0) and elapsed < SLOW_FILE
