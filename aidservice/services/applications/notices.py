"""The public notice (公示) of a school's identification results: name, class and level only, by revision.

Never the ID number, address, phone, birth date, or the category or reason (e.g. 低保): the entries
are built from those three fields alone, so nothing else can leak into any format.

A school has at most one open notice per school year at a time; publishing an application puts it on
the open one (a new one when none is open). Each application keeps its own full period of
the rule set's `procedure.notice_working_days` working days (rules/procedure.yaml; weekends and
`AID_HOLIDAYS` excluded) from the day it was published, and the notice closes with its last entry.
"""

from __future__ import annotations

from datetime import date
from typing import TypedDict

from sqlalchemy import select
from sqlalchemy.orm import Session

from aidservice.models import Application, Notice, NoticeRevision, NoticeSettings, School
from aidservice.services import audit
from aidservice.services.actors import Actor
from aidservice.services.applications.notice_revisions import (
    LISTED_STATES,
    REASONS,
    latest_revision,
    listed_entries,
    revisions_of,
)
from aidservice.services.applications.procedure import add_working_days
from aidservice.services.applications.scope import check_read
from aidservice.services.context import Settings
from aidservice.services.errors import NotFound
from aidservice.services.hidden import check_visible, not_found

__all__ = ["LISTED_STATES", "get_notice", "get_revision", "list_notices", "place_on_notice"]


class NoticeHeader(TypedDict):
    id: int
    school_code: str
    school_name: str
    school_year: str
    opened_on: date
    closes_on: date
    working_days: int
    open: bool
    revision: int
    revised_on: date
    entries_count: int


class NoticeEntry(TypedDict):
    """Name, class and level only (see the module docstring)."""

    name: str
    class_name: str
    level: str
    level_label: str


class NoticeChange(TypedDict):
    """One line of a revision's 更正说明: `from_level` None for an entry added, `to_level` None for one removed."""

    name: str
    class_name: str
    from_level: str | None
    from_label: str | None
    to_level: str | None
    to_label: str | None


class RevisionSummary(TypedDict):
    number: int
    revised_on: date
    reason: str
    reason_label: str
    entries_count: int


class NoticeView(NoticeHeader):
    """A notice as of one revision (the latest unless asked): its entries, the changes from the revision
    before, every revision, and what the school prints on it."""

    entries: list[NoticeEntry]
    reason: str
    reason_label: str
    changes: list[NoticeChange]
    revisions: list[RevisionSummary]
    contact_phone: str
    signoff: str


class NoticeList(TypedDict):
    items: list[NoticeHeader]


def notice_period_end(settings: Settings, start: date) -> date:
    """Last day of a notice period of the rules' `procedure.notice_working_days` working days from `start`."""
    return add_working_days(start, settings.rules.procedure.notice_working_days, settings.holidays)


def place_on_notice(
    session: Session, application: Application, *, actor: Actor, settings: Settings, request_id: str | None
) -> Notice:
    """Put an application on its school's open notice for the year (opening one when none is open)."""
    today = settings.current_date()
    closes = notice_period_end(settings, today)
    notice = session.execute(
        select(Notice)
        .where(
            Notice.school_code == application.school_code,
            Notice.school_year == application.school_year,
            Notice.opened_on <= today,
            Notice.closes_on >= today,
        )
        .order_by(Notice.id.desc())
        .limit(1)
    ).scalar_one_or_none()
    subject = f"school:{application.school_code}"
    if notice is None:
        notice = Notice(
            school_code=application.school_code,
            school_year=application.school_year,
            opened_on=today,
            closes_on=closes,
            working_days=settings.rules.procedure.notice_working_days,
            created_by=actor.label,
        )
        session.add(notice)
        session.flush()
        audit.record(
            session,
            actor=actor,
            action="notice.open",
            subject=subject,
            summary={
                "notice_id": notice.id,
                "school_year": notice.school_year,
                "opened_on": today.isoformat(),
                "closes_on": closes.isoformat(),
                "working_days": notice.working_days,
            },
            request_id=request_id,
        )
    elif closes > notice.closes_on:
        audit.record(
            session,
            actor=actor,
            action="notice.extend",
            subject=subject,
            summary={
                "notice_id": notice.id,
                "closes_on": {"before": notice.closes_on.isoformat(), "after": closes.isoformat()},
            },
            request_id=request_id,
        )
        notice.closes_on = closes
    application.notice_id = notice.id
    application.notice_published_on = today
    application.notice_closes_on = closes
    return notice


def _school(session: Session, actor: Actor, school_code: str) -> School:
    school = session.get(School, school_code)
    if school is None:
        raise NotFound(f"No school {school_code}.")
    check_read(actor, school, f"School {school_code}")
    return school


def _stored(session: Session, notice: Notice) -> list[NoticeRevision]:
    """The notice's revisions; a notice made before revisions existed (none stored) reads as one revision
    of its current entries, dated the day it opened (as the migration backfills it)."""
    revisions = revisions_of(session, notice.id)
    if revisions:
        return revisions
    return [
        NoticeRevision(
            notice_id=notice.id,
            number=1,
            revised_on=notice.opened_on,
            reason="initial",
            entries=listed_entries(session, notice.id),
            changes=[],
            created_by=notice.created_by,
        )
    ]


def _header(notice: Notice, school: School, settings: Settings, latest: NoticeRevision) -> NoticeHeader:
    today = settings.current_date()
    return {
        "id": notice.id,
        "school_code": school.code,
        "school_name": school.name,
        "school_year": notice.school_year,
        "opened_on": notice.opened_on,
        "closes_on": notice.closes_on,
        "working_days": notice.working_days,
        "open": notice.opened_on <= today <= notice.closes_on,
        "revision": latest.number,
        "revised_on": latest.revised_on,
        "entries_count": len(latest.entries),
    }


def list_notices(session: Session, *, actor: Actor, settings: Settings, school_code: str) -> NoticeList:
    """The school's notices, newest first, without entries."""
    school = _school(session, actor, school_code)
    notices = session.execute(
        select(Notice).where(Notice.school_code == school.code).order_by(Notice.id.desc())
    ).scalars()
    items = []
    for notice in notices:
        latest = latest_revision(session, notice.id) or _stored(session, notice)[-1]
        items.append(_header(notice, school, settings, latest))
    return {"items": items}


def get_notice(
    session: Session, *, actor: Actor, settings: Settings, school_code: str, notice_id: int
) -> NoticeView:
    """One notice as of its latest revision: entries with name, class and level (code and label) only; a
    notice of a school outside the caller's scope is one that does not exist (404, see hidden)."""
    return get_revision(
        session, actor=actor, settings=settings, school_code=school_code, notice_id=notice_id, number=None
    )


def get_revision(
    session: Session,
    *,
    actor: Actor,
    settings: Settings,
    school_code: str,
    notice_id: int,
    number: int | None,
) -> NoticeView:
    """One revision of a notice (None: the latest), as published that day; 404 for a revision it never had."""
    school = session.get(School, school_code)
    notice = session.get(Notice, notice_id)
    if school is None or notice is None or notice.school_code != school.code:
        raise not_found("notice")
    check_visible(actor, school, "notice")
    revisions = _stored(session, notice)
    chosen = revisions[-1] if number is None else next((r for r in revisions if r.number == number), None)
    if chosen is None:
        raise not_found("notice revision")
    labels = settings.rules.rules.level_labels

    def label(level: str | None) -> str | None:
        return None if level is None else labels.get(level, level)

    entries: list[NoticeEntry] = [
        {
            "name": e["name"],
            "class_name": e["class_name"],
            "level": e["level"],
            "level_label": labels.get(e["level"], e["level"]),
        }
        for e in chosen.entries
    ]
    changes: list[NoticeChange] = [
        {
            "name": c["name"],
            "class_name": c["class_name"],
            "from_level": c["from"],
            "from_label": label(c["from"]),
            "to_level": c["to"],
            "to_label": label(c["to"]),
        }
        for c in chosen.changes
    ]
    stored_settings = session.get(NoticeSettings, school.code)
    return {
        **_header(notice, school, settings, chosen),
        "entries": entries,
        "reason": chosen.reason,
        "reason_label": REASONS.get(chosen.reason, chosen.reason),
        "changes": changes,
        "revisions": [
            {
                "number": r.number,
                "revised_on": r.revised_on,
                "reason": r.reason,
                "reason_label": REASONS.get(r.reason, r.reason),
                "entries_count": len(r.entries),
            }
            for r in revisions
        ],
        "contact_phone": stored_settings.contact_phone if stored_settings else "",
        "signoff": (stored_settings.signoff if stored_settings else "") or default_signoff(school.name),
    }


def default_signoff(school_name: str) -> str:
    """The sign-off printed when the school set none."""
    return f"{school_name}学生资助工作组"
