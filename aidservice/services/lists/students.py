"""The roster as a list: the students in the caller's scope, filtered, sorted and paged by a `ListFilter`.

One query builds the rows the page, the API and the export read (`_query`), so the three hold the same students.
Each row: the student (number masked), their school, their standing's level for the school year (the approved
decision's, else the system's pre-assessment: `services.standing.with_levels`, so filtering and sorting by
level use the same answer the page shows) and their newest application of the year with its state. A page's
rows also carry the whole standing (money and date), read for the page's students in one query.
"""

from __future__ import annotations

from collections.abc import Iterator
from math import ceil
from typing import Any, TypedDict

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session, aliased

from aidservice.models import Application, School, Student
from aidservice.services.actors import Actor, in_region
from aidservice.services.context import Settings
from aidservice.services.lists.filters import DEFAULT_SORT, ListFilter
from aidservice.services.lists.search import group_condition, text_condition
from aidservice.services.roster.directory import scope_condition
from aidservice.services.standing.standing import Levels, StandingView, standings, with_levels


class StudentRow(TypedDict):
    student_id: str
    name: str
    id_number: str  # masked
    school_code: str
    school_name: str
    class_name: str
    stage: str
    grade: int
    level: str | None  # the standing's: the approved decision's, else the pre-assessment's (系统预判)
    decided: bool  # the level is an approved decision's
    standing: StandingView | None  # on a page's rows (money and date); None in exports and before any answer
    application_id: int | None  # the newest of the school year
    application_state: str | None
    application_level: str | None


class StudentPage(TypedDict):
    items: list[StudentRow]
    total: int
    page: int
    per_page: int
    pages: int


LatestApplication = aliased(Application, name="latest_application")


def _latest(school_year: str) -> Any:
    return (
        select(Application.student_pk, func.max(Application.id).label("application_id"))
        .where(Application.school_year == school_year)
        .group_by(Application.student_pk)
        .subquery("latest")
    )


COLUMNS: tuple[Any, ...] = (
    Student.id.label("pk"),
    Student.student_id,
    Student.name,
    Student.id_mask,
    Student.school_code,
    School.name.label("school_name"),
    Student.class_name,
    Student.stage,
    Student.grade,
    LatestApplication.id.label("application_id"),
    LatestApplication.state.label("application_state"),
    LatestApplication.level.label("application_level"),
)


def _levels(actor: Actor, settings: Settings) -> Levels:
    """Every student of the caller's scope with their school, standing level and newest application."""
    latest = _latest(settings.school_year)
    query = (
        select(*COLUMNS)
        .join(School, School.code == Student.school_code)
        .outerjoin(latest, latest.c.student_pk == Student.id)
        .outerjoin(LatestApplication, LatestApplication.id == latest.c.application_id)
    )
    condition = scope_condition(actor)
    if condition is not None:
        query = query.where(condition)
    return with_levels(query, settings.school_year)


def _query(actor: Actor, settings: Settings, flt: ListFilter) -> Select[Any]:
    """Every student row of the filter, unsorted and unpaged."""
    levels = _levels(actor, settings)
    query = levels.query.add_columns(levels.level.label("level"), levels.decided.label("decided"))
    return query.where(*_conditions(actor, settings, flt, levels))


def _conditions(actor: Actor, settings: Settings, flt: ListFilter, levels: Levels) -> list[Any]:
    out: list[Any] = []
    if flt.region:  # a filter inside the caller's scope: a region outside it matches nothing
        region: Any = School.region_code
        out.append(in_region(region, flt.region))
    if flt.school:
        out.append(Student.school_code == flt.school)
    if flt.q:
        out.append(text_condition(actor, settings, flt.q))
    if flt.state:
        out.append(LatestApplication.state == flt.state)
    if flt.level:
        out.append(levels.level == flt.level)
    if flt.group:
        out.append(group_condition(settings, flt.group, settings.current_date()))
    if flt.stage:
        out.append(Student.stage == flt.stage)
    if flt.grade is not None:
        out.append(Student.grade == flt.grade)
    if flt.class_name:
        out.append(Student.class_name == flt.class_name)
    return out


SORT_COLUMNS: dict[str, Any] = {
    "student_id": Student.student_id,
    "name": Student.name,
    "school": Student.school_code,
    "class_name": Student.class_name,
    "stage": Student.stage,
    "grade": Student.grade,
    "level": None,  # the standing's level: a column of each query (`_sorted`)
    "state": LatestApplication.state,
}


def _sorted(query: Select[Any], flt: ListFilter) -> Select[Any]:
    name = flt.sort or DEFAULT_SORT["students"]
    column = query.selected_columns.level if name == "level" else SORT_COLUMNS[name]
    key = column.desc() if flt.desc else column.asc()
    tie = Student.id.desc() if flt.desc else Student.id.asc()
    return query.order_by(key.nulls_last(), tie)  # NULLS LAST: SQLite and PostgreSQL alike


def count(session: Session, *, actor: Actor, settings: Settings, flt: ListFilter) -> int:
    query = _query(actor, settings, flt)
    return session.scalar(select(func.count()).select_from(query.subquery())) or 0


def page(session: Session, *, actor: Actor, settings: Settings, flt: ListFilter) -> StudentPage:
    """One page of the filter's students, with the total and the number of pages."""
    total = count(session, actor=actor, settings=settings, flt=flt)
    rows = session.execute(
        _sorted(_query(actor, settings, flt), flt).limit(flt.per_page).offset(flt.offset)
    ).all()
    found = standings(session, [r.pk for r in rows], settings.school_year)  # one query for the page
    return {
        "items": [_row(r, found[r.pk].view() if r.pk in found else None) for r in rows],
        "total": total,
        "page": flt.page,
        "per_page": flt.per_page,
        "pages": max(1, ceil(total / flt.per_page)),
    }


def rows(session: Session, *, actor: Actor, settings: Settings, flt: ListFilter) -> Iterator[StudentRow]:
    """Every row of the filter in its sort order (the export; the caller bounds the count first)."""
    for r in session.execute(_sorted(_query(actor, settings, flt), flt)):
        yield _row(r, None)


def _row(r: Any, standing: StandingView | None) -> StudentRow:
    return {
        "student_id": r.student_id,
        "name": r.name,
        "id_number": r.id_mask,
        "school_code": r.school_code,
        "school_name": r.school_name,
        "class_name": r.class_name,
        "stage": r.stage,
        "grade": r.grade,
        "level": r.level,
        "decided": bool(r.decided),
        "standing": standing,
        "application_id": r.application_id,
        "application_state": r.application_state,
        "application_level": r.application_level,
    }
