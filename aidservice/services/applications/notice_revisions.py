"""A notice's revisions (公示版次): what was published is never silently changed.

The first entries published on a notice make its revision 1. Afterwards, whenever a step changes what the
notice lists, the listed entries are compared with the latest revision's: an upheld objection or a
reassessment that changes a listed level, or a rejection (or a reassessment to no difficulty) that removes
an entry, makes a new revision dated today with its reason and the changes (更正说明). Entries published on
the day of the latest revision join it; published on a later day, they make a new revision. Each revision
keeps its entries frozen: name, class and level only (and the application's id, never shown, to tell what
changed next time), so a later roster edit never alters a revision already published.

Callers hold the writers' mutex (`audit.lock_writers`): two steps on one notice never number a revision twice.
"""

from __future__ import annotations

from typing import Any, TypedDict, cast

from sqlalchemy import select
from sqlalchemy.orm import Session

from aidservice.engine.result import LEVELS
from aidservice.i18n_marker import N_
from aidservice.models import Application, Notice, NoticeRevision, Student
from aidservice.services import audit
from aidservice.services.actors import Actor
from aidservice.services.context import Settings

LISTED_STATES = ("notice", "objected", "approved")
"""Entries shown: on notice, under objection review, approved (a rejected application leaves the notice)."""
REASONS = {
    "initial": N_("首次公示"),
    "addition": N_("新增公示名单"),
    "objection": N_("异议复核调整等级"),
    "reassess": N_("重新认定"),
    "rejection": N_("撤销认定"),
}
"""Why a revision was made (the step that made it), with its label."""
REASON_OF_ACTION = {
    "publish_notice": "addition",
    "resolve": "objection",
    "reassess": "reassess",
    "reject": "rejection",
}
"""The application steps that may change what a notice lists, and the reason a revision they make gives."""


class StoredEntry(TypedDict):
    application_id: int
    name: str
    class_name: str
    level: str


def listed_entries(session: Session, notice_id: int) -> list[StoredEntry]:
    """What the notice lists now, from its applications, in the notice's order."""
    rows = session.execute(
        select(Application.id, Student.name, Student.class_name, Application.level)
        .join(Student, Student.id == Application.student_pk)
        .where(
            Application.notice_id == notice_id,
            Application.state.in_(LISTED_STATES),
            Application.level != "none",
        )
    ).all()
    return sort_entries(
        [{"application_id": i, "name": n, "class_name": c, "level": lv} for i, n, c, lv in rows]
    )


def sort_entries(entries: list[Any]) -> list[Any]:
    """By class, then the higher level first, then name."""
    return sorted(entries, key=lambda e: (e["class_name"], -LEVELS.index(e["level"]), e["name"]))


def revisions_of(session: Session, notice_id: int) -> list[NoticeRevision]:
    """The notice's revisions, oldest first."""
    return list(
        session.execute(
            select(NoticeRevision)
            .where(NoticeRevision.notice_id == notice_id)
            .order_by(NoticeRevision.number)
        ).scalars()
    )


def latest_revision(session: Session, notice_id: int) -> NoticeRevision | None:
    return session.execute(
        select(NoticeRevision)
        .where(NoticeRevision.notice_id == notice_id)
        .order_by(NoticeRevision.number.desc())
        .limit(1)
    ).scalar_one_or_none()


def _changes(before: list[dict[str, Any]], after: list[StoredEntry]) -> list[dict[str, Any]]:
    """Who was added, changed level or removed: [{application_id, name, class_name, from, to}]."""
    old = {e["application_id"]: e for e in before}
    new = {e["application_id"]: e for e in after}
    changes: list[dict[str, Any]] = []
    for key in sorted(old.keys() | new.keys()):
        was, now = old.get(key), new.get(key)
        if was is not None and now is not None and was["level"] == now["level"]:
            continue
        shown = now or was
        assert shown is not None
        changes.append(
            {
                "application_id": key,
                "name": shown["name"],
                "class_name": shown["class_name"],
                "from": was["level"] if was else None,
                "to": now["level"] if now else None,
            }
        )
    return sort_entries_by_name(changes)


def sort_entries_by_name(changes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(changes, key=lambda c: (c["class_name"], c["name"], c["application_id"]))


def revise(
    session: Session,
    notice: Notice,
    *,
    action: str,
    actor: Actor,
    settings: Settings,
    request_id: str | None,
) -> NoticeRevision | None:
    """Record a new revision of the notice when what it lists changed (see the module docstring).

    Returns the revision made (or joined), None when nothing listed changed.
    """
    today = settings.current_date()
    entries = listed_entries(session, notice.id)
    latest = latest_revision(session, notice.id)
    if latest is None:
        revision = NoticeRevision(
            notice_id=notice.id,
            number=1,
            revised_on=today,
            reason="initial",
            entries=list(entries),
            changes=[],
            created_by=actor.label,
        )
        session.add(revision)
        session.flush()
        return revision  # the notice's opening is audited (notice.open)
    changes = _changes(latest.entries, entries)
    if not changes:
        return None
    reason = REASON_OF_ACTION[action]
    only_added = all(c["from"] is None for c in changes)
    if reason == "addition" and only_added and latest.revised_on == today:
        latest.entries = cast(
            list[dict[str, Any]], list(entries)
        )  # joins the day's revision (new lists: the JSON columns see a change)
        if latest.number > 1:  # a correction's revision: its additions are among its changes, audited
            latest.changes = sort_entries_by_name([*latest.changes, *changes])
            _audit(session, notice, latest, actor=actor, request_id=request_id, changes=changes)
        return latest
    revision = NoticeRevision(
        notice_id=notice.id,
        number=latest.number + 1,
        revised_on=today,
        reason=reason,
        entries=list(entries),
        changes=changes,
        created_by=actor.label,
    )
    session.add(revision)
    session.flush()
    _audit(session, notice, revision, actor=actor, request_id=request_id, changes=changes)
    return revision


def _audit(
    session: Session,
    notice: Notice,
    revision: NoticeRevision,
    *,
    actor: Actor,
    request_id: str | None,
    changes: list[Any],
) -> None:
    """`notice.revised`: which revision, why, and which applications it changed (by id: no names)."""
    audit.record(
        session,
        actor=actor,
        action="notice.revised",
        subject=f"school:{notice.school_code}",
        summary={
            "notice_id": notice.id,
            "revision": revision.number,
            "revised_on": revision.revised_on.isoformat(),
            "reason": revision.reason,
            "applications": sorted(c["application_id"] for c in changes),
        },
        request_id=request_id,
    )
