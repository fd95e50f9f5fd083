"""The RQ side: `perform(job_id)` (one attempt, in an app context) and the orphaned jobs `aid worker` and
`aid jobs resume` dispatch again (their commands are in aidservice.cli.jobs).

RQ calls `aidservice.perform_job`, which builds an app when the worker has none (a plain `rq worker`) and
then calls `perform` here: this package sits under the app factory and never imports it. SQLAlchemy, the
models and RQ are imported inside the functions that use them: this module is imported on every start, batch
commands included (see aidservice.jobs' docstring).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from . import AttemptFailed, execute_now, runner

if TYPE_CHECKING:
    from sqlalchemy.orm import Session


def perform(job_id: int) -> str:
    """Run one attempt of a job in this app context; raise when another attempt should follow, so RQ retries."""
    from aidservice.extensions import db  # heavy (SQLAlchemy): see aidservice.jobs' docstring

    try:
        outcome = execute_now(job_id)
    finally:
        db.session.remove()
    if outcome.retry:
        raise AttemptFailed(f"job {job_id}: attempt failed, another follows (see the job's error)")
    if outcome.state == "failed" and not outcome.refused:
        raise AttemptFailed(f"job {job_id}: last attempt failed (see the job's error)")
    return outcome.state


def stale_jobs(session: Session, lease: timedelta, now: datetime | None = None) -> list[int]:
    """Jobs a crash may have orphaned: queued or running, untouched for longer than the lease."""
    from sqlalchemy import select

    from aidservice.models import Job

    moment = (now or datetime.now(UTC)) - lease
    return list(
        session.execute(
            select(Job.id)
            .where(Job.state.in_(("queued", "running")), Job.updated_at < moment, Job.created_by.is_not(None))
            .order_by(Job.id)
        ).scalars()
    )


def resume_stale(lease: timedelta) -> list[int]:
    """Dispatch orphaned jobs again; a running one resumes from its cursor (the claim takes it only when stale)."""
    from sqlalchemy import update

    from aidservice.extensions import db
    from aidservice.models import Job

    ids = stale_jobs(db.session(), lease)
    if ids:  # back to queued, so the next claim takes them whatever lease it judges by
        db.session.execute(
            update(Job)
            .where(Job.id.in_(ids), Job.state == "running")
            .values(state="queued")
            .execution_options(synchronize_session=False)
        )
    db.session.commit()
    for job_id in ids:
        job = db.session.get(Job, job_id)
        if job is not None:
            runner().dispatch(job)
    return ids
