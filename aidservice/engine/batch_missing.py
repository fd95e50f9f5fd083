"""Batch output's `missing`: per row, the facts and parameters that had no value on the evaluation date.

The same list as `Result.missing` of the reference and compiled paths (`interp`, `compiler`): a name is
missing when a clause, a program's condition or the amount it reached came out *unknown* because that
name had no value. The row's outcome comes from the columnar plan (`columnar_compiler.FrameCompiler`);
this module asks the same compiler for each item's condition and reads where it is null, then names
the item's unknown leaves, exactly as the compiled path does:

- a nullable fact (not bool, not required) read by the item, when its value is null;
- a parameter with no value on the date (the same for every row);
- a keyed parameter (`line_monthly[city_code]`) when the key has a value but the parameter has none
  for it on the date (a null key names the key fact instead).

Items, as the reference walks them: every clause; every program in effect on the date; for a program
whose condition holds, its amount cases in order up to the first one that is not false (unknown: the
case's condition is named; true with an unknown amount: the amount's leaves are named). Combinations
drop awards but not what was missing for them.

Pure: polars and the standard library only (polars imported on use, like the other `batch*` modules).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import date
from typing import TYPE_CHECKING

from . import expr as ex
from .interp import RANK

if TYPE_CHECKING:
    import polars as pl

    from .columnar_compiler import FrameCompiler
    from .columnar_values import Bool
    from .model import Rules

MISSING = "missing"
_ITEM = "__aid_missing_item"  # temporary columns, never in the output
_BITS = 64  # names per row code (UInt64); more names take the slower text path
Leaf = tuple[str, ...]  # ("fact", name) | ("param", name) | ("keyed", param, key fact)


def missing_plan(
    rules: Rules, as_of: date, schema: dict[str, pl.DataType]
) -> Callable[[pl.DataFrame], pl.Series]:
    """`names(result) -> Series` of sorted lists of names (List(Utf8), empty when none), one per row.

    `schema` is the facts frame's schema; `result` is what the columnar plan returned for it (the
    facts plus `level`). The date must be inside coverage (the columnar plan has checked it).
    """
    import polars as pl

    from .columnar_compiler import _LV, FrameCompiler

    compiler = FrameCompiler(rules, as_of, schema)
    catalogue = _Leaves(rules, as_of)
    masks: dict[str, list[pl.Expr]] = {}
    items: list[pl.Expr] = []  # each item's "came out unknown" computed once, as a column the masks read

    def note(when: pl.Expr | bool, leaves: Iterable[Leaf]) -> None:
        if when is False:
            return
        if isinstance(when, pl.Expr):
            column = f"{_ITEM}{len(items)}"
            items.append(when.alias(column))
            when = pl.col(column)
        for leaf in leaves:
            unknown = _unknown(leaf, rules, as_of, schema)
            if unknown is False:
                continue
            mask = unknown if when is True else (when if unknown is True else when & unknown)
            masks.setdefault(leaf[1], []).append(pl.lit(True) if mask is True else mask)

    for clause in rules.clauses:
        note(_is_null(compiler.boolean(clause.when)), catalogue.of(clause.when))
    for program in rules.programs:
        if program.effective is not None and not program.effective.holds(as_of):
            continue
        condition = compiler.boolean(program.when)
        note(_is_null(condition), catalogue.of(program.when))
        reached = _is_true(condition)
        for case in program.amount:
            if reached is False:
                break
            if case.effective is not None and not case.effective.holds(as_of):
                continue
            if case.when is None:
                chosen: pl.Expr | bool = reached
            else:
                guard = compiler.boolean(case.when)
                note(_and(reached, _is_null(guard)), catalogue.of(case.when))
                chosen = _and(reached, _is_true(guard))
            note(_and(chosen, _fen_is_null(compiler, case.value)), catalogue.of(case.value))
            if case.when is None:
                break
            reached = _and(reached, _is_false(compiler.boolean(case.when)))

    stages: list[list[pl.Expr]] = [[] for _ in range(1 + max(compiler.depth.values(), default=-1))]
    for name, expression in compiler.prep.items():
        stages[compiler.depth[name]].append(expression)
    rank = pl.col("level").replace_strict(RANK, return_dtype=pl.Int8).alias(_LV)
    names = sorted(masks)
    flags = [pl.any_horizontal(masks[n]).fill_null(False) for n in names]
    if len(names) <= _BITS:
        # each row's names as one bit set; the distinct sets (a few hundred at most) are listed once and gathered
        code = pl.sum_horizontal(
            [f.cast(pl.UInt64) * pl.lit(1 << i, dtype=pl.UInt64) for i, f in enumerate(flags)]
        ).alias("code")
    else:  # names are identifiers: joined as "a;b;" and cut apart again
        joined = pl.concat_str(
            [
                pl.when(f).then(pl.lit(f"{n};")).otherwise(pl.lit(""))
                for n, f in zip(names, flags, strict=True)
            ]
        )
        listed = joined.str.extract_all(r"[^;]+").alias(MISSING)

    def run(result: pl.DataFrame) -> pl.Series:
        if not names:
            return nothing_missing(result.height)
        frame = result.lazy().with_columns(rank)
        for stage in stages:
            frame = frame.with_columns(stage)
        if items:
            frame = frame.with_columns(items)
        if len(names) > _BITS:
            return frame.select(listed).collect().to_series()
        codes = frame.select(code).collect().to_series()
        distinct = codes.unique().to_list()
        table = pl.Series(
            MISSING,
            [[n for i, n in enumerate(names) if c >> i & 1] for c in distinct],
            dtype=pl.List(pl.Utf8),
        )
        at = codes.replace_strict({c: i for i, c in enumerate(distinct)}, return_dtype=pl.UInt32)
        return table.gather(at).alias(MISSING)

    return run


def nothing_missing(rows: int) -> pl.Series:
    """A `missing` column of `rows` empty lists."""
    import polars as pl

    return pl.select(pl.repeat("", rows, dtype=pl.Utf8).str.extract_all(";").alias(MISSING)).to_series()


def _is_null(flag: Bool) -> pl.Expr | bool:
    if flag.is_const:
        return flag.const is None
    return flag.as_expr().is_null() if flag.nullable else False


def _is_true(flag: Bool) -> pl.Expr | bool:
    if flag.is_const:
        return flag.const is True
    return flag.as_expr().fill_null(False) if flag.nullable else flag.as_expr()


def _is_false(flag: Bool) -> pl.Expr | bool:
    if flag.is_const:
        return flag.const is False
    return ~flag.as_expr().fill_null(True) if flag.nullable else ~flag.as_expr()


def _and(left: pl.Expr | bool, right: pl.Expr | bool) -> pl.Expr | bool:
    if left is False or right is False:
        return False
    if left is True:
        return right
    if right is True:
        return left
    return left & right


def _fen_is_null(compiler: FrameCompiler, node: ex.Node) -> pl.Expr | bool:
    fen = compiler.fen(compiler.num(node))
    if fen is None:
        return True
    if isinstance(fen, int):
        return False
    return fen.is_null()


def _unknown(leaf: Leaf, rules: Rules, as_of: date, schema: dict[str, pl.DataType]) -> pl.Expr | bool:
    """Where the leaf has no value: an expression over the facts, or a constant for the date."""
    import polars as pl

    if leaf[0] == "param":
        return True
    if leaf[0] == "fact":
        return pl.col(leaf[1]).is_null() if leaf[1] in schema else True
    _kind, name, key = leaf
    if key not in schema:
        return False  # a null key: the key fact is named, not the parameter
    param = rules.parameters[name]
    keys = sorted(k for k in param.series if k is not None and param.at(as_of, k) is not None)
    column = pl.col(key).cast(pl.Utf8)
    return column.is_not_null() & ~column.is_in(pl.lit(pl.Series(keys, dtype=pl.Utf8)).implode())


class _Leaves:
    """What an item can be missing, per node (as the compiled path's leaves): facts, parameters, keyed parameters."""

    def __init__(self, rules: Rules, as_of: date) -> None:
        self.rules = rules
        self.as_of = as_of
        self.cache: dict[str, frozenset[Leaf]] = {}

    def nullable(self, name: str) -> bool:
        spec = self.rules.facts[name]
        return spec.type != "bool" and not spec.required

    def of(self, node: ex.Node) -> frozenset[Leaf]:
        found: set[Leaf] = set()
        for item in node.walk():
            if isinstance(item, ex.ParamAt):
                found.add(("keyed", item.name, item.key.name))
                if self.nullable(item.key.name):
                    found.add(("fact", item.key.name))
            elif isinstance(item, ex.Ref):
                if item.kind == "fact" and self.nullable(item.name):
                    found.add(("fact", item.name))
                elif item.kind == "param" and self.rules.parameters[item.name].at(self.as_of) is None:
                    found.add(("param", item.name))
                elif item.kind == "derived":
                    found |= self.derived(item.name)
        return frozenset(found)

    def derived(self, name: str) -> frozenset[Leaf]:
        if name not in self.cache:
            self.cache[name] = self.of(self.rules.derived[name].expr)
        return self.cache[name]


__all__ = ["MISSING", "missing_plan", "nothing_missing"]
