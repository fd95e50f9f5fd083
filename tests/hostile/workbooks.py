"""Hostile XLSX workbooks built in the test with zipfile: the parts are written by hand, so each can lie.

`workbook` assembles the minimum package a reader must follow (content types, package and workbook
relationships, one worksheet, optional shared strings); `sheet` writes a worksheet's XML from rows of
Python values (str as inline strings, numbers, booleans), with row and cell references or without.
"""

from __future__ import annotations

import io
import struct
import zipfile
import zlib
from collections.abc import Iterable, Mapping, Sequence
from typing import Any
from xml.sax.saxutils import escape

MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
RELS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
PACKAGE_RELS = "http://schemas.openxmlformats.org/package/2006/relationships"


def letter(index: int) -> str:
    name, index = "", index + 1
    while index:
        index, rest = divmod(index - 1, 26)
        name = chr(ord("A") + rest) + name
    return name


def cell(value: Any, reference: str | None) -> str:
    ref = f' r="{reference}"' if reference else ""
    if value is None:
        return ""
    if isinstance(value, bool):
        return f'<c{ref} t="b"><v>{int(value)}</v></c>'
    if isinstance(value, int | float):
        return f"<c{ref}><v>{value}</v></c>"
    if isinstance(value, tuple) and value[0] == "shared":  # ("shared", index)
        return f'<c{ref} t="s"><v>{value[1]}</v></c>'
    return f'<c{ref} t="inlineStr"><is><t>{escape(str(value))}</t></is></c>'


def rows_xml(
    rows: Iterable[Sequence[Any]],
    *,
    numbers: Iterable[int] | None = None,
    row_refs: bool = True,
    cell_refs: bool = True,
) -> str:
    """`<row>` elements; `numbers` gives each row's r (default 1, 2, ...); `row_refs`/`cell_refs` False leave r out."""
    out = []
    numbered = iter(numbers) if numbers is not None else None
    for index, values in enumerate(rows):
        number = next(numbered) if numbered is not None else index + 1
        cells = "".join(
            cell(value, f"{letter(column)}{number}" if cell_refs else None)
            for column, value in enumerate(values)
        )
        out.append(f'<row r="{number}">{cells}</row>' if row_refs else f"<row>{cells}</row>")
    return "".join(out)


def sheet(
    rows: Iterable[Sequence[Any]] = (),
    *,
    dimension: str | None = None,
    body: str | None = None,
    doctype: str = "",
    **options: Any,
) -> bytes:
    """A worksheet part: `dimension` is written as given (it may lie), `body` replaces the generated rows."""
    dim = f'<dimension ref="{dimension}"/>' if dimension else ""
    data = body if body is not None else rows_xml(rows, **options)
    return (
        f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n{doctype}'
        f'<worksheet xmlns="{MAIN}" xmlns:r="{RELS}">{dim}<sheetData>{data}</sheetData></worksheet>'
    ).encode()


def shared_strings(strings: Sequence[str], doctype: str = "") -> bytes:
    items = "".join(f"<si><t>{escape(s)}</t></si>" for s in strings)
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n{doctype}<sst xmlns="{MAIN}" count="{len(strings)}" '
        f'uniqueCount="{len(strings)}">{items}</sst>'
    ).encode()


def workbook(
    sheet_part: bytes,
    *,
    strings: bytes | None = None,
    replace: Mapping[str, bytes] | None = None,
    extra: int = 0,
) -> bytes:
    """The package around one worksheet; `replace` overrides any part by name; `extra` adds junk parts."""
    overrides = (
        '<Override PartName="/xl/sharedStrings.xml" ContentType="application/vnd.openxmlformats-'
        'officedocument.spreadsheetml.sharedStrings+xml"/>'
        if strings is not None
        else ""
    )
    strings_rel = (
        f'<Relationship Id="rId2" Type="{RELS}/sharedStrings" Target="sharedStrings.xml"/>'
        if strings is not None
        else ""
    )
    parts: dict[str, bytes] = {
        "[Content_Types].xml": (
            '<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/'
            'content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.'
            'relationships+xml"/><Default Extension="xml" ContentType="application/xml"/>'
            '<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.'
            'spreadsheetml.sheet.main+xml"/><Override PartName="/xl/worksheets/sheet1.xml" ContentType='
            f'"application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>{overrides}</Types>'
        ).encode(),
        "_rels/.rels": (
            f'<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="{PACKAGE_RELS}"><Relationship Id="rId1" '
            f'Type="{RELS}/officeDocument" Target="xl/workbook.xml"/></Relationships>'
        ).encode(),
        "xl/workbook.xml": (
            f'<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="{MAIN}" xmlns:r="{RELS}"><sheets>'
            '<sheet name="Sheet1" sheetId="1" r:id="rId1"/></sheets></workbook>'
        ).encode(),
        "xl/_rels/workbook.xml.rels": (
            f'<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="{PACKAGE_RELS}"><Relationship Id="rId1" '
            f'Type="{RELS}/worksheet" Target="worksheets/sheet1.xml"/>{strings_rel}</Relationships>'
        ).encode(),
        "xl/worksheets/sheet1.xml": sheet_part,
    }
    if strings is not None:
        parts["xl/sharedStrings.xml"] = strings
    parts.update(replace or {})
    parts.update({f"xl/junk/{i}.xml": b"<junk/>" for i in range(extra)})
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in parts.items():
            archive.writestr(name, content)
    return buffer.getvalue()


def bomb(inflated_mib: int) -> bytes:
    """A workbook whose worksheet inflates to `inflated_mib` MiB (blank space inside <sheetData>) from ~1/1000 of it.

    Each block of the deflate stream is flushed with Z_FULL_FLUSH (no reference to what came before), so
    one compressed MiB of blanks repeated is a valid stream; the test never holds the inflated sheet.
    """
    head, tail = sheet(body="REPLACE").split(b"REPLACE")
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    blank = b" " * (1024 * 1024)
    first = compressor.compress(head) + compressor.flush(zlib.Z_FULL_FLUSH)
    block = compressor.compress(blank) + compressor.flush(zlib.Z_FULL_FLUSH)
    pieces = [first, block * inflated_mib, compressor.compress(tail) + compressor.flush()]
    crc = zlib.crc32(head)
    for _ in range(inflated_mib):
        crc = zlib.crc32(blank, crc)
    crc = zlib.crc32(tail, crc)
    size = len(head) + len(tail) + inflated_mib * len(blank)
    source = zipfile.ZipFile(io.BytesIO(workbook(sheet([["student_id"]]))))
    members = [(i.filename, *_deflated(source.read(i))) for i in source.infolist()]
    members = [m for m in members if m[0] != "xl/worksheets/sheet1.xml"]
    return by_hand([*members, ("xl/worksheets/sheet1.xml", b"".join(pieces), crc, size)])


def _deflated(content: bytes) -> tuple[bytes, int, int]:
    compressor = zlib.compressobj(6, zlib.DEFLATED, -15)
    return compressor.compress(content) + compressor.flush(), zlib.crc32(content), len(content)


def by_hand(members: Sequence[tuple[str, bytes, int, int]]) -> bytes:
    """An archive of deflated members (name, raw deflate bytes, CRC-32, size claimed), headers written here."""
    out = io.BytesIO()
    central = []
    for name, data, crc, size in members:
        encoded = name.encode()
        offset = out.tell()
        out.write(
            struct.pack(
                "<4s5H3L2H", b"PK\x03\x04", 20, 0, 8, 0, 0x21, crc, len(data), size % 2**32, len(encoded), 0
            )
        )
        out.write(encoded + data)
        central.append(
            struct.pack(
                "<4s6H3L5H2L",
                b"PK\x01\x02",
                20,
                20,
                0,
                8,
                0,
                0x21,
                crc,
                len(data),
                size % 2**32,
                len(encoded),
                0,
                0,
                0,
                0,
                0,
                offset,
            )
            + encoded
        )
    start = out.tell()
    out.write(b"".join(central))
    out.write(
        struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, len(central), len(central), out.tell() - start, start, 0)
    )
    return out.getvalue()
