"""`GET /metrics` and the HTTP request metrics (aidservice.metrics holds the metric objects).

Every request is counted by method, route template (`request.url_rule.rule`, e.g. /api/v1/students/<student_id>;
"<unmatched>" when no route matched, so a scanner's paths never become time series) and status, and timed from
the request's first hook (aidservice.logs starts the clock) to its response.

`/metrics` answers a caller on this machine (the address after ProxyFix, AID_PROXY_HOPS, is 127.0.0.1 or ::1;
a request that came through a proxy the app does not trust is not local) or one presenting
`Authorization: Bearer <AID_METRICS_TOKEN>` (compared in constant time). Anyone else gets 404, as for a record
outside one's scope: the page does not exist for them. Without AID_METRICS_TOKEN (production's default) only
localhost can scrape.
"""

from __future__ import annotations

import hmac
import logging
import time
from datetime import UTC, datetime

from flask import Flask, Response, current_app, request
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.exceptions import NotFound

from aidservice.extensions import db
from aidservice.logs import START_KEY
from aidservice.metrics import HTTP_LATENCY, HTTP_REQUESTS, JobState, Snapshot, scrape_registry
from aidservice.services.job_stats import job_states

log = logging.getLogger(__name__)

LOCAL_ADDRESSES = frozenset({"127.0.0.1", "::1"})
UNMATCHED = "<unmatched>"


def route_label() -> str:
    """The matched route's template, never the path a client sent."""
    return request.url_rule.rule if request.url_rule is not None else UNMATCHED


def _observe(response: Response) -> Response:
    route = route_label()
    HTTP_REQUESTS.labels(request.method, route, str(response.status_code)).inc()
    started = request.environ.get(START_KEY)
    if started is not None:
        HTTP_LATENCY.labels(request.method, route).observe(max(0.0, time.perf_counter() - started))
    return response


def _local() -> bool:
    """The caller is on this machine: its address is a loopback one, and no untrusted proxy stands between."""
    behind_untrusted_proxy = not current_app.config.get("AID_PROXY_HOPS") and (
        "X-Forwarded-For" in request.headers or "Forwarded" in request.headers
    )
    return request.remote_addr in LOCAL_ADDRESSES and not behind_untrusted_proxy


def _token_presented() -> bool:
    """The request carries the metrics token (a configured one; compared in constant time)."""
    token = current_app.config.get("AID_METRICS_TOKEN") or ""
    scheme, _, presented = request.headers.get("Authorization", "").partition(" ")
    if not token or scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(presented.strip().encode(), token.encode())


def may_scrape() -> bool:
    return _token_presented() or _local()


def _snapshot() -> Snapshot:
    """The rules this process runs and the jobs table now; a database that does not answer leaves jobs out."""
    jobs: list[JobState] = []
    try:
        jobs = job_states(db.session(), datetime.now(UTC))
    except SQLAlchemyError as exc:
        log.warning("metrics: jobs table unavailable: %s", exc.__class__.__name__)
        db.session.rollback()
    return Snapshot(current_app.extensions["aid_rules"].version, jobs)


def metrics() -> Response:
    """Prometheus text format: every worker's counts (multiprocess mode) and the states read now."""
    if not may_scrape():
        raise NotFound()
    body = generate_latest(scrape_registry(_snapshot))
    return Response(
        body, mimetype=None, content_type=CONTENT_TYPE_LATEST, headers={"Cache-Control": "no-store"}
    )


def init_metrics(app: Flask) -> None:
    """Count and time every request, and serve GET /metrics."""
    app.after_request(_observe)
    app.add_url_rule("/metrics", "metrics", metrics, methods=["GET"])
