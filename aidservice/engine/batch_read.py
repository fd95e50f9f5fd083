"""Batch input: the file formats by extension, reading a file, and the column check.

Input by extension: `.jsonl`/`.ndjson`, `.csv`, `.parquet`; one student per row, `student_id` and
facts by their catalogue names. Values may be typed (Parquet, JSON) or text as in CSV ("true",
"1250.00", "" = unknown) — the same forms `facts.normalise(text=True)` accepts (`batch_validate`
parses them). A JSON file that cannot be read is scanned for its first bad line, so the error names
the row.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import polars as pl

    from .ruleset import RuleSet

# polars is imported inside the functions: importing this module stays cheap (see `batch`).

FORMATS = {".jsonl": "jsonl", ".ndjson": "jsonl", ".csv": "csv", ".parquet": "parquet"}
MONEY_INT_DIGITS = 10  # Decimal(12, 2)
ID = "student_id"


class BatchInputError(Exception):
    """The input cannot be evaluated: names the row (1-based data row), the field and the reason."""

    def __init__(self, message: str, *, row: int | None = None, field: str | None = None) -> None:
        super().__init__(message)
        self.row = row
        self.field = field


def file_format(path: Path, role: str) -> str:
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise BatchInputError(
            f"{role} file {path.name}: unsupported extension (use .jsonl, .csv or .parquet)"
        )
    return fmt


def read_input(path: Path, fmt: str) -> pl.DataFrame:
    import polars as pl

    try:
        if fmt == "parquet":
            return pl.read_parquet(path)
        if fmt == "csv":
            return pl.read_csv(
                path, infer_schema=False
            )  # every column as text, like facts.normalise(text=True)
        if not path.read_bytes().strip():  # no rows at all
            return pl.DataFrame(schema={ID: pl.String, "stage": pl.String, "grade": pl.String})
        names = pl.scan_ndjson(path, infer_schema_length=None).collect_schema().names()
        return pl.read_ndjson(path, schema=dict.fromkeys(names, pl.String))  # JSON values as their text
    except (pl.exceptions.PolarsError, OSError, ValueError) as exc:
        if fmt == "jsonl":
            _find_bad_json_line(path)
        raise BatchInputError(
            f"{path.name}: cannot read {fmt.upper()}: {str(exc).splitlines()[0] if str(exc) else exc!r}"
        ) from None


def _find_bad_json_line(path: Path) -> None:
    with path.open(encoding="utf-8", errors="replace") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                value = json.loads(line)
            except json.JSONDecodeError as exc:
                raise BatchInputError(f"row {number}: not valid JSON ({exc.msg})", row=number) from None
            if not isinstance(value, dict):
                raise BatchInputError(f"row {number}: a row is a JSON object", row=number)


def check_columns(columns: list[str], ruleset: RuleSet) -> None:
    facts = ruleset.rules.facts
    unknown = [c for c in columns if c != ID and c not in facts]
    if unknown:
        shown = ", ".join(f"'{c}'" for c in unknown)
        raise BatchInputError(
            f"unknown column {shown}: columns are student_id and the facts of the rule set", field=unknown[0]
        )
    if ID not in columns:
        raise BatchInputError("missing column 'student_id'", field=ID)
    for name, spec in facts.items():
        if spec.required and name not in columns:
            raise BatchInputError(f"missing column '{name}' (a required fact)", field=name)
