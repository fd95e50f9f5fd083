"""Batch validation: each fact of a raw table parsed by polars expressions into its internal value.

A fact column gives a value and an error message per row: booleans from their words, enums by a
cast to the catalogue (a thorough pass quotes the bad value only where the fast one failed), integers
and numbers as exact scaled integers (money in fen) from text, integers, decimals or floats, then the
inclusive min/max bounds compared on the scaled integer. Money has at most two decimals and at most
ten digits before the point (Decimal(12, 2)).
"""

from __future__ import annotations

from fractions import Fraction
from math import ceil, floor
from typing import TYPE_CHECKING, Any

from .batch_read import ID, MONEY_INT_DIGITS
from .facts import show_bound

if TYPE_CHECKING:
    import polars as pl

    from .model import FactSpec
    from .ruleset import RuleSet

# polars is imported inside the functions: importing this module stays cheap (see `batch`).

_TRUE = ["true", "1", "yes", "y", "t", "是"]
_FALSE = ["false", "0", "no", "n", "f", "否", ""]
ROW = "__row"


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
    row = (pl.int_range(pl.len(), dtype=pl.Int64) + first_row).alias(ROW)
    evaluated = raw.lazy().select([row, *values, *(e.name.prefix("__err_") for e in errors)]).collect()
    err_cols = [c for c in evaluated.columns if c.startswith("__err_")]
    any_error = pl.any_horizontal([pl.col(c).is_not_null() for c in err_cols])
    bad = evaluated.filter(any_error)
    if bad.height:
        problems = (
            bad.select([ROW, ID, *err_cols])
            .rename({ID: "_sid"})
            .unpivot(index=[ROW, "_sid"], on=err_cols, variable_name="field", value_name="message")
            .drop_nulls("message")
            .with_columns(pl.col("field").str.strip_prefix("__err_"))
            .with_columns(
                pl.col("field")
                .replace_strict({c: i for i, c in enumerate([ID, *facts])}, return_dtype=pl.Int32)
                .alias("_order")
            )
            .sort([ROW, "_order"])
            .select(pl.col(ROW).alias("row"), pl.col("_sid").alias(ID), "field", "message")
        )
    else:
        problems = pl.DataFrame(
            schema={"row": pl.Int64, ID: pl.String, "field": pl.String, "message": pl.String}
        )
    return evaluated.drop(err_cols), problems


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


def _text(col: pl.Expr, dtype: pl.DataType | type[pl.DataType]) -> pl.Expr:
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
            error: pl.Expr = pl.when(col.is_not_null() & (scaled.abs() >= limit)).then(big)
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
    checks = []
    if spec.min is not None:
        checks.append(
            (value < ceil(Fraction(spec.min) * spec.scale), f"must be at least {show_bound(spec.min)}")
        )
    if spec.max is not None:
        checks.append(
            (value > floor(Fraction(spec.max) * spec.scale), f"must be at most {show_bound(spec.max)}")
        )
    if not checks:
        return value, error
    import polars as pl

    chain: Any = pl.when(error.is_not_null()).then(error)
    for test, message in checks:
        chain = chain.when(test).then(_fail(message))
    out_of_range = pl.any_horizontal([t for t, _ in checks]).fill_null(False)
    return pl.when(~out_of_range).then(value), chain
