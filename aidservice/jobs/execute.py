"""One attempt at a job: claim it, run its kind's handler, record the outcome, each step in its own transaction.

This layer commits (like a CLI command): the claim, every checkpoint the handler asks for (its progress
and cursor go with the work done so far), and the outcome. A failed attempt is rolled back to its last
checkpoint, so the next attempt resumes from the cursor where the work is resumable.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import or_, update
from sqlalchemy.orm import Session

from aidservice.models import Job
from aidservice.services import audit
from aidservice.services.accounts.id_probes import Budget
from aidservice.services.actors import Actor
from aidservice.services.context import Settings
from aidservice.services.errors import DomainError
from aidservice.services.jobs import actor_of

log = logging.getLogger("aidservice.jobs")
ERROR_MAX = 2000


@dataclass(slots=True)
class JobContext:
    """What a handler gets: the job row, its session, who it acts for, settings, progress/checkpoint hooks, and
    the account's identity-number lookup budget (an import's taken rows are charged to it)."""

    session: Session
    job: Job
    actor: Actor
    settings: Settings
    config: dict[str, Any] = field(default_factory=dict)
    budget: Budget | None = None

    def progress(self, done: int, total: int | None = None) -> None:
        """Record progress; it is stored with the next checkpoint (or the outcome)."""
        self.job.progress_done = done
        if total is not None:
            self.job.progress_total = total

    def checkpoint(self) -> None:
        """Commit the work so far with the job's cursor, counts and progress (a short transaction ends here)."""
        self.job.updated_at = datetime.now(UTC)  # the heartbeat a stale-job sweep looks at
        self.session.commit()


Handler = Callable[[JobContext], dict[str, Any]]


@dataclass(frozen=True, slots=True)
class Outcome:
    """What an attempt ended in: done, failed for good, or failed with attempts left (`retry`).

    `refused` marks a failure of the input or the state (a domain error), which no attempt would change.
    """

    state: str
    retry: bool = False
    refused: bool = False


def claim(session: Session, job_id: int, lease: timedelta) -> Job | None:
    """Mark the job running for this attempt; None when it is done, unknown, or running elsewhere and alive."""
    now = datetime.now(UTC)
    taken = session.execute(
        update(Job)
        .where(
            Job.id == job_id,
            or_(Job.state == "queued", (Job.state == "running") & (Job.updated_at < now - lease)),
        )
        .values(state="running", attempts=Job.attempts + 1, started_at=now, updated_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount
    session.commit()
    if not taken:
        return None
    return session.get(Job, job_id, populate_existing=True)


def run_attempt(
    session: Session,
    job_id: int,
    *,
    handlers: dict[str, Handler],
    settings: Settings,
    config: dict[str, Any],
    lease: timedelta,
    budget: Budget | None = None,
) -> Outcome:
    """Run one attempt of job `job_id`; the job's last allowed attempt that fails is its last word."""
    job = claim(session, job_id, lease)
    if job is None:
        return Outcome("skipped")
    final = job.attempts >= job.max_attempts
    handler = handlers.get(job.kind)
    ctx = JobContext(session, job, actor_of(job), settings, config, budget)
    try:
        if handler is None:
            raise DomainError(f"No handler for jobs of kind {job.kind!r}.")
        result = handler(ctx)
    except DomainError as exc:  # the input or the state is wrong: another attempt would fail the same way
        outcome = _failed(session, job_id, _domain_text(exc), final=True, details=exc.errors)
        return Outcome(outcome.state, refused=True)
    except Exception as exc:
        log.error("job %s (%s) attempt failed: %s", job_id, job.kind, _where(exc))
        return _failed(session, job_id, _internal_text(exc, final), final=final)
    _done(session, job, ctx.actor, result)
    return Outcome("done")


def _done(session: Session, job: Job, actor: Actor, result: dict[str, Any]) -> None:
    job.state, job.result, job.error = "done", result, None
    job.finished_at = datetime.now(UTC)
    job.payload = None  # an upload holds personal data: it is not kept once the work is done
    if job.progress_total is not None:
        job.progress_done = job.progress_total
    audit.record(
        session,
        actor=actor,
        action="job.done",
        subject=f"job:{job.id}",
        summary={"kind": job.kind, "counts": job.counts or {}, "attempts": job.attempts},
    )
    session.commit()


def _failed(
    session: Session, job_id: int, text: str, *, final: bool, details: dict[str, list[str]] | None = None
) -> Outcome:
    """Roll the attempt back to its last checkpoint, then record the error (queued again unless final)."""
    session.rollback()
    job = session.get(Job, job_id, populate_existing=True)
    if job is None:  # pragma: no cover - the row was deleted under us
        return Outcome("failed")
    job.error = text[:ERROR_MAX]
    job.updated_at = datetime.now(UTC)
    if final:
        job.state, job.finished_at, job.payload = "failed", datetime.now(UTC), None
        job.result = {"errors": details} if details else None
        audit.record(
            session,
            actor=actor_of(job),
            action="job.failed",
            subject=f"job:{job.id}",
            summary={"kind": job.kind, "attempts": job.attempts, "error": job.error},
        )
    else:
        job.state = "queued"
    session.commit()
    return Outcome("failed", retry=not final)


def _domain_text(exc: DomainError) -> str:
    """Domain errors are written for the user and name rows and fields, not people."""
    return f"{exc.title}: {exc.detail}"


def _internal_text(exc: BaseException, final: bool) -> str:
    """Only the error's type: its message may quote SQL parameters, and so personal data."""
    then = "no attempts left" if final else "it will be tried again, resuming where it stopped"
    return f"Internal error ({type(exc).__name__}); {then}."


def _where(exc: BaseException) -> str:
    """The error's type and the innermost frame, for the log (never the message: see `_internal_text`)."""
    frames = traceback.extract_tb(exc.__traceback__)
    place = f" at {frames[-1].filename}:{frames[-1].lineno}" if frames else ""
    return f"{type(exc).__name__}{place}"


__all__ = ["Handler", "JobContext", "Outcome", "claim", "run_attempt"]
