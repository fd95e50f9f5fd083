"""Reading applications: one loaded to act on, one for the officer's screen, and a page of them within the
caller's scope (officer: their school; administrators: their region; auditors: all), newest first.

The most frequent route reads an application, its school's scope, its student's brief and its history in one
round trip (`APPLICATION_READ`); a list reads only the columns an item shows.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, bindparam, exists, func, select
from sqlalchemy.orm import Session, contains_eager

from aidservice.models import Application, ApplicationAction, School, StatusDeclaration, Student
from aidservice.services.actors import Actor, in_region
from aidservice.services.applications.scope import check_read
from aidservice.services.applications.views import (
    BRIEF_COLUMNS,
    HISTORY_FIELDS,
    ApplicationList,
    ApplicationView,
    application_view,
    student_brief,
)
from aidservice.services.context import Settings
from aidservice.services.errors import Forbidden, NotFound
from aidservice.services.hidden import check_visible, not_found

LIST_MAX = 1000


def load(session: Session, application_id: int) -> Application:
    """The application, with its school and student in the same query: every caller checks the school's scope
    and shows the student, and `session.get` then finds both in the identity map instead of asking again."""
    application = session.execute(
        select(Application)
        .join(Application.school)
        .join(Application.student)
        .options(contains_eager(Application.school), contains_eager(Application.student))
        .where(Application.id == application_id)
    ).scalar_one_or_none()
    if application is None:
        raise not_found("application")
    return application


APPLICATION_READ = (
    select(
        Application,
        School.code,
        School.region_code,
        *BRIEF_COLUMNS,
        *(getattr(ApplicationAction, name).label(f"history_{name}") for name in HISTORY_FIELDS),
        exists()
        .where(StatusDeclaration.application_id == Application.id)
        .label("has_declarations"),  # read them only when there are some
    )
    .join(School, School.code == Application.school_code)
    .join(Student, Student.id == Application.student_pk)
    .outerjoin(ApplicationAction, ApplicationAction.application_id == Application.id)
    .where(Application.id == bindparam("application_id"))
    .order_by(ApplicationAction.id)
)
"""The application, its school's scope, its student's brief and its history, one row per history entry: one round
trip on the most frequent route (each is also a wait for the worker's event loop), and no more columns than the
view shows (every column read costs CPU in the driver and the ORM); built once, as statements are immutable."""


def get_application(
    session: Session, *, actor: Actor, settings: Settings, application_id: int
) -> ApplicationView:
    rows = session.execute(APPLICATION_READ, {"application_id": application_id}).all()
    if not rows:
        raise not_found("application")
    row = rows[0]
    check_visible(actor, row, "application")
    history = [
        {name: getattr(r, f"history_{name}") for name in HISTORY_FIELDS}
        for r in rows
        if r.history_action is not None
    ]
    return application_view(
        session, row[0], settings, student=row, history=history, declarations=row.has_declarations
    )


def list_applications(
    session: Session,
    *,
    actor: Actor,
    settings: Settings,
    school: str | None = None,
    state: str | None = None,
    school_year: str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> ApplicationList:
    """Applications in the caller's scope (officer: their school; administrators: their region), newest first."""
    if actor.kind != "user" and actor.kind != "system":
        raise Forbidden("Applications are for signed-in users.")
    conditions = []
    region_filter = None
    if school is not None:
        row = session.execute(select(School.code, School.region_code).where(School.code == school)).first()
        if row is None:
            raise NotFound(f"No school {school}.")
        check_read(actor, row, f"School {school}")
        conditions.append(Application.school_code == school)
    elif actor.role == "school_officer":
        conditions.append(Application.school_code == actor.school_code)
    elif actor.is_admin:
        region_filter = in_region(School.region_code, actor.region_code or "")
    elif not (actor.kind == "system" or actor.is_auditor):
        raise Forbidden("Your role does not reach applications.")
    if state is not None:
        conditions.append(Application.state == state)
    if school_year is not None:
        conditions.append(Application.school_year == school_year)

    def scoped(query: Select[Any]) -> Select[Any]:
        if region_filter is not None:
            query = query.join(School, School.code == Application.school_code).where(region_filter)
        return query.where(*conditions)

    # every application has its student (a non-null foreign key), so counting needs no join to students
    total = session.scalar(scoped(select(func.count()).select_from(Application))) or 0  # count(*): index-only
    rows = session.execute(
        scoped(select(*LIST_COLUMNS).join(Student, Student.id == Application.student_pk))
        .order_by(Application.id.desc())
        .limit(min(limit, LIST_MAX))
        .offset(offset)
    ).all()
    return {
        "items": [
            {
                "id": r.id,
                "student": student_brief(r),
                "school_code": r.school_code,
                "school_year": r.school_year,
                "state": r.state,
                "version": r.version,
                "level": r.level,
                "conflicts": len(r.conflicts or []),
                "notice_closes_on": r.notice_closes_on,
                "submitted_at": r.submitted_at,
            }
            for r in rows
        ],
        "total": total,
    }


LIST_COLUMNS = (
    Application.id,
    Application.school_code,
    Application.school_year,
    Application.state,
    Application.version,
    Application.level,
    Application.conflicts,
    Application.notice_closes_on,
    Application.submitted_at,
    Student.student_id,
    Student.name,
    Student.id_mask,
    Student.class_name,
    Student.stage,
    Student.grade,
)
"""What a list item shows: the large JSON columns (facts, result, declared) stay in the database."""
