"""What-if against the baseline: a draft rule set and the running one, on the same roster, facts and date.

Every student of the region is evaluated twice as of one date with the columnar path: once with the running
rule set (the baseline) and once with the draft. Both read the same roster, school and agency facts
(`columnar.facts_of_chunk`, the agency matches read once for the run), so the only difference left is the
rules: with no draft, or a draft identical to the running rules, nothing changes. Stored determinations are
not read (they may be stale or from another date), and nothing is written.

The answer: who gains and who loses money, level moves, programs gained and lost and the money delta by
program, for the whole scope and by region (the cities of the province, or the counties of a city), with
the first `keep` changing students for a report (`WhatIfResult.changes`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any, cast

import polars as pl
from sqlalchemy import ColumnElement
from sqlalchemy.orm import Session

from aidservice.engine import RuleSet
from aidservice.models import School, Student
from aidservice.services.actors import Actor, in_region, region_prefix
from aidservice.services.bulk import read_frame
from aidservice.services.context import Settings
from aidservice.services.determinations.columnar import BULK_SCHEMA, ROSTER, facts_of_chunk
from aidservice.services.determinations.evaluation_dates import redetermination_date, require_covered
from aidservice.services.determinations.matches import chunk_matches
from aidservice.services.determinations.records import Batch
from aidservice.services.determinations.runs import Context, Scope, yuan
from aidservice.services.determinations.whatif_rows import ComparisonTotals, Tallies, change_rows, tally_rows
from aidservice.services.errors import ValidationFailed

KEEP = 20
"""Changing students kept by default (the CLI prints them with masked ID numbers)."""

SCHEMA: dict[str, Any] = {**BULK_SCHEMA, "region_code": pl.Utf8}


@dataclass(slots=True)
class Change:
    """One student whose level, programs or amounts differ between the running rules and the draft."""

    pk: int
    student_id: str
    region_code: str
    level: tuple[str, str]  # (running, draft)
    gained: list[str]
    lost: list[str]
    delta_fen: dict[str, int]  # program: draft minus running, only the programs that differ
    total_delta_fen: int  # loans not counted

    def as_json(self) -> dict[str, Any]:
        return {
            "student_id": self.student_id,
            "pk": self.pk,
            "region_code": self.region_code,
            "level": list(self.level),
            "gained": self.gained,
            "lost": self.lost,
            "delta": {p: yuan(v) for p, v in sorted(self.delta_fen.items())},
            "total_delta": yuan(self.total_delta_fen),
        }


@dataclass(slots=True)
class WhatIfResult:
    """The comparison of a draft with the running rules over one region on one date."""

    region: str | None
    as_of: date
    running_version: str
    draft_version: str
    students: int = 0  # evaluated with the running rules
    skipped: int = 0  # roster rows the running rules cannot read
    overall: Tallies = field(default_factory=Tallies)
    by_region: dict[str, Tallies] = field(default_factory=dict)
    changes: list[Change] = field(default_factory=list)  # the first `keep` changing students

    @property
    def no_change(self) -> bool:
        return self.overall.diff.students == 0

    def totals(self) -> ComparisonTotals:
        return self.overall.totals()

    def regions(self) -> dict[str, ComparisonTotals]:
        return {code: tallies.totals() for code, tallies in sorted(self.by_region.items())}


def compare_with_running(
    session: Session,
    *,
    actor: Actor,
    settings: Settings,
    draft: RuleSet | None = None,
    region: str | None = None,
    as_of: date | None = None,
    chunk: int = 50_000,
    keep: int | None = KEEP,
    progress: Callable[[int], object] | None = None,
    sink: Callable[[pl.DataFrame], object] | None = None,
) -> WhatIfResult:
    """Evaluate every student of `region` with the running rules and with `draft` (default: the running rules,
    so no change) as of one date, and tally the differences (module docstring). Reads only; writes nothing.

    `keep`: how many changing students to keep in `changes` (None: all of them). `sink` receives each
    chunk's changing students as a frame (`whatif_rows.change_rows`: levels, totals and per-program amounts
    before and after), for a report of every changing student.
    """
    running = settings.rules
    draft = draft or running
    if region is not None and not (len(region) == 6 and region.isdigit()):
        raise ValidationFailed({"region": ["must be a 6-digit division code"]})
    day = redetermination_date(settings, running, as_of, dry_run=True)
    require_covered(draft, day)
    prefix = region_prefix(region) if region else None
    base_ctx, draft_ctx = (
        _context(session, rules, settings, day, prefix, actor) for rules in (running, draft)
    )
    result = WhatIfResult(region, day, running.version, draft.version)
    programs = _programs(running, draft)
    # one hash join for the run, shared by both sides (guardian statuses of either rule set)
    matches = chunk_matches(session, day, Scope(1, None), running.vocabulary, draft.vocabulary)
    after = 0
    while True:
        roster = _read_chunk(session, prefix, after, chunk)
        if roster.is_empty():
            break
        lo, hi = int(roster["pk"][0]), int(roster["pk"][-1])
        mine = matches.filter(pl.col("pk").is_between(lo, hi))
        base, skipped = _outcomes(base_ctx, roster, mine, programs)
        proposed, _skipped = _outcomes(draft_ctx, roster, mine, programs)
        result.students += base.height
        result.skipped += skipped
        changed = change_rows(_changed(base, proposed, programs), programs, prefix)
        tally_rows(result.overall, result.by_region, changed, programs)
        _keep_examples(result, changed, programs, keep)
        if sink is not None and not changed.is_empty():
            sink(changed)
        after = hi
        if progress is not None:
            progress(roster.height)
    return result


def _context(
    session: Session, rules: RuleSet, settings: Settings, day: date, prefix: str | None, actor: Actor
) -> Context:
    batch = Batch(settings.school_year, day, rules.version, "whatif")
    return Context(rules, batch, prefix, True, actor, session.get_bind().dialect.name)


def _programs(running: RuleSet, draft: RuleSet) -> dict[str, bool]:
    """Every program of either rule set: whether its money counts in a student's total (loans do not)."""
    kinds = {p.id: p.kind for p in running.rules.programs}
    kinds.update({p.id: p.kind for p in draft.rules.programs})
    return {pid: kind != "loan" for pid, kind in sorted(kinds.items())}


def _read_chunk(session: Session, prefix: str | None, after: int, limit: int) -> pl.DataFrame:
    query = ROSTER.add_columns(School.region_code).where(Student.id > after)
    if prefix:
        query = query.where(in_region(cast(ColumnElement[str], School.region_code), prefix))
    return read_frame(session, query.order_by(Student.id).limit(limit), SCHEMA)


def _outcomes(
    ctx: Context, roster: pl.DataFrame, matches: pl.DataFrame, programs: Mapping[str, bool]
) -> tuple[pl.DataFrame, int]:
    """Level and awards of each readable student under `ctx.rules`: pk, student_id, region_code, level,
    has_<p> and fen_<p> for every program of either rule set (absent from these rules: not awarded)."""
    facts, skipped = facts_of_chunk(ctx, roster, matches)
    inputs = [c for c in facts.columns if c in ctx.rules.facts]
    out = ctx.rules.evaluate_frame(facts.select(["pk", *inputs]), ctx.batch.as_of)
    own = {p.id for p in ctx.rules.rules.programs}
    columns = [pl.col("pk"), pl.col("level").cast(pl.Utf8)]
    for p in programs:
        if p in own:
            columns += [pl.col(f"has_{p}").fill_null(False), pl.col(f"fen_{p}").cast(pl.Int64)]
        else:
            columns += [pl.lit(False).alias(f"has_{p}"), pl.lit(None, dtype=pl.Int64).alias(f"fen_{p}")]
    out = out.select(columns)
    keys = facts.select("pk", "student_id", "school_code", "region_code")
    return keys.join(out, on="pk", how="left"), skipped


def _changed(base: pl.DataFrame, draft: pl.DataFrame, programs: Mapping[str, bool]) -> pl.DataFrame:
    """Students whose level, programs or amounts differ; a student only one side can read counts as `none`
    with no award on the other."""
    renamed = draft.rename({c: f"{c}_draft" for c in draft.columns if c != "pk"})
    both = base.join(renamed, on="pk", how="full", coalesce=True)
    both = both.with_columns(
        pl.coalesce("student_id", "student_id_draft").alias("student_id"),
        pl.coalesce("region_code", "region_code_draft").alias("region_code"),
        pl.coalesce("school_code", "school_code_draft").alias("school_code"),
        pl.col("level").fill_null("none"),
        pl.col("level_draft").fill_null("none"),
        *(pl.col(f"has_{p}{side}").fill_null(False) for p in programs for side in ("", "_draft")),
    )
    differs = pl.col("level") != pl.col("level_draft")
    for p in programs:
        has, has_d, fen, fen_d = f"has_{p}", f"has_{p}_draft", f"fen_{p}", f"fen_{p}_draft"
        differs |= pl.col(has) != pl.col(has_d)
        differs |= pl.col(has) & pl.col(fen).ne_missing(pl.col(fen_d))
    return both.filter(differs).sort("pk")


def _keep_examples(
    result: WhatIfResult, rows: pl.DataFrame, programs: Mapping[str, bool], keep: int | None
) -> None:
    room = rows.height if keep is None else max(keep - len(result.changes), 0)
    for row in rows.head(room).iter_rows(named=True):
        result.changes.append(_change_of(row, programs))


def _change_of(row: Mapping[str, Any], programs: Mapping[str, bool]) -> Change:
    delta = {p: row[f"delta_{p}"] for p in programs if row[f"delta_{p}"]}
    return Change(
        pk=int(row["pk"]),
        student_id=row["student_id"],
        region_code=row["region_code"],
        level=(row["level_before"], row["level_after"]),
        gained=[p for p in programs if row[f"gained_{p}"]],
        lost=[p for p in programs if row[f"lost_{p}"]],
        delta_fen=delta,
        total_delta_fen=int(row["total_delta"]),
    )
