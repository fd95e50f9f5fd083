"""The bounds an uploaded spreadsheet is read within, and the refusals that name them.

A bound on size (rows, bytes inflated, compression ratio, shared strings) is a 413; a bound on shape
(columns, cell length, parts of the archive) or a file that cannot be read is a 422. Both carry
`errors: {"file": [...]}` naming the bound, and neither message quotes the file's content.
"""

from __future__ import annotations

from dataclasses import dataclass

from aidservice.services.errors import PayloadTooLarge, ValidationFailed

MIB = 1024 * 1024


@dataclass(frozen=True, slots=True)
class SheetLimits:
    """What one import file may hold; checked while reading, never taken from what the file says about itself."""

    max_rows: int = 50_000  # data rows under the header (AID_IMPORT_MAX_ROWS)
    max_csv_bytes: int = 32 * MIB  # a CSV file's bytes, checked before it is decoded
    max_columns: int = 64  # columns holding a value
    max_cell_chars: int = 1_000  # characters in one cell (also one shared string)
    max_inflated_bytes: int = 64 * MIB  # all parts of a workbook read, counted while inflating
    max_ratio: int = 100  # bytes inflated per compressed byte of one part ...
    ratio_after: int = 4 * MIB  # ... checked once the part has inflated past this
    max_members: int = 1_000  # parts in the archive (and relationships of the workbook)
    max_shared_strings: int = 1_000_000
    max_styles: int = 65_536  # cell formats (Excel allows 64,000)
    max_idle_elements: int = 2_000_000  # XML elements holding no value, per part (each costs parse time)


def unreadable(message: str) -> ValidationFailed:
    """422: the file cannot be read as it claims to be, or its shape is over a bound."""
    return ValidationFailed({"file": [message]}, f"The file {message}; nothing was read.")


def too_large(message: str, advice: str = "split it into smaller files") -> PayloadTooLarge:
    """413: the file is over a size bound."""
    return PayloadTooLarge(f"The file {message}; {advice}.", {"file": [message]})


def too_many_rows(max_rows: int) -> PayloadTooLarge:
    return too_large(f"has more than {max_rows} rows")
