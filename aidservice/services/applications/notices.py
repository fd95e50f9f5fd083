"""The public notice (公示) of a school's identification results: name, class and level only.

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

from aidservice.engine.result import LEVELS
from aidservice.models import Application, Notice, School, Student
from aidservice.services import audit
from aidservice.services.actors import Actor
from aidservice.services.applications.procedure import add_working_days
from aidservice.services.applications.scope import check_read
from aidservice.services.context import Settings
from aidservice.services.errors import NotFound
from aidservice.services.hidden import check_visible, not_found

LISTED_STATES = ("notice", "objected", "approved")
"""Entries shown: on notice, under objection review, approved (a rejected application leaves the notice)."""


class NoticeHeader(TypedDict):
    id: int
    school_code: str
    school_name: str
    school_year: str
    opened_on: date
    closes_on: date
    working_days: int
    open: bool


class NoticeEntry(TypedDict):
    """Name, class and level only (see the module docstring)."""

    name: str
    class_name: str
    level: str
    level_label: str


class NoticeView(NoticeHeader):
    entries: list[NoticeEntry]


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


def _header(notice: Notice, school: School, settings: Settings) -> NoticeHeader:
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
    }


def list_notices(session: Session, *, actor: Actor, settings: Settings, school_code: str) -> NoticeList:
    """The school's notices, newest first, without entries."""
    school = _school(session, actor, school_code)
    notices = session.execute(
        select(Notice).where(Notice.school_code == school.code).order_by(Notice.id.desc())
    ).scalars()
    return {"items": [_header(n, school, settings) for n in notices]}


def get_notice(
    session: Session, *, actor: Actor, settings: Settings, school_code: str, notice_id: int
) -> NoticeView:
    """One notice with its entries: name, class and level (code and label) only; a notice of a school outside
    the caller's scope is one that does not exist (404, see hidden)."""
    school = session.get(School, school_code)
    notice = session.get(Notice, notice_id)
    if school is None or notice is None or notice.school_code != school.code:
        raise not_found("notice")
    check_visible(actor, school, "notice")
    labels = settings.rules.rules.level_labels
    rows = session.execute(
        select(Student.name, Student.class_name, Application.level)
        .join(Student, Student.id == Application.student_pk)
        .where(
            Application.notice_id == notice.id,
            Application.state.in_(LISTED_STATES),
            Application.level != "none",
        )
    ).all()
    entries: list[NoticeEntry] = sorted(
        (
            {"name": name, "class_name": class_name, "level": level, "level_label": labels.get(level, level)}
            for name, class_name, level in rows
        ),
        key=lambda e: (e["class_name"], -LEVELS.index(e["level"]), e["name"]),
    )
    return {**_header(notice, school, settings), "entries": entries}
