"""The jobs table as the metrics read it at scrape time: how many jobs of each kind are in each state, and how
long the oldest queued one of each kind has waited (aidservice.metrics.ScrapeCollector)."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from aidservice.metrics import JobState
from aidservice.models import Job


def job_states(session: Session, now: datetime) -> list[JobState]:
    """One JobState per (kind, state) present, with the oldest queued job's age in seconds for queued ones."""
    rows = session.execute(
        select(Job.kind, Job.state, func.count(), func.min(Job.created_at))
        .group_by(Job.kind, Job.state)
        .order_by(Job.kind, Job.state)
    ).all()
    return [
        JobState(
            kind,
            state,
            count,
            _age(now, oldest) if state == "queued" and oldest is not None else None,
        )
        for kind, state, count, oldest in rows
    ]


def _age(now: datetime, moment: datetime) -> float:
    """Seconds from `moment` (naive on SQLite: stored in UTC) to `now`, never negative."""
    aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    return max(0.0, (now - aware).total_seconds())
