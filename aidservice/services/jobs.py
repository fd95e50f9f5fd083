"""Background jobs as records: created idempotently by key, seen only within the creator's scope, shown with progress.

Running them (queue or in-process) is `aidservice.jobs`; this module never commits and knows no queue.
A job as the API and the UI show it is a `JobView` (a TypedDict: the routes serialise the plain dict it is).
"""

from __future__ import annotations

import dataclasses
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypedDict

from sqlalchemy import ColumnElement, false, func, or_, select, true
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from aidservice.models import Job
from aidservice.services import audit
from aidservice.services.actors import Actor, in_region
from aidservice.services.errors import Conflict, Forbidden, ValidationFailed
from aidservice.services.hidden import not_found

KEY_PATTERN = re.compile(r"^[A-Za-z0-9._:-]{1,80}$")
KEY_MESSAGE = "1-80 letters, digits, '.', '_', ':' or '-'"
STATES = ("queued", "running", "done", "failed")
LIST_MAX = 200


class Progress(TypedDict):
    done: int
    total: int | None  # unknown until the job has counted its work
    percent: int | None


class JobView(TypedDict):
    id: int
    kind: str
    key: str
    state: str
    params: dict[str, Any]  # as the job was started with (JSON)
    progress: Progress
    counts: dict[str, Any]
    attempts: int
    max_attempts: int
    error: str | None
    result: dict[str, Any] | None  # what the job kind returns (JSON)
    created_by: str | None
    created_at: str | None  # ISO 8601 in UTC, to the second
    updated_at: str | None
    started_at: str | None
    finished_at: str | None
    url: str


class JobList(TypedDict):
    items: list[JobView]
    total: int


@dataclass(frozen=True, slots=True)
class Scope:
    """Which part of the province a job touches: who besides its creator may see it."""

    region: str | None = None  # a division code (a school's county for school jobs)
    school: str | None = None


@dataclass(frozen=True, slots=True)
class Enqueued:
    """The job for a key, and whether this call created it (only then is it dispatched)."""

    job: Job
    created: bool


def check_key(key: str | None) -> None:
    """A client's idempotency key: short, printable, no spaces (it becomes part of the stored key)."""
    if key is not None and not KEY_PATTERN.match(key):
        raise ValidationFailed({"key": [KEY_MESSAGE]})


def stored_key(actor: Actor, key: str | None) -> str:
    """Keys are per requester, so two users' keys never meet; no key means a fresh job every time."""
    check_key(key)
    return f"{actor.label}/{key or uuid.uuid4().hex}"[:160]


def enqueue(
    session: Session,
    *,
    actor: Actor,
    kind: str,
    params: Mapping[str, Any],
    key: str,
    scope: Scope,
    max_attempts: int,
    fixed: Mapping[str, Any] | None = None,
    payload: bytes | None = None,
    request_id: str | None = None,
) -> Enqueued:
    """The job under `key`: created (state queued) once; the same key again is the same job, never a second run.

    The same key with another kind or other parameters is a 409. `fixed` are values settled when the job
    is created (the moment a report is read at) and kept with the parameters, but a replay is not
    compared on them. A concurrent request with the same key that inserts first wins; this one then
    answers with that job.
    """
    existing = _by_key(session, key)
    if existing is not None:
        return Enqueued(_same_or_conflict(existing, kind, params, fixed), created=False)
    job = Job(
        key=key,
        kind=kind,
        params={**params, **(fixed or {})},
        state="queued",
        cursor=0,
        counts={},
        progress_done=0,
        attempts=0,
        max_attempts=max_attempts,
        actor=actor_record(actor),
        created_by=actor.label[:160],
        scope_school=scope.school,
        scope_region=scope.region,
        payload=payload,
    )
    try:
        with session.begin_nested():
            session.add(job)
            session.flush()
    except IntegrityError:
        session.expunge(job)
        raced = _by_key(session, key)
        if raced is None:
            raise
        return Enqueued(_same_or_conflict(raced, kind, params, fixed), created=False)
    audit.record(
        session,
        actor=actor,
        action="job.enqueued",
        subject=f"job:{job.id}",
        summary={"kind": kind, "params": dict(params), "key": key},
        request_id=request_id,
    )
    return Enqueued(job, created=True)


def _by_key(session: Session, key: str) -> Job | None:
    return session.execute(select(Job).where(Job.key == key)).scalar_one_or_none()


def _same_or_conflict(job: Job, kind: str, params: Mapping[str, Any], fixed: Mapping[str, Any] | None) -> Job:
    asked = {name: value for name, value in (job.params or {}).items() if name not in (fixed or {})}
    if job.kind != kind or asked != dict(params):
        raise Conflict(
            f"The key was used for another {job.kind} job (#{job.id}) with other parameters; "
            "use a new key for different work."
        )
    return job


def actor_record(actor: Actor) -> dict[str, Any]:
    """The requester as JSON: the worker acts as this actor, with its scope."""
    return dataclasses.asdict(actor)


def actor_of(job: Job) -> Actor:
    """Who the job acts for (the system for jobs started by `aid redetermine`)."""
    return Actor(**job.actor) if job.actor else Actor.system("job")


def reopen(
    session: Session, *, actor: Actor, job_id: int, max_attempts: int, request_id: str | None = None
) -> Job:
    """Queue a failed job again with fresh attempts; its cursor stays, so resumable work goes on where it stopped.

    Its creator or an administrator over its scope may; anything but a failed job is a 409.
    """
    job = get_job(session, actor=actor, job_id=job_id)
    if actor.is_auditor or (job.created_by != actor.label and not actor.is_admin):
        raise Forbidden(f"Only the job's creator or an administrator over its region may retry job {job_id}.")
    if job.state != "failed":
        raise Conflict(f"Job {job_id} is {job.state}; only a failed job can be retried.")
    previous = job.error
    job.state, job.attempts, job.max_attempts = "queued", 0, max_attempts
    job.error = job.result = job.finished_at = None
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="job.retried",
        subject=f"job:{job.id}",
        summary={"kind": job.kind, "previous_error": previous},
        request_id=request_id,
    )
    return job


# ---------------------------------------------------------------------------------------------- reading


def visible(actor: Actor) -> ColumnElement[bool]:
    """SQL condition: jobs the actor may see (their own, and jobs in their school or region)."""
    if actor.kind == "client":
        raise Forbidden("Jobs are for signed-in users, not agency clients.")
    if actor.kind == "system" or actor.is_auditor:
        return true()
    own = Job.created_by == actor.label
    if actor.role == "school_officer":
        return or_(own, Job.scope_school == (actor.school_code or "-"))
    if actor.is_admin and actor.region_code:
        return or_(own, in_region(Job.scope_region, actor.region_code))
    return own if actor.kind == "user" else false()


def get_job(session: Session, *, actor: Actor, job_id: int) -> Job:
    """One job; 404 when it does not exist or lies outside the caller's scope (its existence is not revealed)."""
    job = session.execute(select(Job).where(Job.id == job_id, visible(actor))).scalar_one_or_none()
    if job is None:
        raise not_found("job")
    return job


def list_jobs(
    session: Session,
    *,
    actor: Actor,
    kind: str | None = None,
    state: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> JobList:
    """The caller's visible jobs, newest first."""
    conditions = [visible(actor)]
    if kind is not None:
        conditions.append(Job.kind == kind)
    if state is not None:
        conditions.append(Job.state == state)
    total = session.scalar(select(func.count()).select_from(Job).where(*conditions)) or 0
    rows = session.execute(
        select(Job).where(*conditions).order_by(Job.id.desc()).limit(min(limit, LIST_MAX)).offset(offset)
    ).scalars()
    return {"items": [job_view(job) for job in rows], "total": total}


def _utc(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    aware = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    return aware.isoformat(timespec="seconds")


def job_view(job: Job) -> JobView:
    """A job as the API and the UI show it: state, progress (done/total, percent), attempts, result or error."""
    total = job.progress_total
    done = job.progress_done or 0
    percent = None if not total else min(100, round(100 * done / total))
    if job.state == "done":
        percent = 100
    return {
        "id": job.id,
        "kind": job.kind,
        "key": job.key,
        "state": job.state,
        "params": job.params,
        "progress": {"done": done, "total": total, "percent": percent},
        "counts": job.counts or {},
        "attempts": job.attempts or 0,
        "max_attempts": job.max_attempts or 1,
        "error": job.error,
        "result": job.result,
        "created_by": job.created_by,
        "created_at": _utc(job.created_at),
        "updated_at": _utc(job.updated_at),
        "started_at": _utc(job.started_at),
        "finished_at": _utc(job.finished_at),
        "url": f"/api/v1/jobs/{job.id}",
    }


__all__ = [
    "LIST_MAX",
    "STATES",
    "Enqueued",
    "JobList",
    "JobView",
    "Progress",
    "Scope",
    "actor_of",
    "actor_record",
    "check_key",
    "enqueue",
    "get_job",
    "job_view",
    "list_jobs",
    "reopen",
    "stored_key",
    "visible",
]
