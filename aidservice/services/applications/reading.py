"""Reading applications: one loaded to act on, one for the officer's screen, and a page of them within the
caller's scope (officer: their school; administrators: their region; auditors: all), newest first.

The most frequent route reads an application, its school's scope, its student's brief and its history in one
round trip (`APPLICATION_READ`); a list reads only the columns an item shows.
"""

from __future__ import annotations

from sqlalchemy import bindparam, exists, select
from sqlalchemy.orm import Session, contains_eager

from aidservice.models import Application, ApplicationAction, School, StatusDeclaration, Student
from aidservice.services.actors import Actor
from aidservice.services.applications.views import (
    BRIEF_COLUMNS,
    HISTORY_FIELDS,
    ApplicationView,
    application_view,
)
from aidservice.services.context import Settings
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
