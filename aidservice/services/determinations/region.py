"""Bulk re-determination of a region (or the province) with the columnar path, resumable, with a dry-run diff.

Once per run, without locks: the change-log head, then the current agency records valid on the date
that reach the run's students through their own or a guardian's number (one hash join per way).
Then per chunk of students (by primary key):

1. read set-based: students joined with schools (one query) and their current determinations;
2. evaluate the whole chunk with the columnar path; build each student's facts snapshot and the
   outcome hash (level, awards, facts) as vectorised string expressions; compare with the current
   determination's outcome hash;
3. for the students whose outcome differs, evaluate each *distinct* fact combination once with the
   compiled per-record path for the explanation (reasons, missing, award bases), and check that
   it agrees with the columnar result;
4. under the change-log locks: students someone else re-determined since the run read the change-log
   head are done again with the per-student path (fresh facts); the rest are stored in bulk (COPY on PostgreSQL) superseding their
   current determinations; one audit event per chunk; the job's cursor moves to the chunk's last
   student; the caller's `checkpoint` commits.

A rerun with the same job key resumes after the cursor; `dry_run` writes nothing and returns who
gains and loses what, and the money delta by program. `chunks.redetermine_set` runs steps 1-4 for a list of
students (large feed batches), under locks its caller already holds.

Where the steps live: the chunk loop and the job row here; steps 1-2 in `chunks` and `columnar` (agency
matches in `matches`); step 3 and the bulk writing of step 4 in `writer`; the dry run's diff in `diff`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime

import polars as pl
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from aidservice.engine import RuleSet
from aidservice.metrics import count_redetermination
from aidservice.models import Job, School, Student
from aidservice.services import audit
from aidservice.services.actors import Actor, in_region, region_prefix
from aidservice.services.bulk import read_frame
from aidservice.services.context import Settings
from aidservice.services.determinations.chunks import process_chunk
from aidservice.services.determinations.columnar import BULK_SCHEMA, ROSTER
from aidservice.services.determinations.evaluation_dates import is_forced, record_forced, redetermination_date
from aidservice.services.determinations.matches import chunk_matches
from aidservice.services.determinations.records import Batch
from aidservice.services.determinations.runs import Context, Diff, RegionResult, Scope
from aidservice.services.determinations.store import change_log_head, publish
from aidservice.services.errors import Conflict, ValidationFailed

JOB_KIND = "redetermine"


def count_students(session: Session, region: str | None = None) -> int:
    """Students a run over `region` covers (for a progress bar)."""
    query = select(func.count()).select_from(Student).join(School, School.code == Student.school_code)
    if region:
        query = query.where(in_region(School.region_code, region))
    return session.execute(query).scalar_one()


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
    """Re-determine every student of a region (default: the province) with the columnar path (module docstring).

    The date is checked first (`evaluation_dates`): inside the rules' coverage and the current school year;
    `force` also allows an earlier school year, and such a run is audited (`redetermine.forced`).
    """
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


def run(
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
) -> RegionResult:
    """Re-determine a region chunk by chunk; `checkpoint` (the command's commit) runs after every chunk."""
    ruleset = rules or settings.rules
    ctx = _context(session, actor, settings, ruleset, region, as_of, dry_run, job_key)
    result = RegionResult(
        job_key, region, ctx.batch.as_of, ruleset.version, dry_run, diff=Diff() if dry_run else None
    )
    job = None if dry_run else _job(session, ctx, job_key, region, result)
    if result.already_done:
        return result
    if not dry_run:
        publish(session, ruleset)
    after = result.resumed_after
    seen_seq = 0 if dry_run else change_log_head(session)
    matches = chunk_matches(
        session, ctx.batch.as_of, Scope(after + 1, None), ctx.rules.vocabulary
    )  # one hash join for the run
    while True:
        frame = read_chunk(session, ctx, after, chunk)
        if frame.is_empty():
            break
        process_chunk(session, ctx, frame, matches, seen_seq, result)
        after = int(frame["pk"][-1])
        _advance(job, after, result)
        if checkpoint is not None:
            checkpoint()
        if progress is not None:
            progress(frame.height)
    _finish(session, ctx, job, result, checkpoint)
    if not dry_run:
        count_redetermination("region", result.students, result.changed)
    return result


def _context(
    session: Session,
    actor: Actor,
    settings: Settings,
    rules: RuleSet,
    region: str | None,
    as_of: date | None,
    dry_run: bool,
    job_key: str | None,
) -> Context:
    if region is not None and not (len(region) == 6 and region.isdigit()):
        raise ValidationFailed({"region": ["must be a 6-digit division code"]})
    day = as_of or settings.default_as_of()
    cause = f"redetermine:{job_key}" if job_key else "redetermine"
    return Context(
        rules,
        Batch(settings.school_year, day, rules.version, cause[:160]),
        region_prefix(region) if region else None,
        dry_run,
        actor,
        session.get_bind().dialect.name,
    )


def _job(session: Session, ctx: Context, key: str | None, region: str | None, result: RegionResult) -> Job:
    """The job row: resumed when the key exists with the same parameters, refused when they differ."""
    params = {
        "region": region,
        "as_of": ctx.batch.as_of.isoformat(),
        "rule_set_version": ctx.rules.version,
        "school_year": ctx.batch.school_year,
    }
    key = key or f"{JOB_KIND}:{datetime.now(UTC):%Y%m%dT%H%M%S.%f}"
    result.job_key = key
    job = session.execute(select(Job).where(Job.key == key)).scalar_one_or_none()
    if job is None:
        job = Job(key=key, kind=JOB_KIND, params=params, state="running", cursor=0, counts={})
        session.add(job)
        session.flush()
        audit.record(
            session, actor=ctx.actor, action="redetermine.started", subject=f"job:{key}"[:160], summary=params
        )
        return job
    if job.kind != JOB_KIND or job.params != params:
        raise Conflict(
            f"Job '{key}' was started with other parameters ({job.params}); use another --job-key."
        )
    result.resumed_after = job.cursor
    for name, value in (job.counts or {}).items():
        setattr(result, name, value)
    result.already_done = job.state == "done"
    job.state = "done" if result.already_done else "running"
    return job


def _advance(job: Job | None, cursor: int, result: RegionResult) -> None:
    if job is not None:
        job.cursor, job.counts = cursor, result.counts()


def _finish(
    session: Session,
    ctx: Context,
    job: Job | None,
    result: RegionResult,
    checkpoint: Callable[[], None] | None,
) -> None:
    if job is None:
        return
    job.state = "done"
    audit.record(
        session,
        actor=ctx.actor,
        action="redetermine.done",
        subject=f"job:{job.key}"[:160],
        summary={**result.counts(), "cursor": job.cursor},
    )
    session.flush()
    if checkpoint is not None:
        checkpoint()


def read_chunk(session: Session, ctx: Context, after: int, limit: int) -> pl.DataFrame:
    """The next `limit` students after `after` (by primary key) with their schools, as a frame."""
    query = ROSTER.where(Student.id > after)
    if ctx.prefix:
        query = query.where(in_region(School.region_code, ctx.prefix))  # a prefix is its own region_prefix
    return read_frame(session, query.order_by(Student.id).limit(limit), BULK_SCHEMA)
