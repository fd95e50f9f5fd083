"""The columnar compiler's values: numbers and conditions as constants, per-key tables or polars expressions.

A number (`Num`) is a constant (None = unknown), a function of one enum key (a table per key value,
missing key = unknown) or an Int64 column over a scale (money in fen, `number` facts x 10**decimals);
a condition (`Bool`) is a constant (True/False/None = unknown) or a Boolean expression, Kleene like
the reference. Constants fold at compile time; `threshold` turns `x OP t` on an integer column into
an integer comparison.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

import polars as pl

# ---------------------------------------------------------------------------- values


@dataclass(frozen=True)
class Num:
    """A numeric value: a constant, a function of one enum key, or an integer column / scale.

    kind "const": `const` (None = unknown); "keyed": `table[key value]` (missing key → unknown);
    "col": `expr / scale` with expr an Int64 expression that may be null.
    """

    kind: str
    const: Fraction | None = None
    key: str = ""
    table: Mapping[str, Fraction] = field(default_factory=dict)
    expr: pl.Expr | None = None
    scale: int = 1


@dataclass(frozen=True)
class Bool:
    """A condition: a constant (True/False/None = unknown) or a Boolean expression."""

    expr: pl.Expr | None = None
    const: bool | None = None
    nullable: bool = True

    @property
    def is_const(self) -> bool:
        return self.expr is None

    def as_expr(self) -> pl.Expr:
        if self.expr is not None:
            return self.expr
        return pl.lit(self.const, dtype=pl.Boolean)


TRUE = Bool(const=True, nullable=False)
FALSE = Bool(const=False, nullable=False)
UNKNOWN = Bool(const=None, nullable=True)


def const_bool(value: bool | None) -> Bool:
    return UNKNOWN if value is None else (TRUE if value else FALSE)


OPS: dict[str, Callable[[Any, Any], Any]] = {
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
    "==": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
}
FLIP = {"<": ">", "<=": ">=", ">": "<", ">=": "<=", "==": "==", "!=": "!="}


def threshold(op: str, t: Fraction) -> tuple[str, int] | None:
    """For an integer x: `x OP t` as `x OP' k` with an integer k; None for ==/!= on a non-integer t."""
    if t.denominator == 1:
        return op, int(t)
    if op in ("<", ">="):
        return op, math.ceil(t)
    if op in ("<=", ">"):
        return op, math.floor(t)
    return None


def cmp(op: str, left: pl.Expr, right: pl.Expr | int) -> pl.Expr:
    compared: pl.Expr = OPS[op](left, right)  # OPS serves constants too (typed Any); on an Expr, an Expr
    return compared


OPS_ARITH: dict[str, Callable[[Any, Any], Any]] = {
    "+": lambda a, b: a + b,
    "-": lambda a, b: a - b,
    "*": lambda a, b: a * b,
}


def times(expr: pl.Expr | None, factor: int) -> pl.Expr:
    assert expr is not None
    return expr if factor == 1 else expr * factor


def lit_fen(value: pl.Expr | int | None) -> pl.Expr:
    if isinstance(value, pl.Expr):
        return value
    return pl.lit(value, dtype=pl.Int64)
