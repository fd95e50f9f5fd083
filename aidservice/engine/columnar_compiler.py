"""The columnar compiler: the rules, for one date, as polars expressions stacked on a table of facts.

Same checked expression tree, same semantics as the reference evaluator (`interp`):

- numbers are exact scaled integers (Int64: money in fen, `number` facts × 10**decimals); rational
  literals and parameters are folded at compile time, so a comparison of a fact with a constant
  or with a keyed parameter becomes an integer comparison with a precomputed (per key) threshold
  (`x < t` ⟺ `x < ceil(t)` for an integer x), and anything more general compares `a*sb OP b*sa`;
- parameters are folded as literals for the date; keyed parameters become one lookup on the key
  column (`replace_strict`), null when the key is null or has no value that day;
- unknowns are polars nulls, and polars `&`/`|`/`~` are Kleene, like the reference; a clause or
  condition fires only when true;
- level = highest level with a firing clause; per program: effective range (static for the date),
  condition, amount cases in order (true → its amount; unknown → unknown amount, still awarded;
  false → next; none → not awarded), combinations (first listed wins), `total_fen` = sum of the
  known amounts of grants, waivers and scholarships.

Pure: polars and the standard library only (a test asserts the engine imports no Flask).
Limit: internal numbers are Int64, so money is exact up to about 9.2e16 yuan (the batch reader
caps money at Decimal(12, 2)).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from datetime import date
from fractions import Fraction
from typing import Any, cast

import polars as pl

from . import expr as ex
from .columnar_values import (
    FALSE,
    FLIP,
    OPS,
    OPS_ARITH,
    TRUE,
    UNKNOWN,
    Bool,
    Num,
    cmp,
    const_bool,
    lit_fen,
    threshold,
    times,
)
from .interp import RANK, round_fen
from .model import Program, Rules
from .result import COUNTED_KINDS, LEVELS

_PREFIX = "__aid_"  # temporary columns; dropped before the result is returned
_LV = f"{_PREFIX}lv"


class FrameCompiler:
    """Builds, for one rule set, date and input schema, the stages of expressions `build` returns."""

    def __init__(self, rules: Rules, as_of: date, schema: Mapping[str, pl.DataType]) -> None:
        self.rules = rules
        self.as_of = as_of
        self.schema = schema
        self.prep: dict[str, pl.Expr] = {}  # temporary columns computed first (lookups, derived values)
        self.lookups: dict[tuple[object, ...], str] = {}
        self.derived_cache: dict[str, Num | Bool] = {}
        self.depth: dict[str, int] = {}  # temporary column → stage (after the temporaries it reads)

    # ------------------------------------------------------------ facts

    def fact_bool(self, name: str) -> Bool:
        if name not in self.schema:
            return FALSE  # bools default to false
        return Bool(pl.col(name).fill_null(False), nullable=False)

    def fact_col(self, name: str) -> pl.Expr | None:
        """A fact's column (enums as `pl.Enum` of the catalogue values: compared as small integers)."""
        if name not in self.schema:
            return None
        spec = self.rules.facts[name]
        if spec.type != "enum":
            return pl.col(name)
        dtype = pl.Enum(list(spec.values))
        if self.schema[name] == dtype:
            return pl.col(name)
        return self.temp(("enum", name), lambda: pl.col(name).cast(pl.Utf8).cast(dtype))

    def temp(self, key: tuple[object, ...], build: Callable[[], pl.Expr]) -> pl.Expr:
        """A temporary column computed once, before the level, and shared by every user.

        Temporaries that read other temporaries (a lookup on an enum cast, a derived value on a
        lookup) go in a later `with_columns` stage than those they read.
        """
        name = self.lookups.get(key)
        if name is None:
            name = f"{_PREFIX}t{len(self.lookups)}"
            self.lookups[key] = name
            expr = build()
            self.depth[name] = 1 + max((self.depth.get(r, -1) for r in expr.meta.root_names()), default=-1)
            self.prep[name] = expr.alias(name)
        return pl.col(name)

    def lookup(
        self, key: str, table: Mapping[str, object], dtype: pl.DataType | type[pl.DataType]
    ) -> pl.Expr:
        """Value per key value; null for a null key or a key without a value."""
        frozen = tuple(sorted(table.items()))
        column = self.fact_col(key)
        if column is None or not table:
            return pl.lit(None, dtype=dtype)
        return self.temp(
            ("lookup", key, frozen, str(dtype)),
            lambda: column.replace_strict(dict(frozen), default=None, return_dtype=dtype),
        )

    # ------------------------------------------------------------ numbers

    def num(self, node: ex.Node) -> Num:
        if isinstance(node, ex.Const):
            assert isinstance(node.value, Fraction)
            return Num("const", const=node.value)
        if isinstance(node, ex.Ref):
            if node.kind == "fact":
                spec = self.rules.facts[node.name]
                column = self.fact_col(node.name)
                if column is None:
                    return Num("const", const=None)
                return Num("col", expr=column, scale=spec.scale)
            if node.kind == "param":
                param = self.rules.parameters[node.name]
                dated = param.at(self.as_of)
                return Num(
                    "const", const=None if dated is None else Fraction(cast(int, dated.value), param.scale)
                )
            value = self.derived(node.name)
            assert isinstance(value, Num)
            return value
        if isinstance(node, ex.ParamAt):
            param = self.rules.parameters[node.name]
            table = {}
            for key in param.series:
                dated = param.at(self.as_of, key)
                if dated is not None and key is not None:
                    table[key] = Fraction(cast(int, dated.value), param.scale)  # numbers are scaled ints
            return Num("keyed", key=node.key.name, table=table)
        if isinstance(node, ex.Neg):
            return self.arith_values("-", Num("const", const=Fraction(0)), self.num(node.operand))
        if isinstance(node, ex.Arith):
            return self.arith_values(node.op, self.num(node.left), self.num(node.right))
        raise TypeError(f"not a number: {node}")  # pragma: no cover

    def arith_values(self, op: str, left: Num, right: Num) -> Num:
        fn = OPS_ARITH[op]
        if (left.kind == "const" and left.const is None) or (right.kind == "const" and right.const is None):
            return Num("const", const=None)
        if left.kind == "const" and right.kind == "const":
            return Num("const", const=fn(left.const, right.const))
        if (
            left.kind != "col"
            and right.kind != "col"
            and (left.kind == "const" or right.kind == "const" or left.key == right.key)
        ):
            key = left.key or right.key
            keys = set(left.table) if left.kind == "keyed" else set(right.table)
            if left.kind == "keyed" and right.kind == "keyed":
                keys &= set(right.table)
            table = {
                k: fn(
                    left.table[k] if left.kind == "keyed" else left.const,
                    right.table[k] if right.kind == "keyed" else right.const,
                )
                for k in keys
            }
            return Num("keyed", key=key, table=table)
        lcol, rcol = self.as_col(left), self.as_col(right)
        if op == "*":
            return self.col_mul(lcol, rcol)
        scale = lcol.scale * rcol.scale // math.gcd(lcol.scale, rcol.scale)
        return Num(
            "col",
            expr=fn(times(lcol.expr, scale // lcol.scale), times(rcol.expr, scale // rcol.scale)),
            scale=scale,
        )

    def col_mul(self, left: Num, right: Num) -> Num:
        return Num("col", expr=left.expr * right.expr, scale=left.scale * right.scale)  # type: ignore[operator]

    def as_col(self, value: Num) -> Num:
        """A value as an integer column over a scale (constants become literals)."""
        if value.kind == "col":
            return value
        if value.kind == "const":
            assert value.const is not None
            return Num(
                "col", expr=pl.lit(value.const.numerator, dtype=pl.Int64), scale=value.const.denominator
            )
        scale = math.lcm(*(v.denominator for v in value.table.values())) if value.table else 1
        table = {k: int(v * scale) for k, v in value.table.items()}
        return Num("col", expr=self.lookup(value.key, table, pl.Int64), scale=scale)

    def derived(self, name: str) -> Num | Bool:
        if name not in self.derived_cache:
            node = self.rules.derived[name].expr
            value: Num | Bool
            if node.type.kind == "num":
                number = self.num(node)
                if number.kind == "col":
                    column = number.expr
                    assert column is not None  # a "col" number carries its expression
                    number = Num("col", expr=self.temp(("derived", name), lambda: column), scale=number.scale)
                value = number
            else:
                flag = self.boolean(node)
                if not flag.is_const:
                    condition = flag.as_expr()
                    flag = Bool(self.temp(("derived", name), lambda: condition), nullable=flag.nullable)
                value = flag
            self.derived_cache[name] = value
        return self.derived_cache[name]

    # ------------------------------------------------------------ conditions

    def boolean(self, node: ex.Node) -> Bool:
        if isinstance(node, ex.Const):
            return const_bool(bool(node.value))
        if isinstance(node, ex.Ref):
            if node.kind == "fact":
                return self.fact_bool(node.name)
            if node.kind == "param":
                dated = self.rules.parameters[node.name].at(self.as_of)
                return const_bool(None if dated is None else bool(dated.value))
            value = self.derived(node.name)
            assert isinstance(value, Bool)
            return value
        if isinstance(node, ex.ParamAt):  # a keyed bool parameter
            param = self.rules.parameters[node.name]
            table = {}
            for key in param.series:
                dated = param.at(self.as_of, key)
                if dated is not None and key is not None:
                    table[key] = bool(dated.value)
            return Bool(self.lookup(node.key.name, table, pl.Boolean))
        if isinstance(node, ex.Not):
            inner = self.boolean(node.operand)
            if inner.is_const:
                return const_bool(None if inner.const is None else not inner.const)
            return Bool(~inner.as_expr(), nullable=inner.nullable)
        if isinstance(node, ex.BoolOp):
            return self.bool_op(node.op, [self.boolean(o) for o in node.operands])
        if isinstance(node, ex.Compare):
            return self.compare(node)
        if isinstance(node, ex.Member):
            return self.member(node)
        raise TypeError(f"not a condition: {node}")  # pragma: no cover

    def bool_op(self, op: str, parts: list[Bool]) -> Bool:
        decisive = op == "or"
        exprs: list[Bool] = []
        unknown = False
        for part in parts:
            if part.is_const:
                if part.const is decisive:
                    return const_bool(decisive)
                if part.const is None:
                    unknown = True
                continue
            exprs.append(part)
        if not exprs:
            return UNKNOWN if unknown else const_bool(not decisive)
        combined = exprs[0].as_expr()
        for part in exprs[1:]:
            combined = (combined | part.as_expr()) if decisive else (combined & part.as_expr())
        if unknown:
            # Kleene: `x or unknown` is true when x is, else unknown; `x and unknown` false when x is, else unknown.
            combined = pl.when(combined == decisive).then(decisive).otherwise(pl.lit(None, dtype=pl.Boolean))
        return Bool(combined, nullable=unknown or any(p.nullable for p in exprs))

    def compare(self, node: ex.Compare) -> Bool:
        kind = node.left.type.kind
        if kind == "num":
            return self.compare_num(node.op, self.num(node.left), self.num(node.right))
        if kind == "level":
            return self.compare_level(node.op, node.left, node.right)
        left, right = self.scalar(node.left), self.scalar(node.right)
        if isinstance(left, Bool) and left.is_const and isinstance(right, Bool) and right.is_const:
            if left.const is None or right.const is None:
                return UNKNOWN
            return const_bool(OPS[node.op](left.const, right.const))
        lexpr = left.as_expr() if isinstance(left, Bool) else left
        rexpr = right.as_expr() if isinstance(right, Bool) else right
        if isinstance(lexpr, str):
            lexpr, rexpr = rexpr, lexpr
        if isinstance(lexpr, str):  # two literals
            return const_bool(OPS[node.op](lexpr, rexpr))
        return Bool(cmp(node.op, lexpr, rexpr), nullable=True)  # type: ignore[arg-type]

    def scalar(self, node: ex.Node) -> Bool | pl.Expr | str:
        """An operand of == / != on enums or booleans: a literal string, an enum column, or a condition."""
        if isinstance(node, ex.Const):
            if isinstance(node.value, bool):
                return const_bool(node.value)
            return str(node.value)
        if node.type.kind == "enum":
            assert isinstance(node, ex.Ref) and node.kind == "fact"
            column = self.fact_col(node.name)
            return pl.lit(None, dtype=pl.Utf8) if column is None else column
        return self.boolean(node)

    def compare_level(self, op: str, left: ex.Node, right: ex.Node) -> Bool:
        def side(n: ex.Node) -> pl.Expr | int:
            return RANK[str(n.value)] if isinstance(n, ex.Const) else pl.col(_LV)

        lv, rv = side(left), side(right)
        if isinstance(lv, int) and isinstance(rv, int):
            return const_bool(OPS[op](lv, rv))
        if isinstance(lv, int):
            lv, rv, op = rv, lv, FLIP[op]
        return Bool(cmp(op, lv, rv), nullable=False)  # type: ignore[arg-type]

    def compare_num(self, op: str, left: Num, right: Num) -> Bool:
        if (left.kind == "const" and left.const is None) or (right.kind == "const" and right.const is None):
            return UNKNOWN
        if left.kind == "const" and right.kind == "const":
            return const_bool(OPS[op](left.const, right.const))
        if left.kind != "col" and right.kind == "col":
            left, right, op = right, left, FLIP[op]
        if left.kind == "keyed" and (
            right.kind == "const" or (right.kind == "keyed" and right.key == left.key)
        ):
            keys = set(left.table) & (set(right.table) if right.kind == "keyed" else set(left.table))
            table = {
                k: OPS[op](left.table[k], right.table[k] if right.kind == "keyed" else right.const)
                for k in keys
            }
            return Bool(self.lookup(left.key, table, pl.Boolean))
        if left.kind == "col" and right.kind == "const":
            assert left.expr is not None and right.const is not None
            bound = threshold(op, right.const * left.scale)
            if bound is None:  # x == non-integer: false, or unknown when x is
                return Bool(
                    pl.when(left.expr.is_not_null())
                    .then(op == "!=")
                    .otherwise(pl.lit(None, dtype=pl.Boolean))
                )
            return Bool(cmp(bound[0], left.expr, bound[1]))
        if left.kind == "col" and right.kind == "keyed":
            assert left.expr is not None
            bounds = {k: threshold(op, v * left.scale) for k, v in right.table.items()}
            if all(b is not None for b in bounds.values()):  # one integer threshold per key value
                table = {k: b[1] for k, b in bounds.items()}  # type: ignore[index]
                return Bool(cmp(op, left.expr, self.lookup(right.key, table, pl.Int64)))
        lcol, rcol = self.as_col(left), self.as_col(right)
        return Bool(cmp(op, times(lcol.expr, rcol.scale), times(rcol.expr, lcol.scale)))

    def member(self, node: ex.Member) -> Bool:
        kind = node.operand.type.kind
        if kind == "num":
            value = self.num(node.operand)
            if value.kind == "const":
                if value.const is None:
                    return UNKNOWN
                return const_bool((value.const in node.values) != node.negate)
            if value.kind == "keyed":
                table = {k: (v in node.values) != node.negate for k, v in value.table.items()}
                return Bool(self.lookup(value.key, table, pl.Boolean))
            assert value.expr is not None
            scaled = sorted(
                {
                    int(Fraction(v) * value.scale)
                    for v in node.values
                    if (Fraction(v) * value.scale).denominator == 1
                }
            )
            test = value.expr.is_in(pl.lit(pl.Series(scaled, dtype=pl.Int64)).implode())
            return Bool(~test if node.negate else test)
        if kind == "level":
            ranks = sorted({RANK[str(v)] for v in node.values})
            test = pl.col(_LV).is_in(pl.lit(pl.Series(ranks, dtype=pl.Int8)).implode())
            return Bool(~test if node.negate else test, nullable=False)
        operand = self.scalar(node.operand)
        assert isinstance(operand, pl.Expr)
        test = operand.is_in([str(v) for v in node.values])
        return Bool(~test if node.negate else test)

    # ------------------------------------------------------------ amounts

    def fen(self, value: Num) -> pl.Expr | int | None:
        """Amount in integer fen: a literal int, None (unknown), or an Int64 expression."""
        if value.kind == "const":
            return None if value.const is None else round_fen(value.const)
        if value.kind == "keyed":
            return self.lookup(value.key, {k: round_fen(v) for k, v in value.table.items()}, pl.Int64)
        assert value.expr is not None
        if 100 % value.scale == 0:
            return times(value.expr, 100 // value.scale)
        n, d = value.expr * 100, value.scale  # round half away from zero, in integers
        return ((n.abs() * 2 + d) // (2 * d)) * n.sign()

    def program(self, program: Program) -> tuple[pl.Expr, pl.Expr]:
        """(has, fen) before combinations: awarded flag (Boolean) and amount (Int64, null = unknown)."""
        if program.effective is not None and not program.effective.holds(self.as_of):
            return pl.lit(False), pl.lit(None, dtype=pl.Int64)
        when = self.boolean(program.when)
        if when.is_const and when.const is not True:
            return pl.lit(False), pl.lit(None, dtype=pl.Int64)
        branches: list[tuple[pl.Expr, pl.Expr | int | None]] = []
        conditions: list[pl.Expr] = []
        tail: pl.Expr | int | None = None
        terminal = False
        for case in program.amount:
            if case.effective is not None and not case.effective.holds(self.as_of):
                continue
            cond = TRUE if case.when is None else self.boolean(case.when)
            if cond.is_const and cond.const is False:
                continue
            if cond.is_const:  # true: this amount; unknown: unknown amount, still awarded
                tail = self.fen(self.num(case.value)) if cond.const else None
                terminal = True
                break
            expr = cond.as_expr()
            branches.append((expr, self.fen(self.num(case.value))))
            if cond.nullable:
                branches.append((expr.is_null(), None))
            conditions.append(expr)
        if terminal:
            applies: pl.Expr | None = None
        elif conditions:
            any_case = conditions[0]
            for extra in conditions[1:]:
                any_case = any_case | extra
            applies = any_case.fill_null(True)  # awarded unless every case is false
        else:
            return pl.lit(False), pl.lit(None, dtype=pl.Int64)
        has = when.as_expr()
        if when.nullable:
            has = has.fill_null(False)
        if applies is not None:
            has = has & applies if not when.is_const else applies
        amount = lit_fen(tail)
        if branches:
            chain: Any = pl
            for cond_expr, value in branches:
                chain = chain.when(cond_expr).then(lit_fen(value))
            amount = (
                chain.otherwise(lit_fen(tail)) if terminal else chain.otherwise(pl.lit(None, dtype=pl.Int64))
            )
        return has, amount

    # ------------------------------------------------------------ the plan

    def level_rank(self) -> pl.Expr:
        by_level: dict[str, list[Bool]] = {}
        for clause in self.rules.clauses:
            by_level.setdefault(clause.level, []).append(self.boolean(clause.when))
        chain: Any = pl
        started = False
        for level in reversed(LEVELS[1:]):  # highest first
            fired = self.bool_op("or", by_level.get(level, []))
            if fired.is_const:
                if fired.const is True:
                    rank = pl.lit(RANK[level], dtype=pl.Int8)
                    return chain.otherwise(rank) if started else rank
                continue
            chain = chain.when(fired.as_expr()).then(pl.lit(RANK[level], dtype=pl.Int8))
            started = True
        zero = pl.lit(0, dtype=pl.Int8)
        return chain.otherwise(zero) if started else zero

    def build(self) -> Callable[[pl.LazyFrame], pl.LazyFrame]:
        """Every expression built once; the returned function only stacks them on a frame."""
        rank = self.level_rank()
        programs = [(p, *self.program(p)) for p in self.rules.programs]
        stages: list[list[pl.Expr]] = [[] for _ in range(1 + max(self.depth.values(), default=-1))]
        for name, expr in self.prep.items():
            stages[self.depth[name]].append(expr)
        stages.append([rank.alias(_LV)])
        stages.append(
            [has.alias(f"has_{p.id}") for p, has, _ in programs]
            + [fen.alias(f"{_PREFIX}fen_{p.id}") for p, _, fen in programs]
        )
        known = {p.id for p in self.rules.programs}
        for combo in self.rules.combinations:
            members = [pid for pid in combo.exclusive if pid in known]
            updates = []
            for i, loser in enumerate(members[1:], start=1):
                beaten = pl.any_horizontal([pl.col(f"has_{w}") for w in members[:i]])
                updates.append((pl.col(f"has_{loser}") & ~beaten).alias(f"has_{loser}"))
            if updates:
                stages.append(updates)
        fens = [
            pl.when(pl.col(f"has_{p.id}")).then(pl.col(f"{_PREFIX}fen_{p.id}")).alias(f"fen_{p.id}")
            for p in self.rules.programs
        ]
        level = pl.col(_LV).replace_strict(dict(enumerate(LEVELS)), return_dtype=pl.Utf8).alias("level")
        stages.append([level, *fens])
        counted = [f"fen_{p.id}" for p in self.rules.programs if p.kind in COUNTED_KINDS]
        total = (
            pl.sum_horizontal([pl.col(c) for c in counted]).cast(pl.Int64)
            if counted
            else pl.lit(0, dtype=pl.Int64)
        )
        stages.append([total.alias("total_fen")])
        drop = [*self.prep, _LV, *(f"{_PREFIX}fen_{p.id}" for p in self.rules.programs)]

        results = result_columns(self.rules)

        def apply(frame: pl.LazyFrame) -> pl.LazyFrame:
            for stage in stages:
                frame = frame.with_columns(stage)
            return frame.drop(drop).select(pl.all().exclude(results), *results)

        return apply


def result_columns(rules: Rules) -> list[str]:
    """The columns `compile_frame` adds, in order."""
    return [
        "level",
        *(f"has_{p.id}" for p in rules.programs),
        *(f"fen_{p.id}" for p in rules.programs),
        "total_fen",
    ]
