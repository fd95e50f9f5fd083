"""The officer UI's start page, per role: counts in SQL, scoped through the Actor, no personal data but the
names of a school's own students for its own officer.

- school officer: the school's applications by state, its special-group students without an application
  this school year, and its quotas with how many places are used;
- administrators and auditors: the region's students, their standings by level (`services.standing`: the
  approved decision, else the system's pre-assessment), special-group
  students (and how many applied and were approved), applications by state, and the latest agency batches.

Special-group membership is read from the agency records valid on the current semester's first day, with
the matching rules of `facts_assembly` (household statuses through the student or a guardian, personal
statuses on the student only; a guardian's disability is `disabled_parent`, not a special group).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal, TypedDict

from sqlalchemy import ColumnElement, Select, func, select, union
from sqlalchemy.orm import Session

from aidservice.engine.vocabulary import Vocabulary
from aidservice.models import (
    AgencyRecord,
    Application,
    FeedBatch,
    Guardian,
    Quota,
    Region,
    School,
    Student,
)
from aidservice.models.application import STATES
from aidservice.services.actors import Actor, in_region
from aidservice.services.applications.quotas import QuotaView, quota_view
from aidservice.services.context import Settings
from aidservice.services.determinations.facts_assembly import valid_on
from aidservice.services.errors import Forbidden, NotFound
from aidservice.services.standing.standing import LevelCount, level_counts

UNAPPLIED_SHOWN = 100
BATCHES_SHOWN = 8
LEVEL_ORDER = ("special", "difficult", "general", "none")


# ------------------------------------------------------------------------------------------------- views
# What the start page shows (TypedDicts: the template reads them as the plain dicts they are).


class StateCount(TypedDict):
    state: str
    count: int


class SchoolRef(TypedDict):
    code: str
    name: str


class UnappliedStudent(TypedDict):
    """A special-group student of the school without an application this school year, with the groups."""

    student_id: str
    name: str
    class_name: str
    groups: list[str]


class QuotaUse(TypedDict):
    """A quota as `quota_view` shows it, without the allocation rows, and the program's name."""

    school_code: str
    program: str
    school_year: str
    places: int
    funded: int
    shortfall: int
    set_by: str
    updated_at: datetime
    program_name: str


class SchoolDashboard(TypedDict):
    kind: Literal["school"]
    school: SchoolRef
    school_year: str
    as_of: date
    students: int
    applications: list[StateCount]
    unapplied: list[UnappliedStudent]
    unapplied_total: int
    quotas: list[QuotaUse]


class RegionRef(TypedDict):
    code: str
    name: str
    level: str


class GroupCounts(TypedDict):
    students: int
    applied: int
    approved: int


class GroupCoverage(GroupCounts):
    """A special group: its students in the region, how many applied, how many were approved."""

    group: str


class BatchView(TypedDict):
    """An agency batch received: counts only."""

    source: str
    batch_id: str
    received_at: datetime
    records: int
    accepted: int
    rejected: int
    matched_students: int | None  # read from the batch's stored JSON response; None without one


class RegionDashboard(TypedDict):
    kind: Literal["region"]
    region: RegionRef
    school_year: str
    as_of: date
    students: int
    levels: list[LevelCount]
    determined: int
    groups: list[GroupCoverage]
    special_students: int
    applications: list[StateCount]
    batches: list[BatchView]


def dashboard(session: Session, *, actor: Actor, settings: Settings) -> SchoolDashboard | RegionDashboard:
    """The start page for the caller's role."""
    if actor.kind != "user":
        raise Forbidden("The dashboard is for signed-in users.")
    if actor.role == "school_officer":
        return school_dashboard(session, actor=actor, settings=settings)
    return region_dashboard(session, actor=actor, settings=settings)


# -------------------------------------------------------------------------------------- school officer


def school_dashboard(session: Session, *, actor: Actor, settings: Settings) -> SchoolDashboard:
    school = session.get(School, actor.school_code) if actor.school_code else None
    if school is None:
        raise NotFound("Your account's school does not exist.")
    in_school = Student.school_code == school.code
    as_of = settings.default_as_of()
    vocabulary = settings.rules.vocabulary
    groups = vocabulary.group_statuses
    members = _members(as_of, in_school, vocabulary)
    unapplied = (
        select(Student.student_id, Student.name, Student.class_name, members.c.status)
        .join(members, members.c.pk == Student.id)
        .where(
            ~select(Application.id)
            .where(Application.student_pk == Student.id, Application.school_year == settings.school_year)
            .exists()
        )
        .order_by(Student.class_name, Student.student_id)
    )
    by_student: dict[str, UnappliedStudent] = {}
    for student_id, name, class_name, status in session.execute(unapplied):
        entry = by_student.setdefault(
            student_id,
            UnappliedStudent(student_id=student_id, name=name, class_name=class_name, groups=[]),
        )
        entry["groups"].append(status)
    quotas = session.execute(
        select(Quota)
        .where(Quota.school_code == school.code, Quota.school_year == settings.school_year)
        .order_by(Quota.program)
    ).scalars()
    program_names = {p.id: p.name for p in settings.rules.rules.programs}
    order = settings.rules.procedure.quota_order
    return {
        "kind": "school",
        "school": {"code": school.code, "name": school.name},
        "school_year": settings.school_year,
        "as_of": as_of,
        "students": session.scalar(select(func.count()).select_from(Student).where(in_school)) or 0,
        "applications": _by_state(session, Application.school_code == school.code, settings.school_year),
        "unapplied": list(by_student.values())[:UNAPPLIED_SHOWN],
        "unapplied_total": len(by_student),
        "quotas": [
            _quota_use(quota_view(session, q, order, groups), program_names.get(q.program, q.program))
            for q in quotas
        ],
    }


# ------------------------------------------------------------------------------ administrators, auditors


def region_dashboard(session: Session, *, actor: Actor, settings: Settings) -> RegionDashboard:
    if actor.is_admin and actor.region_code:
        code = actor.region_code
    elif actor.is_auditor:
        code = "320000"
    else:
        raise Forbidden("Your role has no region.")
    region = session.get(Region, code)
    region_filter = in_region(School.region_code, code)
    as_of = settings.default_as_of()
    year = settings.school_year
    students = (
        session.scalar(
            select(func.count())
            .select_from(Student)
            .join(School, School.code == Student.school_code)
            .where(region_filter)
        )
        or 0
    )
    levels = level_counts(  # the students' standings: approved decisions, else the pre-assessments
        session,
        year,
        select(Student.id).join(School, School.code == Student.school_code).where(region_filter),
    )
    vocabulary = settings.rules.vocabulary
    members = _members(as_of, region_filter, vocabulary)
    groups = {status: GroupCounts(students=0, applied=0, approved=0) for status in vocabulary.group_statuses}
    latest = _latest_state(year)
    rows = session.execute(
        select(
            members.c.status,
            func.count(),
            func.count(latest.c.state),
            func.count(latest.c.state).filter(latest.c.state == "approved"),
        )
        .select_from(members)
        .outerjoin(latest, latest.c.student_pk == members.c.pk)
        .group_by(members.c.status)
    )
    for status, count, applied, approved in rows:
        groups[status] = GroupCounts(students=count, applied=applied, approved=approved)
    in_any_group = session.scalar(select(func.count(func.distinct(members.c.pk))).select_from(members)) or 0
    return {
        "kind": "region",
        "region": {
            "code": code,
            "name": region.name if region is not None else code,
            "level": region.level if region is not None else "",
        },
        "school_year": year,
        "as_of": as_of,
        "students": students,
        "levels": [levels.get(level, {"level": level, "count": 0, "decided": 0}) for level in LEVEL_ORDER],
        "determined": sum(row["count"] for row in levels.values()),
        "groups": [GroupCoverage(group=status, **groups[status]) for status in vocabulary.group_statuses],
        "special_students": in_any_group,
        "applications": _by_state(
            session,
            Application.school_code.in_(select(School.code).where(region_filter)),
            year,
        ),
        "batches": latest_batches(session),
    }


def latest_batches(session: Session, limit: int = BATCHES_SHOWN) -> list[BatchView]:
    """The agency batches received last (counts only: batches carry no personal data here)."""
    rows = session.execute(
        select(FeedBatch).order_by(FeedBatch.received_at.desc(), FeedBatch.id.desc()).limit(limit)
    ).scalars()
    return [
        {
            "source": b.source,
            "batch_id": b.batch_id,
            "received_at": b.received_at,
            "records": b.record_count,
            "accepted": b.accepted,
            "rejected": b.record_count - b.accepted,
            "matched_students": (b.response or {}).get("matched_students"),
        }
        for b in rows
    ]


# ----------------------------------------------------------------------------------------------- helpers


def _members(as_of: date, scope: ColumnElement[bool], vocabulary: Vocabulary) -> Any:
    """Subquery (pk, status): students of the scope in each of the rules' special groups on `as_of`, once per
    group (a household group through a guardian's record too)."""
    statuses = vocabulary.group_statuses
    own: Select[int, str] = (
        select(Student.id.label("pk"), AgencyRecord.status.label("status"))
        .join(School, School.code == Student.school_code)
        .join(AgencyRecord, AgencyRecord.person_hmac == Student.id_hmac)
        .where(scope, valid_on(as_of), AgencyRecord.status.in_(statuses))
    )
    via_guardian: Select[int, str] = (
        select(Student.id.label("pk"), AgencyRecord.status.label("status"))
        .join(School, School.code == Student.school_code)
        .join(Guardian, Guardian.student_pk == Student.id)
        .join(AgencyRecord, AgencyRecord.person_hmac == Guardian.id_hmac)
        .where(
            scope,
            valid_on(as_of),
            AgencyRecord.status.in_(sorted(vocabulary.household_statuses & set(statuses))),
        )
    )
    return union(own, via_guardian).subquery("members")  # UNION: each (student, group) once


def _latest_state(school_year: str) -> Any:
    """Subquery (student_pk, state) of each student's latest application of the school year."""
    newest = (
        select(Application.student_pk, func.max(Application.id).label("id"))
        .where(Application.school_year == school_year)
        .group_by(Application.student_pk)
        .subquery()
    )
    return (
        select(Application.student_pk, Application.state)
        .join(newest, newest.c.id == Application.id)
        .subquery("latest")
    )


def _quota_use(view: QuotaView, program_name: str) -> QuotaUse:
    """The quota without its allocation rows (the start page shows the counts), and the program's name."""
    return QuotaUse(
        school_code=view["school_code"],
        program=view["program"],
        school_year=view["school_year"],
        places=view["places"],
        funded=view["funded"],
        shortfall=view["shortfall"],
        set_by=view["set_by"],
        updated_at=view["updated_at"],
        program_name=program_name,
    )


def _by_state(session: Session, scope: ColumnElement[bool], school_year: str) -> list[StateCount]:
    counts = dict(
        session.execute(
            select(Application.state, func.count())
            .where(scope, Application.school_year == school_year)
            .group_by(Application.state)
        ).all()
    )
    return [{"state": state, "count": counts.get(state, 0)} for state in STATES]
