"""The columnar path: evaluate a whole table of normalised facts (one student per row) for one date.

`compile_frame(rules, as_of)` gives `run(frame) -> frame + level, has_<program>, fen_<program>, total_fen`,
cached per rule set version and date, with one plan per input schema (`columnar_compiler` builds the
plan: its docstring states the semantics, the same as the reference evaluator's). `frame_schema` and
`facts_frame` type normalised facts as the plan reads them; `evaluate_rows` is the per-row view the
rule tests and the property tests compare with the other paths.

Pure: polars and the standard library only (a test asserts the engine imports no Flask).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping
from datetime import date
from decimal import Decimal
from typing import Any

import polars as pl

from .columnar_compiler import FrameCompiler
from .coverage import require_covered
from .model import Rules
from .result import fen_to_yuan

__all__ = [
    "compile_frame",
    "evaluate_frame",
    "evaluate_rows",
    "facts_frame",
    "frame_schema",
]


def frame_schema(rules: Rules, *, enum_dtype: bool = False) -> dict[str, pl.DataType]:
    """The internal column types of normalised facts: bool → Boolean, numbers → Int64 (scaled), enum → Utf8."""
    schema: dict[str, pl.DataType] = {}
    for name, spec in rules.facts.items():
        if spec.type == "bool":
            schema[name] = pl.Boolean()
        elif spec.type == "enum":
            schema[name] = pl.Enum(list(spec.values)) if enum_dtype else pl.Utf8()
        else:
            schema[name] = pl.Int64()
    return schema


def facts_frame(rules: Rules, rows: Iterable[Mapping[str, object]]) -> pl.DataFrame:
    """Normalised fact dicts (as `RuleSet.validate_facts` returns them) as a typed frame."""
    schema = frame_schema(rules)
    rows = list(rows)
    columns = {name: [row.get(name, rules.facts[name].default) for row in rows] for name in schema}
    return pl.DataFrame(columns, schema=schema)


_CACHE: dict[tuple[str, date], Callable[[pl.LazyFrame | pl.DataFrame], pl.DataFrame]] = {}
_CACHE_LOCK = threading.Lock()


def compile_frame(rules: Rules, as_of: date) -> Callable[[pl.LazyFrame | pl.DataFrame], pl.DataFrame]:
    """`run(frame) -> frame + level, has_<program>, fen_<program>, total_fen` for one date (cached).

    A date outside the rules' coverage is refused (OutsideCoverage) before anything is compiled.
    """
    require_covered(rules, as_of)
    key = (rules.version, as_of)
    with _CACHE_LOCK:
        cached = _CACHE.get(key)
    if cached is not None:
        return cached
    plans: dict[tuple[tuple[str, str], ...], Callable[[pl.LazyFrame], pl.LazyFrame]] = {}

    def run(frame: pl.LazyFrame | pl.DataFrame) -> pl.DataFrame:
        lazy = frame.lazy()
        schema = lazy.collect_schema()
        shape = tuple(sorted((n, str(schema[n])) for n in rules.facts if n in schema))
        plan = plans.get(shape)
        if plan is None:
            plan = FrameCompiler(rules, as_of, dict(schema)).build()
            plans[shape] = plan
        return plan(lazy).collect()

    with _CACHE_LOCK:
        if len(_CACHE) > 64:
            _CACHE.clear()
        _CACHE[key] = run
    return run


def evaluate_frame(rules: Rules, frame: pl.LazyFrame | pl.DataFrame, as_of: date) -> pl.DataFrame:
    """Evaluate a table of normalised facts (one student per row) on `as_of`."""
    return compile_frame(rules, as_of)(frame)


def evaluate_rows(rules: Rules, facts_list: list[Mapping[str, object]], as_of: date) -> list[dict[str, Any]]:
    """Each normalised fact dict → `{"level", "awards": {program: Decimal | None}, "total": Decimal}`."""
    if not facts_list:
        return []
    out = evaluate_frame(rules, facts_frame(rules, facts_list), as_of)
    ids = [p.id for p in rules.programs]
    rows = []
    for record in out.select(
        ["level", *(f"has_{p}" for p in ids), *(f"fen_{p}" for p in ids), "total_fen"]
    ).iter_rows(named=True):
        awards = {pid: fen_to_yuan(record[f"fen_{pid}"]) for pid in ids if record[f"has_{pid}"]}
        rows.append(
            {"level": record["level"], "awards": awards, "total": Decimal(record["total_fen"]).scaleb(-2)}
        )
    return rows
