"""The parts of a ZIP archive (an XLSX workbook), inflated with every byte counted as it comes.

zipfile is not used: it builds an object for every entry the central directory claims before anyone
can count them, and it bounds nothing it inflates. Here the central directory is walked entry by entry
(stopping past `max_members`), a part's compressed bytes are located through its local header, and
zlib inflates them in 64 KiB steps. The bytes produced are counted per part and for the whole file,
against `max_inflated_bytes`; once a part is past `ratio_after`, the bytes produced per compressed byte
actually consumed are checked against `max_ratio`. The sizes the archive declares locate the data and
are never used as bounds; the CRC-32 of what was inflated must match the directory's.

Only what an XLSX writer produces is read: stored or deflated parts, no encryption, no multi-disk or
ZIP64 archive (an upload is at most a few MiB).
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass

from aidservice.services.sheets.sheet_limits import SheetLimits, too_large, unreadable

END = b"PK\x05\x06"
CENTRAL = b"PK\x01\x02"
LOCAL = b"PK\x03\x04"
END_FORMAT = struct.Struct("<4s4H2LH")  # 22 bytes
CENTRAL_FORMAT = struct.Struct("<4s6H3L5H2L")  # 46 bytes
LOCAL_SIZE = 30
STEP_IN = 64 * 1024
STEP_OUT = 64 * 1024
STORED, DEFLATED = 0, 8
CORRUPT = "could not be read as an XLSX workbook (the ZIP archive is damaged)"


@dataclass(frozen=True, slots=True)
class Member:
    """One part as the central directory lists it."""

    name: str
    flags: int
    method: int
    crc: int
    compressed_size: int
    header_offset: int


class Archive:
    """The parts of one uploaded archive; `inflated` counts every byte produced so far, over all parts."""

    def __init__(self, data: bytes, limits: SheetLimits) -> None:
        self.data = data
        self.limits = limits
        self.inflated = 0
        self.members = _directory(data, limits.max_members)

    def has(self, name: str) -> bool:
        return name in self.members

    def chunks(self, name: str) -> Iterator[bytes]:
        """The part's bytes in steps of at most 64 KiB, every bound checked before a step is handed on."""
        member = self.members.get(name)
        if member is None:
            raise unreadable(f"could not be read as an XLSX workbook (the part {name[:64]} is missing)")
        if member.flags & 0x1:
            raise unreadable("is an encrypted workbook; save it without a password")
        if member.method not in (STORED, DEFLATED):
            raise unreadable("could not be read as an XLSX workbook (unsupported compression)")
        raw = memoryview(self.data)[_data_span(self.data, member)]
        crc = 0
        for piece in _stored(raw) if member.method == STORED else self._inflate(raw):
            crc = zlib.crc32(piece, crc)
            yield piece
        if crc != member.crc:
            raise unreadable(CORRUPT)

    def _inflate(self, raw: memoryview) -> Iterator[bytes]:
        inflater = zlib.decompressobj(-15)
        produced = 0
        try:
            for offset in range(0, len(raw), STEP_IN):
                pending = bytes(raw[offset : offset + STEP_IN])
                fed = offset + len(pending)
                while True:
                    out = inflater.decompress(pending, STEP_OUT)
                    pending = inflater.unconsumed_tail
                    if out:
                        produced += len(out)
                        self._count(len(out), produced, fed - len(pending))
                        yield out
                    if inflater.eof or (not pending and len(out) < STEP_OUT):
                        break
                if inflater.eof:
                    break
        except zlib.error:
            raise unreadable(CORRUPT) from None
        if not inflater.eof:
            raise unreadable(CORRUPT)

    def _count(self, step: int, produced: int, consumed: int) -> None:
        limits = self.limits
        self.inflated += step
        if self.inflated > limits.max_inflated_bytes:
            raise too_large(f"inflates to more than {limits.max_inflated_bytes // (1024 * 1024)} MiB")
        if produced > limits.ratio_after and produced > limits.max_ratio * max(consumed, 1):
            raise too_large(
                f"has a part compressed more than {limits.max_ratio}:1",
                "no spreadsheet program writes that; save the sheet again as .xlsx or CSV UTF-8",
            )


def _stored(raw: memoryview) -> Iterator[bytes]:
    for offset in range(0, len(raw), STEP_OUT):
        yield bytes(raw[offset : offset + STEP_OUT])


def _directory(data: bytes, max_members: int) -> dict[str, Member]:
    """The central directory's entries by name; at most `max_members`, each name once."""
    end = data.rfind(END, max(0, len(data) - END_FORMAT.size - 0xFFFF))
    if end < 0 or len(data) - end < END_FORMAT.size:
        raise unreadable(CORRUPT)
    _sig, disk, directory_disk, _here, _total, _size, position, _comment = END_FORMAT.unpack_from(data, end)
    if disk or directory_disk or position == 0xFFFFFFFF:
        raise unreadable("could not be read as an XLSX workbook (multi-part or ZIP64 archive)")
    members: dict[str, Member] = {}
    while data[position : position + 4] == CENTRAL:
        if position + CENTRAL_FORMAT.size > len(data):
            raise unreadable(CORRUPT)
        fields = CENTRAL_FORMAT.unpack_from(data, position)
        flags, method, crc, compressed, name_length, extra_length, comment_length, offset = (
            fields[3],
            fields[4],
            fields[7],
            fields[8],
            fields[10],
            fields[11],
            fields[12],
            fields[16],
        )
        start = position + CENTRAL_FORMAT.size
        name = data[start : start + name_length].decode("utf-8" if flags & 0x800 else "cp437", "replace")
        if len(members) >= max_members:
            raise unreadable(f"has more than {max_members} parts in its ZIP archive")
        if name in members:
            raise unreadable("could not be read as an XLSX workbook (a part appears twice)")
        members[name] = Member(name, flags, method, crc, compressed, offset)
        position = start + name_length + extra_length + comment_length
    if not members:
        raise unreadable(CORRUPT)
    return members


def _data_span(data: bytes, member: Member) -> slice:
    """Where the part's compressed bytes lie: after its local header, as long as the directory says."""
    at = member.header_offset
    if data[at : at + 4] != LOCAL or at + LOCAL_SIZE > len(data):
        raise unreadable(CORRUPT)
    name_length, extra_length = struct.unpack_from("<2H", data, at + 26)
    start = at + LOCAL_SIZE + name_length + extra_length
    end = start + member.compressed_size
    if end > len(data):
        raise unreadable(CORRUPT)
    return slice(start, end)
