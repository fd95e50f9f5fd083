"""A periodic report read on the web UI's page: computed at once (the page shows its tables and charts) and
recorded in the audit trail like a generated report (`report.generated`, format `html`)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from aidservice.services import audit, reports
from aidservice.services.actors import Actor
from aidservice.services.context import Settings
from aidservice.services.reports.common import Report


def view_report(
    session: Session,
    *,
    actor: Actor,
    settings: Settings,
    kind: str,
    period: str | None,
    region: str | None = None,
    request_id: str | None = None,
) -> Report:
    """Validate (404 kind; 422 period, region; 403 outside the caller's scope), compute and audit a report."""
    report = reports.prepare(
        session, actor=actor, settings=settings, kind=kind, period=period, region=region, fmt="html"
    )
    audit.record(
        session,
        actor=actor,
        action="report.generated",
        subject=reports.subject(report),
        summary={**reports.summary(report), "format": "html", "via": "web"},
        request_id=request_id,
    )
    return report
