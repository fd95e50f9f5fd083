"""The RQ side: `perform(job_id)` (one attempt, in an app context) and `flask --app wsgi aid worker` / `aid jobs ...`.

RQ calls `aidservice.perform_job`, which builds an app when the worker has none (a plain `rq worker`) and
then calls `perform` here: this package sits under the app factory and never imports it. SQLAlchemy, the
models and RQ are imported inside the functions that use them: this module is imported on every start, batch
commands included (see aidservice.jobs' docstring).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import click
from flask import Flask, current_app
from flask.cli import AppGroup

from . import AttemptFailed, RQRunner, execute_now, runner

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

    ids = stale_jobs(db.session, lease)
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


jobs_group = AppGroup("jobs", help="Background jobs: list them, resume orphaned ones.")


@click.command("worker")
@click.option("--burst", is_flag=True, help="Run the queued jobs, then stop.")
@click.option("--simple", is_flag=True, help="Run jobs in this process (no fork per job).")
def worker_command(burst: bool, simple: bool) -> None:
    """Run an RQ worker for AID_JOB_QUEUE on AID_REDIS_URL, after dispatching jobs a crash left behind."""
    from redis import Redis
    from rq import SimpleWorker, Worker

    from aidservice.extensions import db

    backend = runner()
    if not isinstance(backend, RQRunner):
        raise click.ClickException(
            "No AID_REDIS_URL (or REDIS_URL) is configured: jobs run in-process, no worker is needed."
        )
    resumed = resume_stale(_lease())
    if resumed:
        click.echo(f"dispatched again {len(resumed)} orphaned job(s): {', '.join(map(str, resumed))}")
    db.session.remove()
    db.engine.dispose()  # a forked work horse must open its own connections
    cls: Any = SimpleWorker if simple else Worker
    worker = cls([backend.queue_name], connection=Redis.from_url(backend.url))
    worker.work(burst=burst, with_scheduler=not burst)


@jobs_group.command("resume")
@click.option(
    "--older-than",
    type=click.IntRange(min=0),
    default=None,
    help="Seconds without progress before a job counts as orphaned (default AID_JOB_LEASE_SECONDS).",
)
def resume_command(older_than: int | None) -> None:
    """Dispatch again the jobs a crash orphaned (in-process without Redis, on the queue with it)."""
    ids = resume_stale(timedelta(seconds=older_than) if older_than is not None else _lease())
    click.echo(f"{len(ids)} job(s) dispatched again" + (f": {', '.join(map(str, ids))}" if ids else ""))


@jobs_group.command("list")
@click.option("--state", default=None, help="queued | running | done | failed")
@click.option("--limit", type=click.IntRange(min=1, max=200), default=20, show_default=True)
def list_command(state: str | None, limit: int) -> None:
    """The latest jobs with their state and progress."""
    from aidservice.extensions import db
    from aidservice.services.actors import Actor
    from aidservice.services.jobs import list_jobs

    for item in list_jobs(db.session, actor=Actor.system("cli:jobs"), state=state, limit=limit)["items"]:
        progress = item["progress"]
        done = f"{progress['done']}/{progress['total'] if progress['total'] is not None else '?'}"
        click.echo(
            f"{item['id']:>6} {item['kind']:<14} {item['state']:<8} {done:>15} attempts {item['attempts']}"
            f"/{item['max_attempts']} {item['error'] or ''}"
        )


def _lease() -> timedelta:
    return timedelta(seconds=int(current_app.config.get("AID_JOB_LEASE_SECONDS", 900)))


def register_jobs(app: Flask) -> None:
    """Add `worker` and `jobs` to the `aid` group."""
    aid = app.cli.commands.get("aid")
    if isinstance(aid, click.Group):
        aid.add_command(worker_command)
        aid.add_command(jobs_group)
