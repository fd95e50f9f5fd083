"""One chunk of students, columnar: read, evaluate, compare with the current determinations, store or diff.

Per chunk (a key range of a region run, or a list of students from a large feed batch):

1. read set-based: students joined with schools (one query) and their current determinations;
2. evaluate the whole chunk with the columnar path (`columnar`) and compare each outcome hash with the
   current determination's;
3. for the students whose outcome differs, explain each distinct fact combination with the per-record path
   and check that it agrees with the columnar result (`writer`);
4. under the change-log locks: students someone else re-determined since the run read the change-log
   head are done again (a region run: the per-student path with fresh facts; a set: the columnar path
   again); the rest are stored in bulk superseding their current determinations, audited once (`writer`).
"""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from aidservice.engine import RuleSet
from aidservice.models import Determination, Student
from aidservice.services.actors import Actor
from aidservice.services.bulk import read_frame
from aidservice.services.determinations.columnar import BULK_SCHEMA, ROSTER, evaluate_chunk, facts_of_chunk
from aidservice.services.determinations.diff import diff_chunk
from aidservice.services.determinations.facts_assembly import assemble
from aidservice.services.determinations.matches import chunk_matches
from aidservice.services.determinations.records import Batch, Candidate, Previous, Renderer, Stored
from aidservice.services.determinations.runs import Context, RegionResult, Scope
from aidservice.services.determinations.store import (
    audit_stored,
    current_previous,
    lock_changes,
    store,
    to_store,
    with_award_keys,
)
from aidservice.services.determinations.writer import store_todo


def process_chunk(
    session: Session,
    ctx: Context,
    roster: pl.DataFrame,
    matches: pl.DataFrame,
    seen_seq: int,
    result: RegionResult,
) -> None:
    """Evaluate and compare one chunk, then store (or, in a dry run, diff) what differs.

    `matches` and `seen_seq` were read once for the run (the change-log head first): a student
    re-determined since then by anyone else is redone under the lock with fresh facts.
    """
    lo, hi = int(roster["pk"][0]), int(roster["pk"][-1])
    mine = matches.filter(pl.col("pk").is_between(lo, hi))
    todo, evaluated, skipped = _compare(session, ctx, roster, Scope(lo, hi), mine)
    result.students += evaluated
    result.skipped += skipped
    if ctx.dry_run:
        diff_chunk(session, ctx, todo, result.diff)  # type: ignore[arg-type]
        return
    _store_chunk(session, ctx, todo, seen_seq, result)


def _compare(
    session: Session, ctx: Context, roster: pl.DataFrame, scope: Scope, matches: pl.DataFrame
) -> tuple[pl.DataFrame, int, int]:
    """Facts, columnar evaluation and the current determinations: (students whose outcome differs, evaluated,
    skipped)."""
    facts, skipped = facts_of_chunk(ctx, roster, matches)
    frame = evaluate_chunk(ctx, facts)
    frame = frame.join(_previous_frame(session, ctx, scope), on="pk", how="left").sort("pk")
    todo = frame.filter(pl.col("prev_hash").is_null() | (pl.col("prev_hash") != pl.col("outcome_hash")))
    return todo, frame.height, skipped


def redetermine_set(
    session: Session,
    *,
    actor: Actor,
    rules: RuleSet,
    batch: Batch,
    student_pks: Sequence[int],
    request_id: str | None = None,
    matches: pl.DataFrame | None = None,
    seen_seq: int | None = None,
    audited: bool = True,
) -> tuple[int, Stored]:
    """The vectorised path for a set of students (a large feed batch).

    Without `seen_seq` the caller holds the change-log locks, and `matches` are the students' agency matches if
    it read them under those locks (`facts_changed`). With `seen_seq` (the change log's head before the caller
    read anything) the facts are read and evaluated without the locks, so concurrent batches overlap there; the
    locks are taken to store, and the students someone re-determined meanwhile are read and evaluated again
    under them (optimistic: the change log says who, as for a region run's chunks). `audited`: False leaves the
    audit event to the caller (`determinations.redetermine_students` audits its chunks once).
    """
    ctx = Context(rules, batch, None, False, actor, session.get_bind().dialect.name)
    scope = Scope(pks=tuple(sorted(set(student_pks))), array=ctx.backend == "postgresql")
    roster = _roster_frame(session, scope)
    if roster.is_empty():
        return 0, Stored()
    if matches is None:
        matches = chunk_matches(session, batch.as_of, scope, rules.vocabulary)
    todo, evaluated, _skipped = _compare(session, ctx, roster, scope, matches)
    if seen_seq is not None:
        lock_changes(session)
        stale = _changed_since(session, seen_seq, scope.pks, batch.school_year)
        if stale:
            again = Scope(pks=tuple(stale), array=scope.array)
            redone, _evaluated, _skipped = _compare(
                session,
                ctx,
                _roster_frame(session, again),
                again,
                chunk_matches(session, batch.as_of, again, rules.vocabulary),
            )
            todo = pl.concat([todo.filter(~pl.col("pk").is_in(stale)), redone], how="vertical_relaxed").sort(
                "pk"
            )
    return evaluated, store_todo(session, ctx, todo, evaluated, request_id, audited)


def _roster_frame(session: Session, scope: Scope) -> pl.DataFrame:
    return read_frame(session, ROSTER.where(scope.on(Student.id)).order_by(Student.id), BULK_SCHEMA)


def _changed_since(session: Session, seen_seq: int, pks: Sequence[int], school_year: str) -> list[int]:
    """Students of the set that got a determination after `seen_seq`, read by seq: only the newer changes.

    Not `_redetermined_since`: a batch's students are scattered over the whole key range, which that query
    (made for a region run's contiguous chunks) would read in full.
    """
    newer = session.execute(
        select(Determination.student_pk).where(
            Determination.seq > seen_seq, Determination.school_year == school_year
        )
    ).scalars()
    return sorted(set(newer) & set(pks))


def _previous_frame(session: Session, ctx: Context, scope: Scope) -> pl.DataFrame:
    """Current determinations of the scope's students: id, level, outcome hash."""
    query = select(
        Determination.student_pk, Determination.id, Determination.level, Determination.outcome_hash
    ).where(
        scope.on(Determination.student_pk),
        Determination.school_year == ctx.batch.school_year,
        Determination.current.is_(True),
    )
    schema = {"pk": pl.Int64, "prev_id": pl.Int64, "prev_level": pl.Utf8, "prev_hash": pl.Utf8}
    return read_frame(session, query, schema)


def _store_chunk(
    session: Session, ctx: Context, todo: pl.DataFrame, seen_seq: int, result: RegionResult
) -> None:
    """Under the locks: redo students someone else re-determined meanwhile, then store the rest in bulk."""
    lock_changes(session)
    stale = (
        _redetermined_since(session, seen_seq, todo["pk"].to_list(), ctx.batch.school_year)
        if todo.height
        else set()
    )
    if stale:
        _redo_stale(session, ctx, sorted(stale), result)
        todo = todo.filter(~pl.col("pk").is_in(sorted(stale)))
    stored = store_todo(session, ctx, todo, todo.height, None)
    result.stored += len(stored.seqs)
    result.changed += stored.changed


def _redetermined_since(session: Session, seen_seq: int, pks: Sequence[int], school_year: str) -> set[int]:
    """Students of this chunk that got a determination after the run read their facts.

    Grouped over the chunk's key range (the student index), never a scan of every newer change:
    the run's own earlier chunks add many of those.
    """
    if not pks:
        return set()
    rows = (
        session.execute(
            select(Determination.student_pk)
            .where(
                Determination.student_pk.between(min(pks), max(pks)), Determination.school_year == school_year
            )
            .group_by(Determination.student_pk)
            .having(func.max(Determination.seq) > seen_seq)
        )
        .scalars()
        .all()
    )
    wanted = set(pks)
    return {pk for pk in rows if pk in wanted}


def _redo_stale(session: Session, ctx: Context, pks: Sequence[int], result: RegionResult) -> None:
    """The per-student path, under the locks already held, for students whose facts changed meanwhile."""
    students = assemble(session, pks, ctx.batch.as_of, ctx.rules)
    renderer, evaluate = Renderer(), ctx.rules.compiled(ctx.batch.as_of)
    candidates: list[Candidate] = [renderer.candidate(s, evaluate(s.values)) for s in students]
    previous: dict[int, Previous] = current_previous(session, pks, ctx.batch.school_year)
    todo = to_store(candidates, previous)
    previous = with_award_keys(session, previous, [c.student.pk for c in todo])
    stored = store(session, todo, previous, ctx.batch)
    result.stored += len(stored.seqs)
    result.changed += stored.changed
    audit_stored(
        session, actor=ctx.actor, batch=ctx.batch, stored=stored, evaluated=len(students), request_id=None
    )
