"""A student's standing for a school year: the approved decision when there is one, else the system's
pre-assessment (系统预判: the current determination from agency data and the roster).

- level: the approved application's level in force (the review's or a reassessment's adjustment included);
  without one, the current determination's level;
- funded_total: money of the approved application's current decisions that are `awarded`; unfunded_total:
  those `not_funded` (名额不足), shown apart and never added in; both count grants, waivers and scholarships
  only (`COUNTED_KINDS`: a loan is a ceiling, not money paid). A pre-assessment funds nothing: both are 0;
- decided_at: the newest current decision (the approval or reassessment itself when it awards nothing), or
  when the determination was made.

One rule, two statements: `standing_select` (with the money) reads one student or a page of them in one query
(`standings`, no N+1); `with_levels` joins any query over students to their standing level without the money,
for the counts of dashboards and reports over thousands (`level_counts`, the regions report). The property
test (tests/api/test_standing_everywhere.py) holds the two, and every page, to the same answers. Money totals
of reports are the sums of current awarded decisions, the same money `funded_total` adds up. Reports that read
history pass their own "current at time T" predicates (`Current`); an approved application's level is then
read as it is now (as `reports.reading` reads other application columns).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Literal, TypedDict

from sqlalchemy import (
    BindParameter,
    ColumnElement,
    Select,
    and_,
    bindparam,
    case,
    func,
    literal,
    or_,
    select,
    true,
)
from sqlalchemy.orm import Session, aliased

from aidservice.engine.result import COUNTED_KINDS
from aidservice.models import Application, Decision, Determination, Student

Source = Literal["decision", "pre_assessment"]
SOURCES: tuple[Source, ...] = ("decision", "pre_assessment")
COUNTED = tuple(sorted(COUNTED_KINDS))


class StandingView(TypedDict):
    """A standing as the API and the pages show it: money as two-place yuan strings."""

    level: str
    source: Source
    funded_total: str
    unfunded_total: str
    decided_at: datetime | None
    application_id: int | None  # the approved application (source decision)


@dataclass(frozen=True, slots=True)
class Standing:
    level: str
    source: Source
    funded_fen: int
    unfunded_fen: int
    decided_at: datetime | None
    application_id: int | None

    @property
    def funded_total(self) -> Decimal:
        return Decimal(self.funded_fen).scaleb(-2)

    @property
    def unfunded_total(self) -> Decimal:
        return Decimal(self.unfunded_fen).scaleb(-2)

    def view(self) -> StandingView:
        return {
            "level": self.level,
            "source": self.source,
            "funded_total": f"{self.funded_total:.2f}",
            "unfunded_total": f"{self.unfunded_total:.2f}",
            "decided_at": self.decided_at,
            "application_id": self.application_id,
        }


@dataclass(frozen=True, slots=True)
class Current:
    """What is current: the live flags (default), or a report's predicates for a time in the past."""

    decision: Callable[[Any], ColumnElement[bool]] | None = None  # Decision (or an alias) -> current then
    determination: Callable[[Any], ColumnElement[bool]] | None = None  # the same for Determination
    application_state: Callable[[Any], Any] | None = None  # Application (or an alias) -> its state then


LIVE = Current()


def state_of(application: Any, current: Current) -> Any:
    """An application's (or an alias's) state: now, or at the time `current` reads."""
    return application.state if current.application_state is None else current.application_state(application)


def determination_current(determination: Any, current: Current) -> ColumnElement[bool]:
    """A determination (or an alias) current now, or at the time `current` reads."""
    if current.determination is None:
        return determination.current.is_(True)
    return current.determination(determination)


def standing_select(
    school_year: str | BindParameter[str],
    *,
    students: Sequence[int] | Select[Any] | BindParameter[Any] | None = None,
    current: Current = LIVE,
) -> Select[Any]:
    """(student_pk, level, source, funded_fen, unfunded_fen, decided_at, application_id) per student with a
    standing; `students`: some student pks (a list or a select of them), else every student."""
    state = state_of(Application, current)
    approved = select(
        Application.student_pk,
        Application.id.label("application_id"),
        Application.level,
        Application.updated_at,
    ).where(Application.school_year == school_year, state == "approved")
    counted = Decision.kind.in_(COUNTED)
    money = select(
        Decision.application_id,
        func.sum(case((and_(Decision.status == "awarded", counted), Decision.amount_fen), else_=0)).label(
            "funded_fen"
        ),
        func.sum(case((and_(Decision.status == "not_funded", counted), Decision.amount_fen), else_=0)).label(
            "unfunded_fen"
        ),
        func.max(Decision.decided_at).label("decided_at"),
    ).where(
        Decision.school_year == school_year,
        Decision.current.is_(True) if current.decision is None else current.decision(Decision),
    )
    assessed = select(Determination.student_pk, Determination.level, Determination.created_at).where(
        Determination.school_year == school_year, determination_current(Determination, current)
    )
    chosen: ColumnElement[bool] = true()
    if students is not None:
        pks: Any = students if isinstance(students, Select | BindParameter) else list(students)
        approved = approved.where(Application.student_pk.in_(pks))
        money = money.where(Decision.student_pk.in_(pks))
        assessed = assessed.where(Determination.student_pk.in_(pks))
        chosen = Student.id.in_(pks)
    a = approved.subquery("approved")
    m = money.group_by(Decision.application_id).subquery("decided_money")
    d = assessed.subquery("assessed")
    decided = a.c.application_id.is_not(None)
    return (
        select(
            Student.id.label("student_pk"),
            case((decided, a.c.level), else_=d.c.level).label("level"),
            case((decided, literal("decision")), else_=literal("pre_assessment")).label("source"),
            case((decided, func.coalesce(m.c.funded_fen, 0)), else_=0).label("funded_fen"),
            case((decided, func.coalesce(m.c.unfunded_fen, 0)), else_=0).label("unfunded_fen"),
            case((decided, func.coalesce(m.c.decided_at, a.c.updated_at)), else_=d.c.created_at).label(
                "decided_at"
            ),
            a.c.application_id,
        )
        .select_from(Student)
        .outerjoin(a, a.c.student_pk == Student.id)
        .outerjoin(m, m.c.application_id == a.c.application_id)
        .outerjoin(d, d.c.student_pk == Student.id)
        .where(chosen, or_(decided, d.c.level.is_not(None)))
    )


STANDINGS_READ = standing_select(bindparam("school_year"), students=bindparam("student_pks", expanding=True))
"""The standings of some students, built once (statements are immutable; building this one costs more than
running it for a page)."""


def standings(session: Session, student_pks: Iterable[int], school_year: str) -> dict[int, Standing]:
    """The standings of these students (a page of a list) in one query; a student without one is left out."""
    pks = sorted(set(student_pks))
    if not pks:
        return {}
    rows = session.execute(STANDINGS_READ, {"school_year": school_year, "student_pks": pks})
    return {row.student_pk: _standing(row) for row in rows}


def standing_of(session: Session, student_pk: int, school_year: str) -> Standing | None:
    """One student's standing for the school year, or None before any determination or approval."""
    return standings(session, [student_pk], school_year).get(student_pk)


def _standing(row: Any) -> Standing:
    moment = row.decided_at
    if isinstance(moment, datetime) and moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)  # SQLite hands back naive datetimes; everything stored is UTC
    return Standing(
        level=row.level,
        source=row.source,
        funded_fen=int(row.funded_fen or 0),
        unfunded_fen=int(row.unfunded_fen or 0),
        decided_at=moment,
        application_id=row.application_id,
    )


class LevelCount(TypedDict):
    """Students standing at a level, and how many of them by an approved decision (the rest: 系统预判)."""

    level: str
    count: int
    decided: int


@dataclass(frozen=True, slots=True)
class Levels:
    """A query over students joined to each one's standing level (see `with_levels`)."""

    query: Select[Any]
    level: ColumnElement[Any]  # null: no standing
    decided: ColumnElement[bool]  # by an approved decision


def with_levels(query: Select[Any], school_year: str, current: Current = LIVE) -> Levels:
    """Join a query over `Student` to each student's standing level: the same rule as `standing_select`
    without the money, as two index joins the database aggregates over thousands of students in one pass."""
    approved, assessed = aliased(Application, name="approved"), aliased(Determination, name="assessed")
    joined = query.outerjoin(
        approved,
        and_(
            approved.student_pk == Student.id,
            approved.school_year == school_year,
            state_of(approved, current) == "approved",
        ),
    ).outerjoin(
        assessed,
        and_(
            assessed.student_pk == Student.id,
            assessed.school_year == school_year,
            determination_current(assessed, current),
        ),
    )
    decided = approved.id.is_not(None)
    return Levels(joined, case((decided, approved.level), else_=assessed.level), decided)


def level_counts(
    session: Session, school_year: str, students: Select[Any], current: Current = LIVE
) -> dict[str, LevelCount]:
    """How many students stand at each level, in one query; `students`: a select over `Student` (with the
    joins and conditions of the scope)."""
    levels = with_levels(students, school_year, current)
    query = levels.query.with_only_columns(
        levels.level, func.count(), func.count().filter(levels.decided), maintain_column_froms=True
    ).group_by(levels.level)
    return {
        level: {"level": level, "count": count, "decided": int(decided or 0)}
        for level, count, decided in session.execute(query)
        if level is not None
    }


def standing_of_application(session: Session, application_id: int) -> Standing | None:
    """The standing of an application's student for the application's school year (the application's page
    shows the student's one answer; the caller has checked the scope)."""
    row = session.execute(
        select(Application.student_pk, Application.school_year).where(Application.id == application_id)
    ).one_or_none()
    return None if row is None else standing_of(session, row.student_pk, row.school_year)
