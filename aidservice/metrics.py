"""The Prometheus metrics of aidservice: the metric objects, importable by every layer (no Flask here).

Services count what happens where it happens (a feed batch where its audit event is recorded, a
re-determination where it is stored, a sign-in failure where the password is refused); the HTTP counters are
moved by aidservice.metrics_http, which also serves `GET /metrics`. What is a state rather than an event (jobs
by kind and state, the oldest queued job's age, the rules version) is read at scrape time
(`ScrapeCollector`), so no worker needs to be alive for it to be right.

Under gunicorn with several workers, PROMETHEUS_MULTIPROC_DIR names an empty folder the workers write their
counts to (prometheus_client's multiprocess mode); the scrape merges them (`scrape_registry`), and
gunicorn's `child_exit` hook (`mark_process_dead`) drops a dead worker's live gauges. Counts are made before
the unit of work commits: a batch whose transaction fails after counting is still counted (rare; the error
counters show it).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram, multiprocess
from prometheus_client.core import GaugeMetricFamily, InfoMetricFamily, Metric
from prometheus_client.registry import Collector

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"

# Seconds: most pages and API calls answer in milliseconds; imports and big reports take up to a minute.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)

HTTP_REQUESTS = Counter(
    "aid_http_requests",
    "HTTP requests answered, by method, route template (never the raw path) and status",
    ["method", "route", "status"],
)
HTTP_LATENCY = Histogram(
    "aid_http_request_duration_seconds",
    "Time from the request's first hook to its response, by method and route template",
    ["method", "route"],
    buckets=LATENCY_BUCKETS,
)
FEED_BATCHES = Counter(
    "aid_feed_batches",
    "Agency feed batches received, by source and outcome (applied, replayed)",
    ["source", "outcome"],
)
FEED_RECORDS = Counter(
    "aid_feed_records",
    "Agency feed records in applied batches, by source and outcome (accepted, rejected)",
    ["source", "outcome"],
)
REDETERMINED = Counter(
    "aid_redetermined_students",
    "Students re-determined (evaluated again and compared with their last determination), by cause",
    ["cause"],
)
DETERMINATION_CHANGES = Counter(
    "aid_determination_changes",
    "Re-determinations that changed a student's level or awards, by cause",
    ["cause"],
)
SIGNIN_FAILURES = Counter("aid_signin_failures", "Sign-ins refused for a wrong username or password")
SIGNIN_THROTTLED = Counter(
    "aid_signin_throttled",
    "Sign-ins refused before the password was checked, by the locked count (account, device, address)",
    ["reason"],
)

CAUSES = ("feed", "roster", "quota", "region", "application")  # the first that a cause mentions names it


def cause_label(cause: str) -> str:
    """A re-determination's cause as a bounded label (feed:mca/b1 → feed, "application 12 approve" or "3
    applications approve in one batch" → application), "other" when none is named: a batch id, a number or a
    name never becomes a time series."""
    words = cause.lower()
    return next((kind for kind in CAUSES if kind in words), "other")


def count_redetermination(cause: str, evaluated: int, changed: int) -> None:
    """Count one re-determination run: `evaluated` students, `changed` of them with a new outcome."""
    label = cause_label(cause)
    if evaluated:
        REDETERMINED.labels(label).inc(evaluated)
    if changed:
        DETERMINATION_CHANGES.labels(label).inc(changed)


def count_feed_batch(source: str, outcome: str, accepted: int = 0, rejected: int = 0) -> None:
    """Count a batch of `source` (its source is one of the rule set's, checked before this is called)."""
    FEED_BATCHES.labels(source, outcome).inc()
    if accepted:
        FEED_RECORDS.labels(source, "accepted").inc(accepted)
    if rejected:
        FEED_RECORDS.labels(source, "rejected").inc(rejected)


@dataclass(frozen=True)
class JobState:
    """Jobs of one kind in one state, and (queued ones) how long the oldest has waited."""

    kind: str
    state: str
    count: int
    oldest_age_seconds: float | None = None


@dataclass(frozen=True)
class Snapshot:
    """What the scrape reads at its moment: the rules version and the jobs table's counts."""

    rules_version: str
    jobs: Sequence[JobState]


class ScrapeCollector(Collector):
    """States read at scrape time from `read` (the web layer reads the database and the app's rule set)."""

    def __init__(self, read: Callable[[], Snapshot]) -> None:
        self.read = read

    def collect(self) -> Iterable[Metric]:
        snapshot = self.read()
        info = InfoMetricFamily("aid_rules", "The rule set this process evaluates with")
        info.add_metric([], {"version": snapshot.rules_version})
        jobs = GaugeMetricFamily(
            "aid_jobs", "Jobs in the jobs table, by kind and state", labels=["kind", "state"]
        )
        age = GaugeMetricFamily(
            "aid_job_queue_age_seconds",
            "How long the oldest queued job of each kind has waited (absent when none is queued)",
            labels=["kind"],
        )
        for job in snapshot.jobs:
            jobs.add_metric([job.kind, job.state], job.count)
            if job.state == "queued" and job.oldest_age_seconds is not None:
                age.add_metric([job.kind], job.oldest_age_seconds)
        return [info, jobs, age]


def multiprocess_dir() -> str | None:
    """The folder the workers share their counts in, when running under several processes."""
    return os.environ.get(MULTIPROC_ENV) or None


def scrape_registry(read: Callable[[], Snapshot]) -> CollectorRegistry:
    """A registry for one scrape: the workers' merged counts in multiprocess mode, this process's otherwise,
    plus the states read now."""
    registry = CollectorRegistry(auto_describe=True)
    if multiprocess_dir() is not None:
        multiprocess.MultiProcessCollector(registry)
    else:
        registry.register(_Default())
    registry.register(ScrapeCollector(read))
    return registry


class _Default(Collector):
    """This process's own metrics (the default registry) inside a per-scrape registry."""

    def collect(self) -> Iterable[Metric]:
        return REGISTRY.collect()


def clear_multiprocess_dir() -> None:
    """Empty PROMETHEUS_MULTIPROC_DIR before the first worker starts (a previous run's files would be summed in)."""
    folder = multiprocess_dir()
    if folder is None:
        return
    path = Path(folder)
    if path.is_dir():
        for entry in path.iterdir():
            if entry.is_dir():
                shutil.rmtree(entry)
            else:
                entry.unlink()
    else:
        path.mkdir(parents=True, mode=0o700)


def mark_process_dead(pid: int) -> None:
    """A worker exited: drop its live gauges (its counters stay summed in, as multiprocess mode does)."""
    if multiprocess_dir() is not None:
        multiprocess.mark_process_dead(pid)
