"""A dry run's diff: who would gain and lose what, level moves and the money delta by program."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import polars as pl
from sqlalchemy import select
from sqlalchemy.orm import Session

from aidservice.models import Determination, Student
from aidservice.services.bulk import where_in
from aidservice.services.determinations.runs import Context, Diff, yuan

EXAMPLES = 20


def diff_chunk(session: Session, ctx: Context, todo: pl.DataFrame, diff: Diff) -> None:
    """Who would gain and lose what: level moves, programs, money by program (the current one vs the new)."""
    if todo.height == 0:
        return
    programs = sorted(p.id for p in ctx.rules.rules.programs)
    prev_ids = [int(i) for i in todo["prev_id"].drop_nulls().to_list()]
    before = _previous_awards(session, prev_ids)
    for row in todo.iter_rows(named=True):
        old = {a["program"]: _fen(a["amount"]) for a in before.get(row["prev_id"], [])}
        new = {p: row[f"fen_{p}"] for p in programs if row[f"has_{p}"]}
        old_level = row["prev_level"] or "none"
        if old_level == row["level"] and old.keys() == new.keys() and all(old[p] == new[p] for p in new):
            diff.facts_only += 1
            continue
        _tally(diff, row, old_level, old, new, ctx.rules.rules.programs)


def _previous_awards(session: Session, prev_ids: Sequence[int]) -> dict[int, list[dict[str, Any]]]:
    """Stored awards of the determinations about to be superseded (only those: JSON is costly to read)."""
    found: dict[int, list[dict[str, Any]]] = {}
    for condition in where_in(session, Determination.id, prev_ids):
        rows = session.execute(select(Determination.id, Determination.awards).where(condition))
        found.update((det_id, awards) for det_id, awards in rows)
    return found


def _tally(
    diff: Diff,
    row: Mapping[str, Any],
    old_level: str,
    old: Mapping[str, int | None],
    new: Mapping[str, int | None],
    programs: Iterable[Any],
) -> None:
    counted = {p.id for p in programs if p.kind != "loan"}
    diff.students += 1
    if old_level != row["level"]:
        diff.level_moves[(old_level, row["level"])] += 1
    gained, lost = sorted(new.keys() - old.keys()), sorted(old.keys() - new.keys())
    diff.gained.update(gained)
    diff.lost.update(lost)
    delta = 0
    for program in new.keys() | old.keys():
        change = (new.get(program) or 0) - (old.get(program) or 0)
        if change:
            diff.delta_fen[program] += change
            delta += change if program in counted else 0
    if len(diff.examples) < EXAMPLES:
        diff.examples.append(
            {
                "student_id": row["student_id"],
                "pk": row["pk"],
                "level": [old_level, row["level"]],
                "gained": gained,
                "lost": lost,
                "total_delta": yuan(delta),
            }
        )


def masked_numbers(session: Session, pks: Sequence[int]) -> dict[int, str]:
    """Masked ID numbers of the example students, for the dry-run report."""
    if not pks:
        return {}
    found = {}
    for condition in where_in(session, Student.id, pks):
        found.update(
            {
                pk: masked
                for pk, masked in session.execute(select(Student.id, Student.id_mask).where(condition))
            }
        )
    return found


def _fen(amount: str | None) -> int | None:
    if amount is None:
        return None
    whole, _, cents = amount.partition(".")
    sign = -1 if whole.startswith("-") else 1
    return sign * (abs(int(whole)) * 100 + int((cents + "00")[:2]))
