"""`flask --app wsgi aid worker` and `aid jobs resume|list`: the RQ worker and the jobs a crash left behind.

The worker first dispatches again the jobs a crash orphaned (aidservice.jobs.worker.resume_stale), then
runs RQ on AID_JOB_QUEUE; without Redis jobs run in-process and no worker is needed.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import click
from flask import current_app
from flask.cli import AppGroup

from aidservice.jobs import RQRunner, runner
from aidservice.jobs.worker import resume_stale

jobs_group = AppGroup("jobs", help="Background jobs: list them, resume orphaned ones.")


@click.command("worker")
@click.option("--burst", is_flag=True, help="Run the queued jobs, then stop.")
@click.option("--simple", is_flag=True, help="Run jobs in this process (no fork per job).")
def worker_command(burst: bool, simple: bool) -> None:
    """Run an RQ worker for AID_JOB_QUEUE on AID_REDIS_URL, after dispatching jobs a crash left behind."""
    from redis import Redis  # optional: only a worker needs Redis and RQ
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

    for item in list_jobs(db.session(), actor=Actor.system("cli:jobs"), state=state, limit=limit)["items"]:
        progress = item["progress"]
        done = f"{progress['done']}/{progress['total'] if progress['total'] is not None else '?'}"
        click.echo(
            f"{item['id']:>6} {item['kind']:<14} {item['state']:<8} {done:>15} attempts {item['attempts']}"
            f"/{item['max_attempts']} {item['error'] or ''}"
        )


def _lease() -> timedelta:
    return timedelta(seconds=int(current_app.config.get("AID_JOB_LEASE_SECONDS", 900)))
