"""Determinations: each student's level and awards for a school year, stored immutably, superseded never updated.

A new determination is stored only when its level, awards (program and amount) or facts differ
from the student's current one (`outcome_hash`), so re-running changes nothing when nothing changed.

Lock order: the writers' mutex ('writers'), then the change log ('changes'), both `counters` rows
taken FOR UPDATE and held until the caller commits; the audit chain head ('audit') last, at commit
(`services.audit` appends queued events then). Every writer of determinations takes them in this
order, so writers queue instead of deadlocking and `seq` grows in commit order: a reader paging by
seq never skips a late commit.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from aidservice.models import Counter, Determination
from aidservice.models import RuleSet as RuleSetRow
from aidservice.services import audit
from aidservice.services.actors import Actor
from aidservice.services.bulk import backend, insert_many, where_in
from aidservice.services.context import Settings
from aidservice.services.evaluation_dates import is_forced, record_forced, redetermination_date
from aidservice.services.facts_assembly import StudentFacts, assemble, snapshot_json
from aidservice.services.rule_sets import publish_current

if TYPE_CHECKING:
    from aidservice.engine import Award, Reason, Result, RuleSet
    from aidservice.services.redetermine_region import RegionResult

VECTOR_MIN = 200  # from this many students on, the columnar path (one frame) is cheaper than per student
VECTOR_MAX = 30_000  # SQLite's IN lists stop here; larger sets go through the columnar path in chunks
VECTOR_CHUNK = 5_000  # students per columnar frame in a larger set: each frame costs memory while it lives
AwardKey = tuple[tuple[str, str | None], ...]
"""(program, amount as "1250.00" or None), sorted: what `changed` compares."""


@dataclass(frozen=True, slots=True)
class Redetermined:
    """How many students were evaluated, how many changed level or awards, how many got a new determination."""

    evaluated: int
    changed: int
    stored: int = 0


@dataclass(slots=True)
class Candidate:
    """A determination about to be stored unless it reproduces the current one."""

    student: StudentFacts
    level: str
    awards: list[dict[str, Any]]
    award_key: AwardKey
    total_fen: int
    explanation: dict[str, Any]
    awards_text: str
    explanation_text: str
    facts_text: str
    outcome_hash: str


@dataclass(frozen=True, slots=True)
class Previous:
    """The current determination a candidate would supersede (its award key is read only when needed)."""

    id: int
    level: str
    outcome_hash: str | None
    award_key: AwardKey | None = None


@dataclass(frozen=True, slots=True)
class Batch:
    """What is stored together: the evaluation context and the cause."""

    school_year: str
    as_of: date
    rule_set_version: str
    cause: str


@dataclass(slots=True)
class Stored:
    """Determinations written in one call: their sequence numbers and content hashes, in seq order."""

    seqs: list[int] = field(default_factory=list)
    hashes: list[str] = field(default_factory=list)
    changed: int = 0

    @property
    def digest(self) -> str:
        """One hash over the batch's content hashes, for its audit event."""
        return hashlib.sha256("".join(self.hashes).encode("ascii")).hexdigest()


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _canonical(value: Any) -> str:
    return audit.canonical(value)


class Renderer:
    """Awards and explanations as stored JSON, cached: most students share a handful of award lists."""

    def __init__(self) -> None:
        self._awards: dict[tuple[Award, ...], tuple[list[dict[str, Any]], str, AwardKey, str]] = {}
        self._explanations: dict[tuple[tuple[Reason, ...], tuple[str, ...]], tuple[dict[str, Any], str]] = {}

    def awards(self, awards: Sequence[Award]) -> tuple[list[dict[str, Any]], str, AwardKey, str]:
        """(stored awards, their canonical text, the award key, the key's canonical text)."""
        key = tuple(awards)
        hit = self._awards.get(key)
        if hit is None:
            stored = [_award_json(a) for a in awards]
            award_key = tuple(sorted((a["program"], a["amount"]) for a in stored))
            hit = (stored, _canonical(stored), award_key, _canonical([list(k) for k in award_key]))
            self._awards[key] = hit
        return hit

    def explanation(self, reasons: Sequence[Reason], missing: Sequence[str]) -> tuple[dict[str, Any], str]:
        """(stored explanation {reasons, missing}, its canonical text)."""
        key = (tuple(reasons), tuple(missing))
        hit = self._explanations.get(key)
        if hit is None:
            value = {"reasons": [_reason_json(r) for r in reasons], "missing": list(missing)}
            hit = (value, _canonical(value))
            self._explanations[key] = hit
        return hit

    def candidate(self, student: StudentFacts, result: Result) -> Candidate:
        """The determination this evaluation result would store."""
        awards, awards_text, award_key, key_text = self.awards(result.awards)
        explanation, explanation_text = self.explanation(result.reasons, result.missing)
        facts_text = snapshot_json(student.snapshot)
        return Candidate(
            student,
            result.level,
            awards,
            award_key,
            result.total_fen,
            explanation,
            awards_text,
            explanation_text,
            facts_text,
            outcome_hash(result.level, key_text, facts_text),
        )


def _award_json(award: Award) -> dict[str, Any]:
    amount = award.amount
    return {
        "program": award.program,
        "name": award.name,
        "kind": award.kind,
        "amount": None if amount is None else str(amount),
        "basis": award.basis,
        "status": award.status,
        "missing": list(award.missing),
    }


def _reason_json(reason: Reason) -> dict[str, Any]:
    return {
        "clause": reason.clause,
        "level": reason.level,
        "label": reason.label,
        "status": reason.status,
        "basis": reason.basis,
    }


def outcome_hash(level: str, award_key_text: str, facts_text: str) -> str:
    """sha256 of canonical {awards: [[program, amount]...], facts, level}: what decides whether to store."""
    return sha256(f'{{"awards":{award_key_text},"facts":{facts_text},"level":{json.dumps(level)}}}')


def content_text(candidate: Candidate, batch: Batch) -> str:
    """Canonical JSON of the determination's content, built from the parts' canonical texts.

    Equal to `canonical(content(row))` of the stored row (a test holds them equal), so anyone can
    recompute `content_hash` from what was stored.
    """
    return (
        f'{{"as_of":"{batch.as_of.isoformat()}","awards":{candidate.awards_text},'
        f'"explanation":{candidate.explanation_text},"facts":{candidate.facts_text},'
        f'"level":{json.dumps(candidate.level)},"rule_set_version":{json.dumps(batch.rule_set_version)},'
        f'"school_year":{json.dumps(batch.school_year)},"student_pk":{candidate.student.pk},'
        f'"total_fen":{candidate.total_fen}}}'
    )


def content(row: Determination) -> dict[str, Any]:
    """What `content_hash` covers, read back from a stored determination."""
    return {
        "as_of": row.as_of.isoformat(),
        "awards": row.awards,
        "explanation": row.explanation,
        "facts": row.facts,
        "level": row.level,
        "rule_set_version": row.rule_set_version,
        "school_year": row.school_year,
        "student_pk": row.student_pk,
        "total_fen": row.total_fen,
    }


def content_hash_of(row: Determination) -> str:
    """Recompute a stored determination's content hash (it must equal `row.content_hash`)."""
    return sha256(_canonical(content(row)))


def award_key_of(awards: Iterable[Mapping[str, Any]]) -> AwardKey:
    """The award key of stored awards."""
    return tuple(sorted((a["program"], a["amount"]) for a in awards))


# ------------------------------------------------------------------------------------------ reading


def current_determination(session: Session, student_pk: int, school_year: str) -> Determination | None:
    """The student's current determination for the school year, if any."""
    return session.execute(
        select(Determination).where(
            Determination.student_pk == student_pk,
            Determination.school_year == school_year,
            Determination.current.is_(True),
        )
    ).scalar_one_or_none()


def current_previous(session: Session, student_pks: Sequence[int], school_year: str) -> dict[int, Previous]:
    """The current determinations of these students: what new candidates compare with and supersede."""
    found: dict[int, Previous] = {}
    columns = (Determination.id, Determination.student_pk, Determination.level, Determination.outcome_hash)
    for condition in where_in(session, Determination.student_pk, student_pks):
        query = select(*columns).where(
            condition,
            Determination.school_year == school_year,
            Determination.current.is_(True),
        )
        for det_id, pk, level, digest in session.execute(query).all():
            found[pk] = Previous(det_id, level, digest)
    return found


def with_award_keys(
    session: Session, previous: Mapping[int, Previous], student_pks: Iterable[int]
) -> dict[int, Previous]:
    """`previous` with the award keys of these students' determinations read (stored JSON: read only these)."""
    wanted = {previous[pk].id: pk for pk in student_pks if pk in previous}
    out = dict(previous)
    for condition in where_in(session, Determination.id, list(wanted)):
        for det_id, awards in session.execute(
            select(Determination.id, Determination.awards).where(condition)
        ):
            before = previous[wanted[det_id]]
            out[wanted[det_id]] = Previous(before.id, before.level, before.outcome_hash, award_key_of(awards))
    return out


# ------------------------------------------------------------------------------------------ writing


def lock(session: Session, name: str) -> Counter:
    """A counter row under its row lock; a concurrent first use waits for the other's row instead of failing."""
    exists = session.execute(select(Counter.name).where(Counter.name == name)).first() is not None
    if not exists:
        try:
            with session.begin_nested():
                session.add(Counter(name=name, value=0, last_hash=audit.GENESIS if name == "audit" else ""))
        except IntegrityError:
            pass  # another transaction created it first; taking the lock below waits for it
    return audit.lock_counter(session, name)


def lock_changes(session: Session) -> None:
    """Take the writers' mutex, then the change log, in the one order every writer uses."""
    lock(session, "writers")
    lock(session, "changes")


def to_store(candidates: Iterable[Candidate], previous: Mapping[int, Previous]) -> list[Candidate]:
    """Candidates that differ from the current determination (or have none)."""
    out = []
    for candidate in candidates:
        before = previous.get(candidate.student.pk)
        if before is None or before.outcome_hash != candidate.outcome_hash:
            out.append(candidate)
    return out


def is_changed(candidate: Candidate, before: Previous | None) -> bool:
    """Level or awards differ from the superseded determination (a first determination is a change)."""
    return before is None or before.level != candidate.level or before.award_key != candidate.award_key


def determination_rows(
    todo: Sequence[Candidate],
    previous: Mapping[int, Previous],
    batch: Batch,
    first_seq: int,
    stored: Stored,
    *,
    as_text: bool = False,
) -> list[dict[str, Any]]:
    """Rows for the new determinations, with seq and content hash; records them in `stored`.

    `as_text`: JSON columns as their canonical texts (for COPY) instead of objects.
    """
    now = datetime.now(UTC)
    rows = []
    for offset, candidate in enumerate(todo):
        before = previous.get(candidate.student.pk)
        changed = is_changed(candidate, before)
        digest = sha256(content_text(candidate, batch))
        seq = first_seq + offset
        stored.seqs.append(seq)
        stored.hashes.append(digest)
        stored.changed += changed
        rows.append(
            {
                "seq": seq,
                "student_pk": candidate.student.pk,
                "school_year": batch.school_year,
                "as_of": batch.as_of,
                "rule_set_version": batch.rule_set_version,
                "level": candidate.level,
                "awards": candidate.awards_text if as_text else candidate.awards,
                "total_fen": candidate.total_fen,
                "facts": candidate.facts_text if as_text else candidate.student.snapshot,
                "explanation": candidate.explanation_text if as_text else candidate.explanation,
                "changed": changed,
                "current": True,
                "supersedes": None if before is None else before.id,
                "cause": batch.cause,
                "created_at": now,
                "content_hash": digest,
                "outcome_hash": candidate.outcome_hash,
            }
        )
    return rows


def take_seqs(session: Session, count: int) -> int:
    """Reserve `count` change-log numbers under the lock; returns the first."""
    counter = lock(session, "changes")
    first = counter.value + 1
    counter.value = counter.value + count
    session.flush()
    return first


def retire(session: Session, determination_ids: Sequence[int]) -> None:
    """Mark superseded determinations not current (the only change ever made to a stored determination)."""
    table = Determination.__table__
    for condition in where_in(session, table.c.id, determination_ids):
        session.execute(update(table).where(condition).values(current=False))
    retired = set(determination_ids)
    for obj in list(session.identity_map.values()):  # loaded copies must not keep saying current
        if isinstance(obj, Determination) and obj.id in retired:
            session.expire(obj, ["current"])


def insert_rows(session: Session, rows: list[dict[str, Any]]) -> None:
    """Bulk insert: COPY on PostgreSQL (JSON columns as text), executemany through the model elsewhere."""
    insert_many(session, Determination, rows)


def store(
    session: Session, todo: Sequence[Candidate], previous: Mapping[int, Previous], batch: Batch
) -> Stored:
    """Supersede the current determinations of `todo` and insert the new ones, numbered in commit order."""
    stored = Stored()
    if not todo:
        return stored
    first = take_seqs(session, len(todo))
    retire(session, [previous[c.student.pk].id for c in todo if c.student.pk in previous])
    as_text = backend(session) == "postgresql"
    insert_rows(session, determination_rows(todo, previous, batch, first, stored, as_text=as_text))
    return stored


def audit_stored(
    session: Session,
    *,
    actor: Actor,
    batch: Batch,
    stored: Stored,
    evaluated: int,
    request_id: str | None,
    single: tuple[str, Candidate] | None = None,
) -> None:
    """One event for the batch (count and digest over content hashes); one more when it is one student."""
    if not stored.seqs:
        return
    audit.record(
        session,
        actor=actor,
        action="determinations.stored",
        subject=f"determinations:{batch.cause}"[:160],
        summary={
            "count": len(stored.seqs),
            "changed": stored.changed,
            "evaluated": evaluated,
            "first_seq": stored.seqs[0],
            "last_seq": stored.seqs[-1],
            "digest": stored.digest,
            "school_year": batch.school_year,
            "as_of": batch.as_of.isoformat(),
            "rule_set_version": batch.rule_set_version,
        },
        request_id=request_id,
    )
    if single is not None:
        student_id, candidate = single
        audit.record(
            session,
            actor=actor,
            action="determination.stored",
            subject=f"student:{student_id}",
            summary={
                "seq": stored.seqs[0],
                "level": candidate.level,
                "changed": bool(stored.changed),
                "content_hash": stored.hashes[0],
                "cause": batch.cause,
            },
            request_id=request_id,
        )


def publish(session: Session, rules: RuleSet) -> None:
    """Make sure the rule set a determination names is stored (its version is a foreign key).

    Checked with a key-only query first: loading the stored files on every batch would cost more.
    """
    stored = session.execute(select(RuleSetRow.version).where(RuleSetRow.version == rules.version)).first()
    if stored is None:
        publish_current(session, rules, rules.rules.files)


# ------------------------------------------------------------------------------------------ use cases


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
        return _redetermine_chunked(
            session, actor=actor, rules=rules, batch=batch, pks=pks, request_id=request_id
        )
    if declared is None and VECTOR_MIN <= len(pks) <= VECTOR_MAX:
        from aidservice.services.redetermine_region import redetermine_set

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
        return Redetermined(evaluated, stored.changed, len(stored.seqs))
    lock_changes(session)
    students = assemble(session, pks, batch.as_of, rules.facts, declared)
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
    return Redetermined(len(students), stored.changed, len(stored.seqs))


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
    # imported here: polars loads when a large set comes (and redetermine_region imports this module)
    from aidservice.services.redetermine_region import redetermine_set

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


def redetermine_region(
    session: Session,
    *,
    actor: Actor,
    settings: Settings,
    region: str | None = None,
    as_of: date | None = None,
    rules: RuleSet | None = None,
    dry_run: bool = False,
    job_key: str | None = None,
    chunk: int = 50_000,
    progress: Callable[[int], None] | None = None,
    checkpoint: Callable[[], None] | None = None,
    force: bool = False,
) -> RegionResult:
    """Re-determine every student of a region (default: the province) with the columnar path; see that module.

    The date is checked first (`evaluation_dates`): inside the rules' coverage and the current school year;
    `force` also allows an earlier school year, and such a run is audited (`redetermine.forced`).
    """
    from aidservice.services.redetermine_region import run

    day = redetermination_date(settings, rules or settings.rules, as_of, force=force, dry_run=dry_run)
    if not dry_run and is_forced(settings, day):
        job_key = job_key or f"redetermine:{datetime.now(UTC):%Y%m%dT%H%M%S.%f}"
        record_forced(session, actor=actor, settings=settings, day=day, region=region, job_key=job_key)
    return run(
        session,
        actor=actor,
        settings=settings,
        region=region,
        as_of=day,
        rules=rules,
        dry_run=dry_run,
        job_key=job_key,
        chunk=chunk,
        progress=progress,
        checkpoint=checkpoint,
    )
