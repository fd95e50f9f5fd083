"""Batch evaluation of a file of students: read, validate (vectorised), evaluate (columnar), write atomically.

Input by extension: `.jsonl`/`.ndjson`, `.csv`, `.parquet`; one student per row, `student_id` and
facts by their catalogue names. Values may be typed (Parquet, JSON) or text as in CSV ("true",
"1250.00", "" = unknown) — the same forms `facts.normalise(text=True)` accepts; money has at most
two decimals and at most ten digits before the point (Decimal(12, 2)).

Output by extension: JSONL `{student_id, level, awards: [{program, amount}], total}` with money
as strings ("1250.00", `null` when unknown); CSV with `awards` as a JSON string column;
Parquet with `awards` a list of struct {program: Utf8, amount: Decimal(12, 2)} and `total`
Decimal(12, 2). The output is written to a temporary file in the same directory and renamed at
the end, so it appears complete or not at all.

No Flask here (the CLI command in `cli.py` is a thin wrapper); polars is imported inside the
functions so that importing this module stays cheap.
"""

from __future__ import annotations

import os
import secrets
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from fractions import Fraction
from math import ceil, floor
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:
    import polars as pl

    from aidservice.engine import RuleSet
    from aidservice.engine.model import FactSpec

FORMATS = {".jsonl": "jsonl", ".ndjson": "jsonl", ".csv": "csv", ".parquet": "parquet"}
CHUNK_ROWS = 200_000
MONEY_INT_DIGITS = 10  # Decimal(12, 2)
ID = "student_id"
_TRUE = ["true", "1", "yes", "y", "t", "是"]
_FALSE = ["false", "0", "no", "n", "f", "否", ""]
_ROW = "__row"


class BatchInputError(Exception):
    """The input cannot be evaluated: names the row (1-based data row), the field and the reason."""

    def __init__(self, message: str, *, row: int | None = None, field: str | None = None) -> None:
        super().__init__(message)
        self.row = row
        self.field = field


@dataclass(frozen=True, slots=True)
class BatchSummary:
    rows: int  # data rows read
    written: int  # students written to the output
    invalid: int  # rows skipped as invalid (only with skip_invalid)


def evaluate_file(
    ruleset: RuleSet,
    input_path: str | Path,
    output_path: str | Path,
    *,
    as_of: date,
    skip_invalid: bool = False,
    errors_path: str | Path | None = None,
    progress: bool = True,
    chunk_rows: int = CHUNK_ROWS,
) -> BatchSummary:
    """Evaluate every student of `input_path` on `as_of` into `output_path`.

    Stops at the first invalid row with BatchInputError and writes nothing, unless `skip_invalid`:
    then valid rows are written and each problem goes to `errors_path` (default
    `<output>.errors.jsonl`) as `{row, student_id, field, message}`.
    """
    from tqdm import tqdm

    from aidservice.engine.columnar import compile_frame

    input_path, output_path = Path(input_path), Path(output_path)
    in_format, out_format = _format(input_path, "input"), _format(output_path, "output")
    raw = _read(input_path, in_format)
    _check_columns(raw.columns, ruleset)
    run = compile_frame(ruleset.rules, as_of)
    program_ids = [p.id for p in ruleset.rules.programs]
    rows = raw.height
    written = invalid = 0
    errors_target = (
        Path(errors_path)
        if errors_path is not None
        else output_path.with_name(output_path.name + ".errors.jsonl")
    )
    with _atomic(output_path) as out, _atomic(errors_target) if skip_invalid else _nothing() as err:
        writer = _writer(out_format, out)
        bar = tqdm(
            total=rows,
            unit="rows",
            unit_scale=True,
            file=sys.stderr,
            disable=not progress,
            delay=0.5,
            desc=f"evaluate {input_path.name}",
        )
        try:
            for start in range(0, max(rows, 1), chunk_rows):
                chunk = raw.slice(start, chunk_rows)
                facts, problems = validate(ruleset, chunk, first_row=start + 1)
                if problems.height:
                    if not skip_invalid:
                        raise _first_error(problems)
                    _write_errors(err, problems)
                    bad = problems.get_column("row").unique()
                    facts = facts.filter(~facts.get_column(_ROW).is_in(bad.implode(), nulls_equal=False))
                    invalid += bad.len()
                result = run(facts.drop(_ROW))
                writer.write(_shape_output(result, program_ids, out_format))
                written += result.height
                bar.update(chunk.height)
            writer.close()
        finally:
            bar.close()
    return BatchSummary(rows=rows, written=written, invalid=invalid)


# ---------------------------------------------------------------------------------------- reading


def _format(path: Path, role: str) -> str:
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise BatchInputError(
            f"{role} file {path.name}: unsupported extension (use .jsonl, .csv or .parquet)"
        )
    return fmt


def _read(path: Path, fmt: str) -> pl.DataFrame:
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
    import json

    with path.open(encoding="utf-8", errors="replace") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                value = json.loads(line)
            except ValueError as exc:
                raise BatchInputError(f"row {number}: not valid JSON ({exc.msg})", row=number) from None
            if not isinstance(value, dict):
                raise BatchInputError(f"row {number}: a row is a JSON object", row=number)


def _check_columns(columns: list[str], ruleset: RuleSet) -> None:
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


# ------------------------------------------------------------------------------------- validation


def validate(ruleset: RuleSet, raw: pl.DataFrame, *, first_row: int = 1) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(facts, problems): the internal typed facts (+ student_id, __row) and one problem per bad field.

    Vectorised: each fact is parsed by polars expressions giving its value and an error message.
    Problems: `row` (1-based data row), `student_id`, `field`, `message`, in row then catalogue order.
    """
    facts, problems = _validate(ruleset, raw, first_row, frozenset())
    retry = frozenset(
        f
        for f in problems.get_column("field").unique()
        if f in ruleset.rules.facts and ruleset.rules.facts[f].type == "enum"
    )
    if retry:  # rare: enum values with spaces around them, or bad values to quote in the message
        facts, problems = _validate(ruleset, raw, first_row, retry)
    return facts, problems


def _validate(
    ruleset: RuleSet, raw: pl.DataFrame, first_row: int, thorough: frozenset[str]
) -> tuple[pl.DataFrame, pl.DataFrame]:
    import polars as pl

    facts = ruleset.rules.facts
    values: list[pl.Expr] = []
    errors: list[pl.Expr] = []
    ident = pl.col(ID) if raw.schema[ID] == pl.String else pl.col(ID).cast(pl.String)
    values.append(ident.alias(ID))
    errors.append(
        pl.when(ident.is_null() | (ident.str.strip_chars() == "")).then(pl.lit("is required")).alias(ID)
    )
    for name, spec in facts.items():
        if name not in raw.columns:
            continue
        value, error = _parse(spec, pl.col(name), raw.schema[name], name in thorough)
        if spec.required:
            error = pl.when(value.is_null() & error.is_null()).then(pl.lit("is required")).otherwise(error)
        values.append(value.alias(name))
        errors.append(error.alias(name))
    row = (pl.int_range(pl.len(), dtype=pl.Int64) + first_row).alias(_ROW)
    evaluated = raw.lazy().select([row, *values, *(e.name.prefix("__err_") for e in errors)]).collect()
    err_cols = [c for c in evaluated.columns if c.startswith("__err_")]
    any_error = pl.any_horizontal([pl.col(c).is_not_null() for c in err_cols])
    bad = evaluated.filter(any_error)
    if bad.height:
        problems = (
            bad.select([_ROW, ID, *err_cols])
            .rename({ID: "_sid"})
            .unpivot(index=[_ROW, "_sid"], on=err_cols, variable_name="field", value_name="message")
            .drop_nulls("message")
            .with_columns(pl.col("field").str.strip_prefix("__err_"))
            .with_columns(
                pl.col("field")
                .replace_strict({c: i for i, c in enumerate([ID, *facts])}, return_dtype=pl.Int32)
                .alias("_order")
            )
            .sort([_ROW, "_order"])
            .select(pl.col(_ROW).alias("row"), pl.col("_sid").alias(ID), "field", "message")
        )
    else:
        problems = pl.DataFrame(
            schema={"row": pl.Int64, ID: pl.String, "field": pl.String, "message": pl.String}
        )
    return evaluated.drop(err_cols), problems


def _first_error(problems: pl.DataFrame) -> BatchInputError:
    first = problems.row(0, named=True)
    who = f" (student_id {first[ID]})" if first[ID] else ""
    return BatchInputError(
        f"row {first['row']}{who}: {first['field']}: {first['message']}",
        row=first["row"],
        field=first["field"],
    )


def _parse(
    spec: FactSpec, col: pl.Expr, dtype: pl.DataType, thorough: bool = False
) -> tuple[pl.Expr, pl.Expr]:
    if spec.type == "bool":
        return _parse_bool(col, dtype)
    if spec.type == "enum":
        return _parse_enum(spec, col, dtype, thorough)
    if spec.type == "int":
        value, error = _parse_int(col, dtype)
    else:
        value, error = _parse_number(spec, col, dtype)
    return _bounds(spec, value, error)


def _text(col: pl.Expr, dtype: pl.DataType) -> pl.Expr:
    """Text of a value: stripped; an empty string is unknown."""
    import polars as pl

    text = (col if dtype == pl.String else col.cast(pl.String)).str.strip_chars()
    return pl.when(text != "").then(text)


def _fail(message: str) -> pl.Expr:
    import polars as pl

    return pl.lit(message, dtype=pl.String)


def _none(dtype: Any) -> pl.Expr:
    import polars as pl

    return pl.lit(None, dtype=dtype)


def _parse_bool(col: pl.Expr, dtype: pl.DataType) -> tuple[pl.Expr, pl.Expr]:
    import polars as pl

    if dtype == pl.Boolean:
        return col.fill_null(False), _none(pl.String)
    if dtype == pl.Null:
        return pl.lit(False), _none(pl.String)
    text = (col if dtype == pl.String else col.cast(pl.String)).str.strip_chars().str.to_lowercase()
    value = pl.when(text.is_in(_TRUE)).then(True).when(text.is_in(_FALSE) | text.is_null()).then(False)
    return value.fill_null(False), pl.when(value.is_null()).then(_fail("must be true or false"))


def _parse_enum(spec: FactSpec, col: pl.Expr, dtype: pl.DataType, thorough: bool) -> tuple[pl.Expr, pl.Expr]:
    """Fast path: a direct cast to the enum; the thorough one (spaces stripped, the bad value quoted)
    runs only on a column where the fast one found a problem."""
    import polars as pl

    enum = pl.Enum(list(spec.values))
    shown = ", ".join(spec.values) if len(spec.values) <= 13 else f"{spec.values[0]} … {spec.values[-1]}"
    if dtype == pl.Boolean:
        return _none(enum), pl.when(col.is_not_null()).then(_fail(f"must be one of {shown}"))
    if not thorough and dtype in (pl.String, enum):
        value = col.cast(enum, strict=False)
        return value, pl.when(value.is_null() & col.is_not_null()).then(_fail(f"is not one of {shown}"))
    text = _text(col, dtype)
    value = text.cast(enum, strict=False)
    return value, pl.when(text.is_not_null() & value.is_null()).then(
        pl.format("'{}' is not one of " + shown, text)
    )


def _parse_int(col: pl.Expr, dtype: pl.DataType) -> tuple[pl.Expr, pl.Expr]:
    import polars as pl

    bad = _fail("must be an integer")
    if dtype.is_integer():
        value = col.cast(pl.Int64, strict=False)
        return value, pl.when(col.is_not_null() & value.is_null()).then(bad)
    if dtype == pl.Null:
        return _none(pl.Int64), _none(pl.String)
    if dtype == pl.Boolean:
        return _none(pl.Int64), pl.when(col.is_not_null()).then(bad)
    if dtype.is_float():
        whole = col.is_finite() & (col == col.round(0)) & (col.abs() < 2**53)
        value = pl.when(whole).then(col.cast(pl.Int64, strict=False))
        return value, pl.when(col.is_not_null() & value.is_null()).then(bad)
    if dtype.is_decimal():
        scale = 10 ** (dtype.scale or 0)  # type: ignore[attr-defined]
        raw = col.cast(pl.Decimal(38, dtype.scale)).to_physical()  # type: ignore[attr-defined]
        value = pl.when(raw % scale == 0).then((raw // scale).cast(pl.Int64, strict=False))
        return value, pl.when(col.is_not_null() & value.is_null()).then(bad)
    text = _text(col, dtype)
    matched = text.str.contains(r"^[+-]?\d{1,18}$")
    value = pl.when(matched).then(text.cast(pl.Int64, strict=False))
    return value, pl.when(text.is_not_null() & value.is_null()).then(bad)


def _parse_number(spec: FactSpec, col: pl.Expr, dtype: pl.DataType) -> tuple[pl.Expr, pl.Expr]:
    """Exact scaled integer (money in fen) from text, integers, decimals or floats (via their text)."""
    import polars as pl

    d = spec.decimals
    scale = 10**d
    too_many = _fail(
        "has more than two decimal places (fen)"
        if spec.type == "money"
        else f"has more than {d} decimal places"
    )
    limit = 10 ** (MONEY_INT_DIGITS + d) if spec.type == "money" else 10**15
    big = _fail(f"must be less than {10**MONEY_INT_DIGITS}" if spec.type == "money" else "is too large")
    nan = _fail("must be a number")
    if dtype == pl.Null:
        return _none(pl.Int64), _none(pl.String)
    if dtype == pl.Boolean:
        return _none(pl.Int64), pl.when(col.is_not_null()).then(nan)
    if dtype.is_integer():
        wide = col.cast(pl.Int128, strict=False)
        fits = wide.abs() < 10**MONEY_INT_DIGITS if spec.type == "money" else wide.abs() < 10**15 // scale
        value = pl.when(fits).then((wide * scale).cast(pl.Int64))
        return value, pl.when(col.is_not_null() & ~fits).then(big)
    if dtype.is_decimal():
        s = dtype.scale or 0  # type: ignore[attr-defined]
        raw = col.cast(pl.Decimal(38, s)).to_physical()
        if s <= d:
            scaled = raw * 10 ** (d - s)
            error = pl.when(col.is_not_null() & (scaled.abs() >= limit)).then(big)
        else:
            unit = 10 ** (s - d)
            scaled = pl.when(raw % unit == 0).then(raw // unit)
            error = (
                pl.when(col.is_not_null() & (raw % unit != 0))
                .then(too_many)
                .when(col.is_not_null() & (scaled.abs() >= limit))
                .then(big)
            )
        value = pl.when(error.is_null()).then(scaled.cast(pl.Int64, strict=False))
        return value, error
    if dtype.is_float():
        col = (
            pl.when(col.is_finite())
            .then(col.cast(pl.String))
            .otherwise(pl.when(col.is_not_null()).then(pl.lit("nan")))
        )
    text = _text(col, dtype if not dtype.is_float() else pl.String)
    parts = text.str.extract_groups(r"^([+-]?)(\d*)(?:\.(\d*))?$")
    sign, whole, frac = (
        parts.struct.field("1"),
        parts.struct.field("2"),
        parts.struct.field("3").fill_null(""),
    )
    numeric = parts.struct.field("2").is_not_null() & ((whole.str.len_chars() + frac.str.len_chars()) > 0)
    whole = whole.str.strip_chars_start("0")
    kept = frac.str.slice(0, d).str.pad_end(d, "0") if d else pl.lit("")
    rest_zero = frac.str.slice(d).str.contains(r"^0*$")
    digits_ok = whole.str.len_chars() <= (MONEY_INT_DIGITS if spec.type == "money" else 15 - d)
    magnitude = (
        (pl.concat_str([pl.lit("0"), whole, kept]).cast(pl.Int64, strict=False))
        if d
        else (pl.concat_str([pl.lit("0"), whole]).cast(pl.Int64, strict=False))
    )
    value = pl.when(numeric & rest_zero & digits_ok).then(
        pl.when(sign == "-").then(-magnitude).otherwise(magnitude)
    )
    error = (
        pl.when(text.is_null())
        .then(_none(pl.String))
        .when(~numeric.fill_null(False))
        .then(nan)
        .when(~rest_zero)
        .then(too_many)
        .when(~digits_ok)
        .then(big)
    )
    return value, error


def _bounds(spec: FactSpec, value: pl.Expr, error: pl.Expr) -> tuple[pl.Expr, pl.Expr]:
    """min/max are inclusive and exact (compared on the scaled integer)."""
    from aidservice.engine.facts import _show

    checks = []
    if spec.min is not None:
        checks.append((value < ceil(Fraction(spec.min) * spec.scale), f"must be at least {_show(spec.min)}"))
    if spec.max is not None:
        checks.append((value > floor(Fraction(spec.max) * spec.scale), f"must be at most {_show(spec.max)}"))
    if not checks:
        return value, error
    import polars as pl

    chain: Any = pl.when(error.is_not_null()).then(error)
    for test, message in checks:
        chain = chain.when(test).then(_fail(message))
    out_of_range = pl.any_horizontal([t for t, _ in checks]).fill_null(False)
    return pl.when(~out_of_range).then(value), chain


# ---------------------------------------------------------------------------------------- output


def _money(fen: pl.Series, fmt: str) -> Any:
    """Integer fen → an Arrow array of Decimal(12, 2) yuan (Parquet) or "1250.00" strings (JSONL, CSV).

    Exact and cheap: the fen integers are the decimal's unscaled value, so the Decimal(38, 0) buffer
    is reinterpreted with scale 2 instead of dividing.
    """
    import polars as pl
    import pyarrow as pa

    too_big = (fen.abs() >= 10 ** (MONEY_INT_DIGITS + 2)).fill_null(False)
    if too_big.any():
        raise BatchInputError(
            f"an amount or total of {fen.filter(too_big)[0] / 100:.2f} does not fit Decimal(12, 2)"
        )
    raw = fen.cast(pl.Decimal(38, 0)).to_arrow()
    if isinstance(raw, pa.ChunkedArray):
        raw = raw.combine_chunks()
    money = pa.Array.from_buffers(
        pa.decimal128(12, 2), len(raw), raw.buffers(), null_count=raw.null_count, offset=raw.offset
    )
    if fmt == "parquet":
        return money
    return pl.Series(money).cast(pl.String).to_arrow()


def _shape_output(result: pl.DataFrame, program_ids: list[str], fmt: str) -> Any:
    """The output rows as an Arrow table: student_id, level, awards, total (money per `fmt`).

    `awards` is built as an Arrow list array from offsets (awards per row) and the awarded
    (row, program) pairs in row-then-program order: far faster than a per-row list expression.
    """
    import polars as pl
    import pyarrow as pa

    n = result.height
    long = (
        pl.concat(
            [
                result.lazy()
                .with_row_index("_r")
                .filter(pl.col(f"has_{pid}"))
                .select("_r", pl.lit(i, dtype=pl.UInt32).alias("_p"), pl.col(f"fen_{pid}").alias("_fen"))
                for i, pid in enumerate(program_ids)
            ]
            or [pl.LazyFrame(schema={"_r": pl.UInt32, "_p": pl.UInt32, "_fen": pl.Int64})]
        )
        .sort("_r", maintain_order=True)
        .select("_p", "_fen")
        .collect()
    )
    counts = result.select(
        pl.sum_horizontal([pl.col(f"has_{pid}").cast(pl.Int32) for pid in program_ids])
        if program_ids
        else pl.repeat(0, n, dtype=pl.Int32)
    ).to_series()
    offsets = pa.array(
        pl.concat([pl.Series([0], dtype=pl.Int64), counts.cast(pl.Int64).cum_sum()]).cast(pl.Int32).to_arrow()
    )
    programs = pa.array(program_ids, pa.string()).take(long.get_column("_p").to_arrow())
    amounts = _money(long.get_column("_fen"), fmt)
    if fmt == "csv":
        entries = pl.Series(
            pa.array(
                pl.DataFrame({"program": pl.Series(programs), "amount": pl.Series(amounts)})
                .select(
                    pl.concat_str(
                        pl.lit('{"program":"'),
                        pl.col("program"),
                        pl.lit('","amount":'),
                        pl.when(pl.col("amount").is_null())
                        .then(pl.lit("null"))
                        .otherwise(pl.concat_str(pl.lit('"'), pl.col("amount"), pl.lit('"'))),
                        pl.lit("}"),
                    )
                )
                .to_series()
                .to_arrow()
            )
        )
        awards_list = pa.ListArray.from_arrays(offsets, entries.to_arrow())
        awards = pl.Series("awards", awards_list).list.join(",")
        awards = pl.select(pl.concat_str(pl.lit("["), pl.lit(awards), pl.lit("]"))).to_series().to_arrow()
    else:
        values = pa.StructArray.from_arrays([programs, amounts], names=["program", "amount"])
        awards = pa.ListArray.from_arrays(offsets, values)
    head = result.select(ID, "level").to_arrow()
    total = _money(result.get_column("total_fen"), fmt)
    return pa.table({ID: head.column(ID), "level": head.column("level"), "awards": awards, "total": total})


class _Writer:
    def __init__(self, fmt: str, path: Path) -> None:
        self.fmt = fmt
        self.path = path
        self.handle: IO[bytes] | None = None
        self.parts: list[pl.DataFrame] = []
        self.header = True

    def write(self, table: Any) -> None:
        import polars as pl

        frame = pl.from_arrow(table)
        if self.fmt == "parquet":  # written at close, in one go by polars (multi-threaded)
            self.parts.append(frame)
            return
        if self.handle is None:
            self.handle = self.path.open("wb")
        if self.fmt == "jsonl":
            if frame.height:
                frame.write_ndjson(self.handle)
        else:
            frame.write_csv(self.handle, include_header=self.header)
            self.header = False

    def close(self) -> None:
        if self.fmt == "parquet":
            import polars as pl

            if self.parts:
                frame = pl.concat(self.parts, rechunk=False)
            else:
                frame = pl.DataFrame(
                    schema={
                        ID: pl.String,
                        "level": pl.String,
                        "awards": pl.List(pl.Struct({"program": pl.String, "amount": pl.Decimal(12, 2)})),
                        "total": pl.Decimal(12, 2),
                    }
                )
            with self.path.open("wb") as handle:
                frame.write_parquet(handle, compression="zstd", compression_level=1)
                handle.flush()
                os.fsync(handle.fileno())
            return
        if self.handle is None:
            self.handle = self.path.open("wb")
        self.handle.flush()
        os.fsync(self.handle.fileno())
        self.handle.close()


def _writer(fmt: str, path: Path) -> _Writer:
    return _Writer(fmt, path)


def _write_errors(path: Path | None, problems: pl.DataFrame) -> None:
    if path is not None and problems.height:
        with path.open("ab") as handle:
            problems.write_ndjson(handle)


@contextmanager
def _atomic(target: Path) -> Iterator[Path]:
    """Yield a temporary path beside `target`; it replaces `target` only when the block succeeds.

    On any exception, KeyboardInterrupt included, the temporary file is removed and `target` is
    left as it was (absent, or the previous complete file).
    """
    tmp = target.with_name(f".{target.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    tmp.open("xb").close()
    try:
        yield tmp
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


@contextmanager
def _nothing() -> Iterator[None]:
    yield None


__all__ = ["BatchInputError", "BatchSummary", "evaluate_file", "validate"]
