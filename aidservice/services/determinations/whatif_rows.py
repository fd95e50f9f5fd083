"""The changing students of a what-if as rows, and their tallies, computed on whole frames (no per-row Python).

`change_rows` turns a chunk's joined outcomes (running rules and draft side by side, `whatif_compare._changed`)
into one row per changing student: level before and after, the total before and after (loans not counted,
as in a student's funded total) and per program the amount before, after and the delta (fen; 0 when not
awarded), whether the program was gained or lost, and the region the student is counted in (the city in
a province run, the county in a city's or county's). `tally_rows` adds a chunk's rows to the running
tallies with one `group_by` per region and one per level move.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import polars as pl

from aidservice.services.determinations.runs import Diff, DiffTotals, yuan


class ComparisonTotals(DiffTotals):
    """`DiffTotals` (facts_only is always 0: one roster, one date, only the rules differ) and who gains and
    loses money (loans not counted)."""

    students_gaining: int
    students_losing: int
    total_delta: str  # yuan, loans not counted


@dataclass(slots=True)
class Tallies:
    """A `Diff` with who gains and loses money."""

    diff: Diff = field(default_factory=Diff)
    gaining: int = 0
    losing: int = 0
    total_fen: int = 0

    def totals(self) -> ComparisonTotals:
        return {
            **self.diff.totals(),
            "students_gaining": self.gaining,
            "students_losing": self.losing,
            "total_delta": yuan(self.total_fen),
        }


ROW_COLUMNS = (
    "pk",
    "student_id",
    "school_code",
    "region_code",
    "group",
    "level_before",
    "level_after",
    "total_before",
    "total_after",
    "total_delta",
)
"""The leading columns of a rows frame; then before_<p>, after_<p>, delta_<p>, gained_<p>, lost_<p> per program."""


def group_expr(prefix: str | None) -> pl.Expr:
    """The region a change is counted in: the city in a province run, the county in a city's or county's."""
    code = pl.col("region_code").fill_null("")
    if prefix is None or len(prefix) <= 2:
        return pl.when(code.str.len_chars() >= 4).then(code.str.slice(0, 4) + "00").otherwise(code)
    return code


def change_rows(changed: pl.DataFrame, programs: Mapping[str, bool], prefix: str | None) -> pl.DataFrame:
    """One row per changing student (module docstring), in pk order."""
    per_program: list[pl.Expr] = []
    for p in programs:
        has, has_d = pl.col(f"has_{p}"), pl.col(f"has_{p}_draft")
        before = pl.when(has).then(pl.col(f"fen_{p}").fill_null(0)).otherwise(0).cast(pl.Int64)
        after = pl.when(has_d).then(pl.col(f"fen_{p}_draft").fill_null(0)).otherwise(0).cast(pl.Int64)
        per_program += [
            before.alias(f"before_{p}"),
            after.alias(f"after_{p}"),
            (has_d & ~has).alias(f"gained_{p}"),
            (has & ~has_d).alias(f"lost_{p}"),
        ]
    frame = changed.select(
        "pk",
        "student_id",
        pl.col("school_code").cast(pl.Utf8),
        pl.col("region_code").fill_null(""),
        group_expr(prefix).alias("group"),
        pl.col("level").alias("level_before"),
        pl.col("level_draft").alias("level_after"),
        *per_program,
    )
    counted = [p for p, funded in programs.items() if funded]
    frame = frame.with_columns(
        *((pl.col(f"after_{p}") - pl.col(f"before_{p}")).alias(f"delta_{p}") for p in programs),
        _sum([f"before_{p}" for p in counted]).alias("total_before"),
        _sum([f"after_{p}" for p in counted]).alias("total_after"),
    ).with_columns((pl.col("total_after") - pl.col("total_before")).alias("total_delta"))
    tail = [f"{what}_{p}" for p in programs for what in ("before", "after", "delta", "gained", "lost")]
    return frame.select(*ROW_COLUMNS, *tail)


def _sum(columns: list[str]) -> pl.Expr:
    return pl.sum_horizontal(*columns).cast(pl.Int64) if columns else pl.lit(0, dtype=pl.Int64)


def tally_rows(
    overall: Tallies, by_region: dict[str, Tallies], rows: pl.DataFrame, programs: Mapping[str, bool]
) -> None:
    """Add a chunk's changing students to the overall and per-region tallies (aggregated per region first)."""
    if rows.is_empty():
        return
    aggregates = [
        pl.len().alias("n"),
        (pl.col("total_delta") > 0).sum().alias("gaining"),
        (pl.col("total_delta") < 0).sum().alias("losing"),
        pl.col("total_delta").sum().alias("total"),
    ]
    for p in programs:
        aggregates += [
            pl.col(f"gained_{p}").sum().alias(f"gained_{p}"),
            pl.col(f"lost_{p}").sum().alias(f"lost_{p}"),
            pl.col(f"delta_{p}").sum().alias(f"delta_{p}"),
            (pl.col(f"delta_{p}") != 0).sum().alias(f"moved_{p}"),
        ]
    for group in rows.group_by("group").agg(aggregates).iter_rows(named=True):
        for tallies in (overall, by_region.setdefault(group["group"], Tallies())):
            diff = tallies.diff
            diff.students += group["n"]
            tallies.gaining += group["gaining"]
            tallies.losing += group["losing"]
            tallies.total_fen += group["total"]
            for p in programs:
                if group[f"gained_{p}"]:
                    diff.gained[p] += group[f"gained_{p}"]
                if group[f"lost_{p}"]:
                    diff.lost[p] += group[f"lost_{p}"]
                if group[f"moved_{p}"]:
                    diff.delta_fen[p] += group[f"delta_{p}"]
    moves = (
        rows.filter(pl.col("level_before") != pl.col("level_after"))
        .group_by("group", "level_before", "level_after")
        .len()
    )
    for group, before, after, n in moves.iter_rows():
        for tallies in (overall, by_region[group]):
            tallies.diff.level_moves[(before, after)] += n
