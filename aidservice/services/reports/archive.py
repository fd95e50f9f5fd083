"""The report archive and the schedule that fills it: monthly and end-of-semester reports, generated once each.

Due reports at time `now` (Jiangsu time, UTC+8), each read from history as of its due moment, so a late or
repeated run produces the same report and finds it already archived:

- monthly: at 00:00 on the 1st of each month, the semester the previous day belongs to (so far);
- end of semester: at 00:00 on 1 March the autumn semester, at 00:00 on 1 September the spring semester and
  the whole school year just ended (the 1 March / 1 September monthly report is the same report, kept once).

Only the latest due moment of each kind is generated (missed months are not back-filled). Every kind is
generated for the province and each city (or the regions given), in each format asked for. The key
(kind, period, region, format, as-of day) is unique: a second run skips what exists, and a concurrent run
that loses the race skips it too.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any, TypedDict

from sqlalchemy import Row, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from aidservice.models import Region, School
from aidservice.models.report import ArchivedReport
from aidservice.services import audit
from aidservice.services.actors import Actor, in_region
from aidservice.services.context import Settings
from aidservice.services.errors import Forbidden, ValidationFailed
from aidservice.services.hidden import not_found
from aidservice.services.reports import KINDS, prepare, subject, summary
from aidservice.services.reports.common import Report
from aidservice.services.reports.periods import LOCAL, school_year_of, spring_start, utc_text
from aidservice.services.reports.render import FORMATS, MEDIA_TYPES, filename, render

DEFAULT_FORMATS = ("xlsx", "json")
LIST_MAX = 500


@dataclass(frozen=True, slots=True)
class Due:
    """One report the schedule owes: kind, period, region, format and the moment it is read at."""

    kind: str
    period: str
    region: str
    format: str
    as_of: datetime
    cause: str  # monthly | semester | school_year

    @property
    def as_of_day(self) -> date:
        return self.as_of.astimezone(LOCAL).date()


class DueEntry(TypedDict):
    """A due report as a schedule run lists it (`as_of` in UTC, ISO 8601)."""

    kind: str
    period: str
    region: str
    format: str
    as_of: str
    cause: str


class ArchivedEntry(DueEntry):
    """A due report the run archived: its archive id, the sha256 and size of its bytes."""

    id: int
    content_hash: str
    size: int


@dataclass(slots=True)
class ScheduleResult:
    """What a schedule run did: archived (new) and skipped (already there) reports."""

    now: str
    archived: list[ArchivedEntry] = field(default_factory=list)
    skipped: list[DueEntry] = field(default_factory=list)


class ArchiveEntry(TypedDict):
    """An archived report without its bytes: what makes it reproducible and the hash of its bytes."""

    id: int
    kind: str
    period: str
    region: str
    region_level: str
    format: str
    as_of: str  # UTC, ISO 8601
    rule_set_versions: dict[str, list[str]]
    feed_watermark: list[dict[str, Any]]
    empty: bool
    filename: str
    media_type: str
    size: int
    content_hash: str
    trigger: str
    created_by: str
    created_at: str  # UTC, ISO 8601


class ArchiveList(TypedDict):
    """A page of the archive, newest first, and how many entries the filter matches in all."""

    items: list[ArchiveEntry]
    total: int


def _midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=LOCAL).astimezone(UTC)


def due_moments(now: datetime) -> list[tuple[str, datetime, str]]:
    """[(period, as_of, cause)]: the latest monthly report and the latest end-of-semester reports."""
    local = now.astimezone(LOCAL)
    first = local.date().replace(day=1)
    previous = first - timedelta(days=1)
    year = school_year_of(previous)
    semester = "spring" if previous >= spring_start(year) else "autumn"
    out = [(f"{year}-{semester}", _midnight(first), "monthly")]
    boundaries = [date(local.year, 9, 1), date(local.year, 3, 1), date(local.year - 1, 9, 1)]
    boundary = max(b for b in boundaries if b <= local.date())
    ended = school_year_of(boundary - timedelta(days=1))
    if boundary.month == 3:
        out.append((f"{ended}-autumn", _midnight(boundary), "semester"))
    else:
        out.append((f"{ended}-spring", _midnight(boundary), "semester"))
        out.append((ended, _midnight(boundary), "school_year"))
    seen: set[tuple[str, datetime]] = set()
    unique = []
    for period, moment, cause in out:
        if (period, moment) not in seen:
            seen.add((period, moment))
            unique.append((period, moment, cause))
    return unique


def due_reports(
    session: Session,
    now: datetime,
    regions: Sequence[str] | None = None,
    formats: Sequence[str] = DEFAULT_FORMATS,
) -> list[Due]:
    """Every report due at `now`: each due moment x kind x region (province and cities by default) x format."""
    bad = [f for f in formats if f not in FORMATS]
    if bad:
        raise ValidationFailed({"format": [f"unknown format {', '.join(bad)}; one of {', '.join(FORMATS)}"]})
    if regions is None:
        cities = session.execute(
            select(Region.code).where(Region.level == "city").order_by(Region.code)
        ).scalars()
        regions = ["320000", *cities]
    return [
        Due(kind, period, region, fmt, moment, cause)
        for period, moment, cause in due_moments(now)
        for kind in KINDS
        for region in regions
        for fmt in formats
    ]


def archive_one(
    session: Session,
    *,
    actor: Actor,
    settings: Settings,
    due: Due,
    trigger: str = "schedule",
    request_id: str | None = None,
) -> ArchivedReport | None:
    """Generate and store one due report; None when the archive already has it (this run or another)."""
    if _existing(session, due) is not None:
        return None
    report = prepare(
        session,
        actor=actor,
        settings=settings,
        kind=due.kind,
        period=due.period,
        region=due.region,
        as_of=due.as_of,
        fmt=due.format,
    )
    content = b"".join(render(report, due.format))
    meta = report.meta
    row = ArchivedReport(
        kind=due.kind,
        period=due.period,
        region_code=meta["region"]["code"],
        access_region=_access_region(session, report),
        region_level=meta["region"]["level"],
        format=due.format,
        as_of=due.as_of,
        as_of_day=due.as_of_day,
        rule_set_versions=meta["rule_set_versions"],
        feed_watermark=meta["feed_watermark"],
        empty=report.empty,
        media_type=MEDIA_TYPES[due.format],
        filename=filename(due.kind, meta["region"]["code"], due.period, due.format),
        size=len(content),
        content_hash=hashlib.sha256(content).hexdigest(),
        content=content,
        trigger=trigger,
        created_by=actor.label,
    )
    try:
        with session.begin_nested():
            session.add(row)
            session.flush()
    except IntegrityError:
        return None  # a concurrent run archived it first
    audit.record(
        session,
        actor=actor,
        action="report.archived",
        subject=subject(report),
        summary={
            **summary(report),
            "format": due.format,
            "archive_id": row.id,
            "content_hash": row.content_hash,
            "cause": due.cause,
            "trigger": trigger,
        },
        request_id=request_id,
    )
    return row


def _existing(session: Session, due: Due) -> int | None:
    return session.execute(
        select(ArchivedReport.id).where(
            ArchivedReport.kind == due.kind,
            ArchivedReport.period == due.period,
            ArchivedReport.region_code == due.region,
            ArchivedReport.format == due.format,
            ArchivedReport.as_of_day == due.as_of_day,
        )
    ).scalar_one_or_none()


def _access_region(session: Session, report: Report) -> str:
    region = report.meta["region"]
    if region["level"] != "school":
        return region["code"]
    school = session.get(School, region["code"])
    return school.region_code if school is not None else region["code"]


def run_schedule(
    session: Session,
    *,
    actor: Actor,
    settings: Settings,
    now: datetime | None = None,
    regions: Sequence[str] | None = None,
    formats: Sequence[str] = DEFAULT_FORMATS,
    checkpoint: Callable[[], None] | None = None,
    progress: Callable[[Due, bool], None] | None = None,
) -> ScheduleResult:
    """Archive every report due at `now` that is not archived yet; `checkpoint` (the CLI's commit) after each."""
    moment = (now or datetime.now(UTC)).astimezone(UTC)
    result = ScheduleResult(now=utc_text(moment))
    for due in due_reports(session, moment, regions, formats):
        row = archive_one(session, actor=actor, settings=settings, due=due)
        entry = DueEntry(
            kind=due.kind,
            period=due.period,
            region=due.region,
            format=due.format,
            as_of=utc_text(due.as_of),
            cause=due.cause,
        )
        if row is None:
            result.skipped.append(entry)
        else:
            result.archived.append(
                ArchivedEntry(**entry, id=row.id, content_hash=row.content_hash, size=row.size)
            )
        if checkpoint is not None:
            checkpoint()
        if progress is not None:
            progress(due, row is not None)
    return result


# ---------------------------------------------------------------------------------------- reading


def _visible(actor: Actor) -> Any:
    """SQL condition: archived reports the actor may read (403 for agency clients)."""
    if actor.kind == "client":
        raise Forbidden("The report archive is for signed-in users, not agency clients.")
    if actor.kind == "system" or actor.is_auditor:
        return ArchivedReport.id.is_not(None)
    if actor.role == "school_officer":
        return ArchivedReport.region_code == (actor.school_code or "-")
    if actor.is_admin and actor.region_code:
        return in_region(ArchivedReport.access_region, actor.region_code)
    raise Forbidden("Your role does not reach reports.")


def may_read(actor: Actor, row: ArchivedReport) -> bool:
    if row.region_level == "school":
        return actor.reaches_school(row.region_code, row.access_region)
    return actor.kind != "client" and actor.reaches_region(row.region_code)


def entry_view(row: ArchivedReport | Row[Any]) -> ArchiveEntry:
    """An archive entry without its bytes (from the model, or a row of its columns but `content`)."""
    return {
        "id": row.id,
        "kind": row.kind,
        "period": row.period,
        "region": row.region_code,
        "region_level": row.region_level,
        "format": row.format,
        "as_of": utc_text(_aware(row.as_of)),
        "rule_set_versions": row.rule_set_versions,
        "feed_watermark": row.feed_watermark,
        "empty": row.empty,
        "filename": row.filename,
        "media_type": row.media_type,
        "size": row.size,
        "content_hash": row.content_hash,
        "trigger": row.trigger,
        "created_by": row.created_by,
        "created_at": utc_text(_aware(row.created_at)),
    }


def _aware(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def list_archive(
    session: Session,
    *,
    actor: Actor,
    settings: Settings,
    kind: str | None = None,
    period: str | None = None,
    region: str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> ArchiveList:
    """Archived reports in the caller's scope, newest first, optionally by kind, period and region."""
    conditions = [_visible(actor)]
    if kind is not None:
        conditions.append(ArchivedReport.kind == kind)
    if period is not None:
        conditions.append(ArchivedReport.period == period)
    if region is not None:
        conditions.append(ArchivedReport.region_code == region)
    columns = [c for c in ArchivedReport.__table__.columns if c.key != "content"]
    total = session.scalar(select(func.count()).select_from(ArchivedReport).where(*conditions)) or 0
    rows = session.execute(
        select(*columns)
        .where(*conditions)
        .order_by(ArchivedReport.as_of.desc(), ArchivedReport.id.desc())
        .limit(min(limit, LIST_MAX))
        .offset(offset)
    ).all()
    return {"items": [entry_view(r) for r in rows], "total": total}


def download(
    session: Session, *, actor: Actor, settings: Settings, report_id: int, request_id: str | None = None
) -> tuple[ArchiveEntry, bytes]:
    """An archived report's entry and bytes (404 unknown or outside the caller's scope, see hidden); audited."""
    if actor.kind == "client":
        raise Forbidden("The report archive is for signed-in users, not agency clients.")
    row = session.get(ArchivedReport, report_id)
    if row is None or not may_read(actor, row):
        raise not_found("archived report")
    audit.record(
        session,
        actor=actor,
        action="report.downloaded",
        subject=f"report:{row.kind}/{row.region_code}/{row.period}",
        summary={"archive_id": row.id, "format": row.format, "content_hash": row.content_hash},
        request_id=request_id,
    )
    return entry_view(row), row.content


def select_regions(values: Iterable[str]) -> list[str] | None:
    """Region codes from repeated or comma-separated options; None (province and cities) when none."""
    codes = [code.strip() for value in values for code in value.split(",") if code.strip()]
    return codes or None
