"""Long work off the request path: a small job runner over RQ (Redis), or in-process when no Redis is configured.

`submit(...)` records the job idempotently by key (services.jobs.enqueue); after the caller commits,
`dispatch(job)` hands a new job to the configured backend:

- `RQRunner` (AID_REDIS_URL or REDIS_URL set): an RQ job on queue AID_JOB_QUEUE that calls
  `aidservice.perform_job(job_id)` in a worker (`flask --app wsgi aid worker`), with RQ's Retry
  (AID_JOB_ATTEMPTS, AID_JOB_RETRY_INTERVALS);
- `InlineRunner` (no Redis): the same attempts run at once, in this process, after the request's commit
  (or inline in a CLI command).

Either way each attempt is `execute.run_attempt`: progress and cursor in the job's own short transactions,
a failed attempt rolled back to its last checkpoint and resumed from there by the next one.

This layer sits under the entry points (api, web, cli) and never imports them: what an attempt needs from the
app (the services' Settings, the lookup budget, the ID vault) comes through `AppServices`, which the
composition root (aidservice.wiring) registers in `app.extensions[SERVICES]`; it builds the runner too.

The modules that run jobs (`execute`, `kinds`, and through them every service and SQLAlchemy) are imported
only by the functions that run or record one: the `aid` command group registers `aid worker` and `aid jobs`
on every start, and batch commands (`aid evaluate`) must start without them (aidservice.startup).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Protocol

from flask import current_app, has_app_context

from .payload import seal_upload

if TYPE_CHECKING:
    from flask import Flask
    from sqlalchemy.orm import Session

    from aidservice.crypto import IdVault
    from aidservice.models import Job
    from aidservice.services.accounts.id_probes import Budget
    from aidservice.services.actors import Actor
    from aidservice.services.context import Settings
    from aidservice.services.jobs import Scope

    from .execute import Outcome

log = logging.getLogger("aidservice.jobs")
EXTENSION = "aid_jobs"
SERVICES = "aid_job_services"


class AppServices(Protocol):
    """What an attempt needs from the app, provided by the composition root (aidservice.wiring)."""

    def settings(self) -> Settings: ...

    def id_probe_budget(self) -> Budget: ...

    def id_vault(self) -> IdVault: ...

    def job_runner(self, app: Flask) -> Runner: ...


def app_services() -> AppServices:
    """The providers the composition root registered for this app."""
    return current_app.extensions[SERVICES]


class Runner(Protocol):
    """Where a new job goes once its row is committed."""

    name: str

    def dispatch(self, job: Job) -> None: ...


class AttemptFailed(Exception):
    """Raised in an RQ worker so that RQ's Retry schedules the next attempt (the job row says why)."""


def execute_now(job_id: int) -> Outcome:
    """One attempt of a job in this app context (the worker's, the request's or the command's)."""
    from aidservice.extensions import db  # heavy (SQLAlchemy, every service): see the module docstring

    from .execute import run_attempt
    from .kinds import HANDLERS

    config, provided = current_app.config, app_services()
    return run_attempt(
        db.session(),
        job_id,
        handlers=HANDLERS,
        settings=provided.settings(),
        config=dict(config),
        lease=timedelta(seconds=int(config.get("AID_JOB_LEASE_SECONDS", 900))),
        budget=provided.id_probe_budget(),
    )


@dataclass(frozen=True, slots=True)
class InlineRunner:
    """No Redis: run every attempt now, in this process (the request waits; nothing is lost on a restart
    before the commit, and a job cut off half-way is resumed by `aid jobs resume`)."""

    name: str = "inline"

    def dispatch(self, job: Job) -> None:
        """Attempts until one succeeds, fails for good, or the attempts run out."""
        job_id = job.id
        for _attempt in range(max(1, job.max_attempts)):
            if not execute_now(job_id).retry:
                return


@dataclass(frozen=True, slots=True)
class RQRunner:
    """Redis: the job goes on an RQ queue; a worker runs `perform_job(job_id)`; RQ's Retry repeats failed attempts."""

    url: str
    queue_name: str
    intervals: tuple[int, ...]
    timeout: int
    name: str = "rq"

    def queue(self) -> Any:
        """The RQ queue (a new connection from the URL; cheap, and safe across forks)."""
        from redis import Redis
        from rq import Queue

        return Queue(self.queue_name, connection=Redis.from_url(self.url))

    def dispatch(self, job: Job) -> None:
        """Enqueue the attempts; a queue that is down leaves the job queued for `aid jobs resume`."""
        from redis.exceptions import RedisError
        from rq import Retry

        retries = max(0, job.max_attempts - 1)
        retry = Retry(max=retries, interval=list(self.intervals) or 0) if retries else None
        try:
            self.queue().enqueue(
                "aidservice.perform_job",
                job.id,
                job_id=rq_job_id(self.queue_name, job.id),
                retry=retry,
                job_timeout=self.timeout,
                result_ttl=86_400,
                failure_ttl=7 * 86_400,
                description=f"aidservice job {job.id} ({job.kind})",
            )
        except RedisError as exc:
            log.error("job %s stays queued: the queue is unavailable (%s)", job.id, type(exc).__name__)


def rq_job_id(queue_name: str, job_id: int) -> str:
    """The RQ id of a job: one per job row and queue, so enqueuing the same job twice replaces, never doubles."""
    return f"{queue_name}-{job_id}"


def build_runner(config: Any) -> Runner:
    """RQ when a Redis URL is configured, in-process otherwise."""
    url = config.get("AID_REDIS_URL")
    if not url:
        return InlineRunner()
    return RQRunner(
        url=url,
        queue_name=config.get("AID_JOB_QUEUE", "aidservice"),
        intervals=tuple(config.get("AID_JOB_RETRY_INTERVALS", (30, 120, 600))),
        timeout=int(config.get("AID_JOB_TIMEOUT", 6 * 3600)),
    )


def runner(app: Flask | None = None) -> Runner:
    """The app's runner, built by the composition root (aidservice.wiring) on first use."""
    target = app if app is not None else current_app
    return target.extensions[SERVICES].job_runner(target)


def dispatch(job: Job) -> None:
    """Hand a job whose row is committed to the backend."""
    runner().dispatch(job)


def start(
    session: Session,
    *,
    actor: Actor,
    kind: str,
    params: dict[str, Any],
    scope: Scope,
    key: str | None,
    fixed: dict[str, Any] | None = None,
    payload: bytes | None = None,
    request_id: str | None = None,
) -> int:
    """Record the job (idempotent by the requester's key), commit, dispatch it when new; returns its id.

    The commit is the request's one commit: the job must exist before a worker can see it.
    """
    from aidservice.services.jobs import enqueue, stored_key  # heavy: see the module docstring

    if (
        payload is not None
    ):  # an upload holds identity numbers: sealed like them while it waits in the database
        payload = seal_upload(app_services().id_vault(), payload)
    enqueued = enqueue(
        session,
        actor=actor,
        kind=kind,
        params=params,
        key=stored_key(actor, key),
        scope=scope,
        max_attempts=max_attempts(),
        fixed=fixed,
        payload=payload,
        request_id=request_id,
    )
    job_id = enqueued.job.id
    session.commit()
    if enqueued.created:
        dispatch(enqueued.job)
    return job_id


def max_attempts() -> int:
    """Attempts per job (AID_JOB_ATTEMPTS)."""
    return int(current_app.config.get("AID_JOB_ATTEMPTS", 3)) if has_app_context() else 3


__all__ = [
    "SERVICES",
    "AppServices",
    "AttemptFailed",
    "InlineRunner",
    "RQRunner",
    "Runner",
    "app_services",
    "build_runner",
    "dispatch",
    "execute_now",
    "max_attempts",
    "rq_job_id",
    "runner",
    "start",
]
