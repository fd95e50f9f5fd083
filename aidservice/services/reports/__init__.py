"""Periodic reports (policy §4): special-group coverage, programs and regions, aggregated in SQL, scoped to the
caller, reproducible from history (`as_of`), rendered as JSON, CSV, XLSX or HTML, archived by the schedule."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypedDict

from sqlalchemy.orm import Session

from aidservice.services import audit
from aidservice.services.actors import Actor
from aidservice.services.context import Settings
from aidservice.services.errors import NotFound, ValidationFailed
from aidservice.services.reports import dropout, programs, regions, special_groups
from aidservice.services.reports.common import Report
from aidservice.services.reports.periods import parse_as_of, parse_period, utc_text
from aidservice.services.reports.reading import Context
from aidservice.services.reports.render import FORMATS, MEDIA_TYPES, filename, render
from aidservice.services.reports.scope import Scope, resolve_scope

KINDS: dict[str, Callable[[Context], Report]] = {
    "special-groups": special_groups.build,
    "programs": programs.build,
    "regions": regions.build,
    dropout.KIND: dropout.build,
}


class ReportSummary(TypedDict):
    """What the audit trail (and the archive) keeps of a report: its reproducibility record, no personal data."""

    kind: str
    period: str  # the period's label
    region: str  # the scope's code
    as_of: str  # UTC, ISO 8601
    rule_set_versions: dict[str, list[str]]
    feed_watermark: list[
        dict[str, Any]
    ]  # the last batch of each agency source: source, batch_id, received_at
    empty: bool


@dataclass(slots=True)
class Generated:
    """A report ready to send: how it is written and its bytes as a stream; `report` is set once it is built."""

    kind: str
    format: str
    media_type: str
    filename: str
    as_of: str
    chunks: Iterator[bytes]
    report: Report | None = None
    section: str | None = None  # one section only (a list officers download alone: the unaided students)


def check_kind(kind: str) -> None:
    """404 for a kind that does not exist."""
    if kind not in KINDS:
        raise NotFound(f"No report kind {kind!r}; one of {', '.join(KINDS)}.")


def context(
    session: Session,
    *,
    actor: Actor,
    settings: Settings,
    kind: str,
    period: str | None,
    region: str | None = None,
    as_of: str | datetime | None = None,
    fmt: str = "json",
    now: datetime | None = None,
) -> Context:
    """Validate a request (kind 404; period, format, as_of 422; region 422 or 403) and fix the time it reads at."""
    check_kind(kind)
    errors: dict[str, list[str]] = {}
    moment = now or datetime.now(UTC)
    parsed = None
    try:
        parsed = parse_period(period)
    except ValidationFailed as exc:
        errors.update(exc.errors)
    if fmt not in FORMATS:
        errors["format"] = [f"unknown format {fmt!r}; one of {', '.join(FORMATS)}"]
    read_at = None
    try:
        read_at = as_of if isinstance(as_of, datetime) else parse_as_of(as_of, moment)
    except ValidationFailed as exc:
        errors.update(exc.errors)
    if errors or parsed is None:
        raise ValidationFailed(errors, "The report request is invalid; see errors.")
    scope = resolve_scope(session, actor, region)
    return Context(
        session,
        settings,
        parsed,
        scope,
        (read_at or moment).astimezone(UTC),
        live=read_at is None,
        notes=sees_notes(actor, scope),
    )


def sees_notes(actor: Actor, scope: Scope) -> bool:
    """An officer's note reaches the school's own officer only: region, city and province reports (and the
    archive, written by the system) carry the reason's category, never the text."""
    return (
        actor.kind == "user"
        and actor.role == "school_officer"
        and scope.level == "school"
        and scope.code == actor.school_code
    )


def prepare(
    session: Session,
    *,
    actor: Actor,
    settings: Settings,
    kind: str,
    period: str | None,
    region: str | None = None,
    as_of: str | datetime | None = None,
    fmt: str = "json",
) -> Report:
    """Validate and compute a report now (its long sections stay queries until rendered); nothing is written."""
    ctx = context(
        session, actor=actor, settings=settings, kind=kind, period=period, region=region, as_of=as_of, fmt=fmt
    )
    return KINDS[kind](ctx)


def generate(
    session: Session,
    *,
    actor: Actor,
    settings: Settings,
    kind: str,
    period: str | None,
    region: str | None = None,
    fmt: str = "json",
    as_of: str | datetime | None = None,
    request_id: str | None = None,
    section: str | None = None,
) -> Generated:
    """Validate and audit a request; the report is computed, as of the time fixed here, as its bytes are read."""
    # The caller commits first (the audit event stays even if the reader stops), then reads `chunks`:
    # the report is built in the next transaction, as of the time fixed here.
    ctx = context(
        session, actor=actor, settings=settings, kind=kind, period=period, region=region, as_of=as_of, fmt=fmt
    )
    meta = {
        "kind": kind,
        "period": ctx.period.label,
        "region": ctx.scope.code,
        "as_of": utc_text(ctx.as_of),
        "format": fmt,
        "feed_watermark": ctx.watermark(),
        **({"section": section} if section else {}),
    }
    audit.record(
        session,
        actor=actor,
        action="report.generated",
        subject=f"report:{kind}/{ctx.scope.code}/{ctx.period.label}",
        summary=meta,
        request_id=request_id,
    )
    made = Generated(
        kind,
        fmt,
        MEDIA_TYPES[fmt],
        filename(f"{kind}_{section}" if section else kind, ctx.scope.code, ctx.period.label, fmt),
        utc_text(ctx.as_of),
        iter(()),
        section=section,
    )
    made.chunks = _stream(ctx, made)
    return made


def _stream(ctx: Context, made: Generated) -> Iterator[bytes]:
    made.report = KINDS[made.kind](ctx)
    if made.section is not None:
        made.report.sections = [s for s in made.report.sections if s.key == made.section]
    yield from render(made.report, made.format)


def subject(report: Report) -> str:
    """The audit subject of a report: kind, region and period."""
    meta = report.meta
    return f"report:{report.kind}/{meta['region']['code']}/{meta['period']['label']}"


def summary(report: Report) -> ReportSummary:
    """What the audit trail keeps of a report: its reproducibility record, no personal data."""
    meta = report.meta
    return {
        "kind": report.kind,
        "period": meta["period"]["label"],
        "region": meta["region"]["code"],
        "as_of": meta["as_of"],
        "rule_set_versions": meta["rule_set_versions"],
        "feed_watermark": meta["feed_watermark"],
        "empty": report.empty,
    }


__all__ = [
    "FORMATS",
    "KINDS",
    "Generated",
    "ReportSummary",
    "check_kind",
    "context",
    "generate",
    "prepare",
    "subject",
    "summary",
]
