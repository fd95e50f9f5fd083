"""Re-determining a set of students now (a roster change, a feed batch, an application's facts).

Few students go student by student through the compiled per-record path; from VECTOR_MIN students on
the columnar path (`chunks.redetermine_set`) evaluates them as one frame; a set larger than VECTOR_MAX
goes through it VECTOR_CHUNK students at a time under the locks taken once. Either way the locks are
taken in the order `store` describes, and what is stored is the same.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from aidservice.metrics import count_redetermination
from aidservice.services.actors import Actor
from aidservice.services.context import Settings
from aidservice.services.determinations.facts_assembly import assemble
from aidservice.services.determinations.records import Batch, Renderer, Stored
from aidservice.services.determinations.store import (
    audit_stored,
    current_previous,
    lock_changes,
    publish,
    store,
    to_store,
    with_award_keys,
)

if TYPE_CHECKING:
    from aidservice.engine import RuleSet

VECTOR_MIN = 200  # from this many students on, the columnar path (one frame) is cheaper than per student


VECTOR_MAX = 30_000  # SQLite's IN lists stop here; larger sets go through the columnar path in chunks


VECTOR_CHUNK = 5_000  # students per columnar frame in a larger set: each frame costs memory while it lives


@dataclass(frozen=True, slots=True)
class Redetermined:
    """How many students were evaluated, how many changed level or awards, how many got a new determination."""

    evaluated: int
    changed: int
    stored: int = 0


def redetermine_students(
    session: Session,
    *,
    actor: Actor,
    settings: Settings,
    student_pks: Iterable[int],
    cause: str,
    as_of: date | None = None,
    request_id: str | None = None,
    declared: Mapping[int, Mapping[str, object]] | None = None,
    matches: Any = None,
    seen_seq: int | None = None,
) -> Redetermined:
    """Re-evaluate these students now and store what changed; the caller commits.

    Facts are read set-based (students+schools, guardians, agency records: one query each) after
    the locks are taken, so a concurrent batch is either wholly seen or waited for. From
    VECTOR_MIN students on, the columnar path evaluates them as one frame (the per-record path
    explains each distinct fact combination). `declared` (student pk -> application facts) plugs in
    declared facts. `matches`: their agency matches as a frame, if the caller read them under the locks.
    `seen_seq`: the change log's head before the caller read anything; a large set is then evaluated before
    the locks are taken and checked against the change log under them (`redetermine_set`). A set larger than
    VECTOR_MAX (without `declared`, `matches` or `seen_seq`) is evaluated VECTOR_CHUNK students at a time
    under the locks, with one audit event for all of it (`_redetermine_chunked`).
    """
    pks = sorted(set(student_pks))
    if not pks:
        return Redetermined(0, 0)
    rules = settings.rules
    batch = Batch(settings.school_year, as_of or settings.default_as_of(), rules.version, cause[:160])
    publish(session, rules)
    if declared is None and matches is None and seen_seq is None and len(pks) > VECTOR_MAX:
        return _counted(
            cause,
            _redetermine_chunked(
                session, actor=actor, rules=rules, batch=batch, pks=pks, request_id=request_id
            ),
        )
    if declared is None and VECTOR_MIN <= len(pks) <= VECTOR_MAX:
        from aidservice.services.determinations.chunks import (
            redetermine_set,  # polars (heavy) loads only when a large set comes
        )

        if seen_seq is None:
            lock_changes(session)
        evaluated, stored = redetermine_set(
            session,
            actor=actor,
            rules=rules,
            batch=batch,
            student_pks=pks,
            request_id=request_id,
            matches=matches,
            seen_seq=seen_seq,
        )
        return _counted(cause, Redetermined(evaluated, stored.changed, len(stored.seqs)))
    lock_changes(session)
    students = assemble(session, pks, batch.as_of, rules, declared)
    renderer = Renderer()
    evaluate = rules.compiled(batch.as_of)
    candidates = [renderer.candidate(s, evaluate(s.values)) for s in students]
    previous = current_previous(session, [s.pk for s in students], batch.school_year)
    todo = to_store(candidates, previous)
    previous = with_award_keys(session, previous, [c.student.pk for c in todo])
    stored = store(session, todo, previous, batch)
    single = (students[0].student_id, todo[0]) if len(students) == 1 and todo else None
    audit_stored(
        session,
        actor=actor,
        batch=batch,
        stored=stored,
        evaluated=len(students),
        request_id=request_id,
        single=single,
    )
    return _counted(cause, Redetermined(len(students), stored.changed, len(stored.seqs)))


def _counted(cause: str, result: Redetermined) -> Redetermined:
    """Count a run in the metrics (aidservice.metrics: evaluated and changed, by the cause's kind)."""
    count_redetermination(cause, result.evaluated, result.changed)
    return result


def _redetermine_chunked(
    session: Session,
    *,
    actor: Actor,
    rules: RuleSet,
    batch: Batch,
    pks: Sequence[int],
    request_id: str | None,
) -> Redetermined:
    """The columnar path VECTOR_CHUNK students at a time, under the locks taken once; one audit event for the
    set, whose seqs are contiguous (the lock is held throughout), so its digest is the one a single batch has."""
    from aidservice.services.determinations.chunks import (
        redetermine_set,  # polars (heavy) loads only when a large set comes
    )

    lock_changes(session)
    total, evaluated = Stored(), 0
    for start in range(0, len(pks), VECTOR_CHUNK):
        count, stored = redetermine_set(
            session,
            actor=actor,
            rules=rules,
            batch=batch,
            audited=False,
            student_pks=pks[start : start + VECTOR_CHUNK],
            request_id=request_id,
        )
        evaluated += count
        total.seqs.extend(stored.seqs)
        total.hashes.extend(stored.hashes)
        total.changed += stored.changed
    audit_stored(session, actor=actor, batch=batch, stored=total, evaluated=evaluated, request_id=request_id)
    return Redetermined(evaluated, total.changed, len(total.seqs))
