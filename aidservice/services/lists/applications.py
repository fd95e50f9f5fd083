"""The applications as a list: those in the caller's scope (officer: their school; administrators: their
region; auditors: all), filtered, sorted and paged by a `ListFilter`; one query for page, API, export and the
batch actions' "select all N matching" (`matching_application_ids`)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from aidservice.models import Application, Region, School, Student
from aidservice.services.actors import Actor, in_region
from aidservice.services.applications.scope import check_read
from aidservice.services.applications.views import ApplicationItem, ApplicationList, student_brief
from aidservice.services.context import Settings
from aidservice.services.errors import Forbidden, NotFound, ValidationFailed
from aidservice.services.lists.filters import DEFAULT_SORT, ListFilter
from aidservice.services.lists.search import group_condition, text_condition

MATCH_MAX = 5000
"""At most this many ids from `matching_application_ids` (a batch action takes them in one request)."""


class ApplicationRow(ApplicationItem):
    """An application in a list, with its school's name and county (the export's and the administrators' page
    columns)."""

    school_name: str
    region_code: str
    region_name: str


class ApplicationPage(ApplicationList):
    page: int
    per_page: int
    pages: int


COLUMNS = (
    Application.id,
    Application.school_code,
    School.name.label("school_name"),
    School.region_code,
    Region.name.label("region_name"),
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
SORT_COLUMNS: dict[str, Any] = {
    "id": Application.id,
    "student_id": Student.student_id,
    "name": Student.name,
    "school": Application.school_code,
    "region": School.region_code,
    "class_name": Student.class_name,
    "grade": Student.grade,
    "state": Application.state,
    "level": Application.level,
    "conflicts": func.json_array_length(Application.conflicts),  # the same function on SQLite and PostgreSQL
    "submitted_at": Application.submitted_at,
}


def _scope(session: Session, actor: Actor, school: str | None) -> list[Any]:
    if actor.kind not in ("user", "system"):
        raise Forbidden("Applications are for signed-in users.")
    if school is not None:
        row: Any = session.execute(
            select(School.code, School.region_code).where(School.code == school)
        ).first()
        if row is None:
            raise NotFound(f"No school {school}.")
        check_read(actor, row, f"School {school}")
        return [Application.school_code == school]
    if actor.kind == "system" or actor.is_auditor:
        return []
    if actor.role == "school_officer":
        return [Application.school_code == actor.school_code]
    if actor.is_admin:
        region: Any = School.region_code
        return [in_region(region, actor.region_code or "")]
    raise Forbidden("Your role does not reach applications.")


def _query(
    session: Session,
    actor: Actor,
    settings: Settings,
    flt: ListFilter,
    school_year: str | None,
    *columns: Any,
) -> Select[Any]:
    query = (
        select(*columns)
        .select_from(Application)
        .join(Student, Student.id == Application.student_pk)
        .join(School, School.code == Application.school_code)
        .outerjoin(Region, Region.code == School.region_code)
        .where(*_scope(session, actor, flt.school))
    )
    if school_year is not None:
        query = query.where(Application.school_year == school_year)
    if flt.region:  # a filter inside the scope above: a region outside it matches nothing
        region: Any = School.region_code
        query = query.where(in_region(region, flt.region))
    if flt.q:
        query = query.where(text_condition(actor, settings, flt.q))
    if flt.state:
        query = query.where(Application.state == flt.state)
    if flt.level:
        query = query.where(Application.level == flt.level)
    if flt.group:
        query = query.where(group_condition(settings, flt.group, settings.current_date()))
    if flt.stage:
        query = query.where(Student.stage == flt.stage)
    if flt.grade is not None:
        query = query.where(Student.grade == flt.grade)
    if flt.class_name:
        query = query.where(Student.class_name == flt.class_name)
    return query


def _sorted(query: Select[Any], flt: ListFilter) -> Select[Any]:
    column = SORT_COLUMNS[flt.sort or DEFAULT_SORT["applications"]]
    key = column.desc() if flt.desc else column.asc()
    tie = Application.id.desc() if flt.desc else Application.id.asc()
    return query.order_by(key.nulls_last(), tie)


def count(
    session: Session, *, actor: Actor, settings: Settings, flt: ListFilter, school_year: str | None
) -> int:
    query = _query(session, actor, settings, flt, school_year, func.count())
    return session.scalar(query) or 0


def page(
    session: Session,
    *,
    actor: Actor,
    settings: Settings,
    flt: ListFilter,
    school_year: str | None,
    limit: int | None = None,
    offset: int | None = None,
) -> ApplicationPage:
    """A page of the filter's applications (the filter's page, or `limit`/`offset` as the API takes them)."""
    total = count(session, actor=actor, settings=settings, flt=flt, school_year=school_year)
    size = flt.per_page if limit is None else limit
    skip = flt.offset if offset is None else offset
    query = _sorted(_query(session, actor, settings, flt, school_year, *COLUMNS), flt)
    return {
        "items": [_row(r) for r in session.execute(query.limit(size).offset(skip))],
        "total": total,
        "page": skip // size + 1,
        "per_page": size,
        "pages": max(1, -(-total // size)),
    }


def rows(
    session: Session, *, actor: Actor, settings: Settings, flt: ListFilter, school_year: str | None
) -> Iterator[ApplicationRow]:
    """Every application of the filter in its sort order (the export; the caller bounds the count first)."""
    query = _sorted(_query(session, actor, settings, flt, school_year, *COLUMNS), flt)
    for r in session.execute(query):
        yield _row(r)


def matching_application_ids(
    session: Session, *, actor: Actor, settings: Settings, flt: ListFilter, school_year: str | None
) -> list[int]:
    """The ids of every application the filter matches, in its sort order (at most MATCH_MAX): what a batch
    action's "select all N matching" acts on. ValidationFailed when more match."""
    query = _sorted(_query(session, actor, settings, flt, school_year, Application.id), flt)
    ids = list(session.scalars(query.limit(MATCH_MAX + 1)))
    if len(ids) > MATCH_MAX:
        raise ValidationFailed({"q": [f"筛选结果超过 {MATCH_MAX} 条，请缩小筛选范围"]})
    return ids


def _row(r: Any) -> ApplicationRow:
    return {
        "id": r.id,
        "student": student_brief(r),
        "school_code": r.school_code,
        "school_name": r.school_name,
        "region_code": r.region_code,
        "region_name": r.region_name or r.region_code,
        "school_year": r.school_year,
        "state": r.state,
        "version": r.version,
        "level": r.level,
        "conflicts": len(r.conflicts or []),
        "notice_closes_on": r.notice_closes_on,
        "submitted_at": r.submitted_at,
    }
