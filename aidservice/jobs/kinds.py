"""The kinds of background job: how each is checked and recorded when asked for, and how it runs.

`prepare_*` validate in the request (bad input is a 422/403 there, before any job exists) and return the
job's parameters and scope; the handlers run in the worker (or in-process) and return the job's result.
"""

from __future__ import annotations

import hashlib
from datetime import date, datetime
from typing import Any

from sqlalchemy.orm import Session

from aidservice.crypto import CannotOpen
from aidservice.models import School
from aidservice.models.report import ArchivedReport
from aidservice.services import reports
from aidservice.services.accounts.id_probes import LookupsLocked
from aidservice.services.actors import Actor
from aidservice.services.context import Settings
from aidservice.services.determinations.evaluation_dates import redetermination_date
from aidservice.services.determinations.region import count_students, redetermine_region
from aidservice.services.errors import Forbidden, ValidationFailed
from aidservice.services.jobs import Scope
from aidservice.services.reports import archive
from aidservice.services.reports.periods import utc_text
from aidservice.services.roster import import_guard
from aidservice.services.sheets import spreadsheets

from .audit_job import VERIFY, prepare_verify, run_verify
from .execute import Handler, JobContext
from .payload import open_upload
from .whatif_job import WHATIF, prepare_whatif, run_whatif

REDETERMINE = "redetermine"  # the kind `aid redetermine` records too: one job table, one resumable cursor
IMPORT = "roster.import"
REPORT = "report"


# ------------------------------------------------------------------------------------------ redetermine


def prepare_redetermine(
    session: Session, *, actor: Actor, settings: Settings, region: str | None, as_of: date | None
) -> tuple[dict[str, Any], Scope]:
    """Parameters exactly as the resumable run records them (so it resumes this job), and the region's scope."""
    code = region or actor.region_code
    if not code or not (len(code) == 6 and code.isdigit()):
        raise ValidationFailed({"region": ["must be a 6-digit division code"]})
    if not actor.reaches_region(code):
        raise Forbidden(f"Region {code} is outside your scope.")
    day = redetermination_date(settings, settings.rules, as_of)  # refused here, before any job exists
    params = {
        "region": code,
        "as_of": day.isoformat(),
        "rule_set_version": settings.rules.version,
        "school_year": settings.school_year,
    }
    return params, Scope(region=code)


def run_redetermine(ctx: JobContext) -> dict[str, Any]:
    """Re-determine the region chunk by chunk; each chunk commits with the cursor, so a retry resumes after it."""
    params = ctx.job.params
    ctx.progress(ctx.job.progress_done or 0, count_students(ctx.session, params["region"]))
    ctx.checkpoint()

    def checkpoint() -> None:
        counts = ctx.job.counts or {}
        ctx.progress(int(counts.get("students", 0)) + int(counts.get("skipped", 0)))
        ctx.checkpoint()

    result = redetermine_region(
        ctx.session,
        actor=ctx.actor,
        settings=ctx.settings,
        region=params["region"],
        as_of=date.fromisoformat(params["as_of"]),
        job_key=ctx.job.key,
        chunk=int(ctx.config.get("AID_REDETERMINE_CHUNK", 50_000)),
        checkpoint=checkpoint,
    )
    return {
        **result.counts(),
        "region": result.region,
        "as_of": result.as_of.isoformat(),
        "rule_set_version": result.rule_set_version,
        "resumed_after": result.resumed_after,
    }


# ------------------------------------------------------------------------------------------ roster import


def prepare_import(
    session: Session, *, actor: Actor, filename: str, data: bytes, partial: bool
) -> tuple[dict[str, Any], Scope]:
    """The upload's name, size and hash (the key's parameters) and the caller's school or region as scope."""
    params = {
        "filename": filename[-128:],
        "size": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
        "partial": partial,
    }
    if actor.role == "school_officer" and actor.school_code:
        school = session.get(School, actor.school_code)
        return params, Scope(region=school.region_code if school else None, school=actor.school_code)
    return params, Scope(region=actor.region_code)


def run_import(ctx: JobContext) -> dict[str, Any]:
    """Import the uploaded file all-or-nothing (or partially), as the synchronous import does."""
    if ctx.job.payload is None:
        raise ValidationFailed({"file": ["the upload is no longer kept; send the file again with a new key"]})
    try:
        data = open_upload(ctx.settings.ids, ctx.job.payload)
    except CannotOpen:
        raise ValidationFailed(
            {"file": ["the upload cannot be opened with the current keys; send it again"]}
        ) from None
    max_rows = int(ctx.config.get("AID_IMPORT_MAX_ROWS", 50_000))
    rows = sum(1 for _row in spreadsheets.iter_table(ctx.job.params["filename"], data, max_rows)) - 1
    ctx.progress(0, rows)
    ctx.checkpoint()
    if ctx.budget is None:  # every caller passes the account's budget; without it the rows would go uncounted
        raise RuntimeError("a background import needs the account's identity-number lookup budget")
    try:
        result = import_guard.import_charged(
            ctx.session,
            actor=ctx.actor,
            settings=ctx.settings,
            budget=ctx.budget,
            channel="background import",
            filename=ctx.job.params["filename"],
            data=data,
            partial=bool(ctx.job.params["partial"]),
            max_rows=max_rows,
            request_id=f"job-{ctx.job.id}",
        )
    except (ValidationFailed, LookupsLocked):
        ctx.checkpoint()  # nothing of the file; the audit event and the charges of its taken rows are kept
        raise
    ctx.job.counts = {
        "created": result.created,
        "updated": result.updated,
        "unchanged": result.unchanged,
        "rejected_rows": len({e.row for e in result.rejected}),
    }
    return {
        "created": result.created,
        "updated": result.updated,
        "unchanged": result.unchanged,
        "rejected": [{"row": e.row, "field": e.field, "message": e.message} for e in result.rejected],
    }


# ------------------------------------------------------------------------------------------ reports


def prepare_report(
    session: Session,
    *,
    actor: Actor,
    settings: Settings,
    kind: str,
    period: str | None,
    region: str | None,
    fmt: str,
    as_of: str | None,
    now: datetime,
) -> tuple[dict[str, Any], dict[str, Any], Scope]:
    """Validate as the report route does (404 kind, 422 fields, 403 scope); the moment it is read at is fixed now
    (`read_at`, not compared when the same key comes again)."""
    ctx = reports.context(
        session,
        actor=actor,
        settings=settings,
        kind=kind,
        period=period,
        region=region,
        as_of=as_of,
        fmt=fmt,
        now=now,
    )
    scope = ctx.scope
    params = {"kind": kind, "period": ctx.period.label, "region": scope.code, "format": fmt, "as_of": as_of}
    fixed = {"read_at": utc_text(ctx.as_of)}
    if scope.level == "school":
        return params, fixed, Scope(region=scope.access_region, school=scope.code)
    return params, fixed, Scope(region=scope.code)


def run_report(ctx: JobContext) -> dict[str, Any]:
    """Generate the report into the archive (once per kind, period, region, format and day) and point at it."""
    params = ctx.job.params
    moment = datetime.fromisoformat(params["read_at"])
    due = archive.Due(params["kind"], params["period"], params["region"], params["format"], moment, "job")
    ctx.progress(0, 1)
    row = archive.archive_one(
        ctx.session,
        actor=ctx.actor,
        settings=ctx.settings,
        due=due,
        trigger="job",
        request_id=f"job-{ctx.job.id}",
    )
    reused = row is None
    if row is None:
        row = ctx.session.get(ArchivedReport, archive._existing(ctx.session, due))
    ctx.progress(1)
    return {
        "archive_id": row.id,
        "download": f"/api/v1/reports/archive/{row.id}",
        "filename": row.filename,
        "size": row.size,
        "content_hash": row.content_hash,
        "reused": reused,
    }


HANDLERS: dict[str, Handler] = {
    REDETERMINE: run_redetermine,
    IMPORT: run_import,
    REPORT: run_report,
    WHATIF: run_whatif,
    VERIFY: run_verify,
}

__all__ = [
    "HANDLERS",
    "IMPORT",
    "REDETERMINE",
    "REPORT",
    "VERIFY",
    "WHATIF",
    "prepare_import",
    "prepare_redetermine",
    "prepare_report",
    "prepare_verify",
    "prepare_whatif",
]
