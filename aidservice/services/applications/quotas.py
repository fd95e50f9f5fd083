"""Quotas (名额): how many students a school may fund from a capped program in a school year.

Administrators set them within their region. When a program has a quota for the school and year,
every approval (and reassessment, and quota change) allocates it with `procedure.allocate` over the
school's approved applications for that program: special-group students are always funded (a
shortfall is recorded, never absorbed by cutting them), then by level, lower per-capita income and
application time. Decisions whose funding changes are superseded. The quota row is taken FOR
UPDATE while allocating, after the audit head (the lock order of every writer).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import datetime
from typing import Any, TypedDict

from sqlalchemy import select
from sqlalchemy.orm import Session

from aidservice.models import Application, Decision, Quota, School, Student
from aidservice.services import audit
from aidservice.services.actors import Actor
from aidservice.services.applications.decision_rows import reallocated
from aidservice.services.applications.procedure import Allocation, Candidate, allocate
from aidservice.services.applications.values import NOTE_MAX, aware, fen, school_year_errors
from aidservice.services.context import Settings
from aidservice.services.errors import Forbidden, ValidationFailed
from aidservice.services.hidden import check_visible, not_found

COMPETING = ("awarded", "not_funded")
PLACES_MAX = 1_000_000


class QuotaRow(TypedDict):
    """One competitor's place in the allocation."""

    rank: int
    of: int
    application_id: int
    decision_id: int
    student_id: str
    name: str
    class_name: str
    level: str
    special: bool
    funded: bool
    explanation: str


class QuotaView(TypedDict):
    """A quota with the allocation as it stands: funded, shortfall (special-group students beyond it)."""

    school_code: str
    program: str
    school_year: str
    places: int
    funded: int
    shortfall: int
    set_by: str
    updated_at: datetime
    allocations: list[QuotaRow]


def is_special(facts: Mapping[str, Mapping[str, Any]], groups: Sequence[str]) -> bool:
    """In one of the rules' special groups (`groups`: their statuses) per the agency records (declared claims
    never count)."""
    return any((facts.get(name) or {}).get("value") is True for name in groups)


def candidate_of(application: Application, groups: Sequence[str]) -> Candidate:
    income = (application.facts.get("per_capita_income") or {}).get("value")
    return Candidate(
        application_id=application.id,
        special=is_special(application.facts, groups),
        level=application.level,
        per_capita_income_fen=fen(income),
        submitted_at=aware(application.submitted_at),
    )


def allocation_json(a: Allocation) -> dict[str, Any]:
    return {
        "rank": a.rank,
        "of": a.of,
        "places": a.places,
        "funded": a.funded,
        "special": a.special,
        "explanation": a.explanation,
    }


def locked_quota(session: Session, school_code: str, program: str, school_year: str) -> Quota | None:
    return session.execute(
        select(Quota)
        .where(Quota.school_code == school_code, Quota.program == program, Quota.school_year == school_year)
        .with_for_update()
    ).scalar_one_or_none()


def _competitors(
    session: Session, quota: Quota, exclude: Collection[int]
) -> list[tuple[Decision, Application]]:
    """Current decisions of approved applications competing for this quota (the `exclude`d applications left
    out: those whose decisions are being made)."""
    query = (
        select(Decision, Application)
        .join(Application, Application.id == Decision.application_id)
        .where(
            Decision.school_code == quota.school_code,
            Decision.school_year == quota.school_year,
            Decision.program == quota.program,
            Decision.current.is_(True),
            Decision.status.in_(COMPETING),
            Application.state == "approved",
        )
        .order_by(Decision.id)
    )
    if exclude:
        query = query.where(Decision.application_id.not_in(list(exclude)))
    return [(d, a) for d, a in session.execute(query).all()]


def allocate_program(
    session: Session,
    *,
    quota: Quota,
    pending: Application | None,
    actor: Actor,
    groups: Sequence[str],
    cause: str,
    order: Sequence[str],
    request_id: str | None = None,
    exclude: int | None = None,
) -> dict[str, Any] | None:
    """Allocate a quota over its competitors plus `pending` (whose own decisions are being made); supersede
    the competitors' decisions whose funding changes; return `pending`'s allocation. `groups`: the statuses of
    the rules' special groups, never cut."""
    left_out = pending.id if pending is not None else exclude
    allocations = allocate_for(
        session,
        quota=quota,
        pending=[pending] if pending is not None else [],
        actor=actor,
        groups=groups,
        cause=cause,
        order=order,
        request_id=request_id,
        exclude=[left_out] if left_out is not None else [],
    )
    return None if pending is None else allocations[pending.id]


def allocate_for(
    session: Session,
    *,
    quota: Quota,
    pending: Sequence[Application],
    actor: Actor,
    groups: Sequence[str],
    cause: str,
    order: Sequence[str],
    request_id: str | None = None,
    exclude: Collection[int] = (),
) -> dict[int, dict[str, Any]]:
    """Allocate a quota once over its competitors plus every `pending` application (a batch approval: the
    ranking depends only on the final set, so one allocation gives what one per approval would end with,
    without superseding the same decisions again and again); supersede the competitors' decisions whose
    funding changes; return each pending application's allocation."""
    competitors = _competitors(session, quota, {*exclude, *(a.id for a in pending)})
    candidates = [candidate_of(a, groups) for _d, a in competitors]
    candidates.extend(candidate_of(a, groups) for a in pending)
    by_app = {a.application_id: a for a in allocate(candidates, quota.places, order=order)}
    changed = []
    for decision, application in competitors:
        allocation = by_app[application.id]
        status = "awarded" if allocation.funded else "not_funded"
        if status != decision.status:
            reason = f"re-allocation of quota {quota.program} ({cause}): {allocation.explanation}"
            new = reallocated(
                session,
                decision,
                status=status,
                allocation=allocation_json(allocation),
                actor=actor,
                reason=reason,
            )
            changed.append((application, decision, new))
    for application, old, new in changed:
        student_id = session.scalar(select(Student.student_id).where(Student.id == application.student_pk))
        audit.record(
            session,
            actor=actor,
            action="decision.reallocated",
            subject=f"student:{student_id}",
            summary={
                "application_id": application.id,
                "program": quota.program,
                "supersedes": old.id,
                "decision_id": new.id,
                "status": new.status,
                "content_hash": new.content_hash,
                "cause": cause[:200],
            },
            request_id=request_id,
        )
    return {a.id: allocation_json(by_app[a.id]) for a in pending}


# --------------------------------------------------------------------------------------- use cases


def _school(session: Session, school_code: str) -> School:
    school = session.get(School, school_code)
    if school is None:
        raise not_found("quota")
    return school


def _check(settings: Settings, program: str, school_year: str, places: object | None) -> None:
    errors: dict[str, list[str]] = {}
    programs = [p.id for p in settings.rules.rules.programs]
    if program not in programs:
        errors["program"] = [f"unknown program {program!r}; one of {', '.join(programs)}"]
    if problems := school_year_errors(school_year):
        errors["school_year"] = problems
    if places is not None and (type(places) is not int or not 0 <= places <= PLACES_MAX):
        errors["places"] = [f"must be a whole number from 0 to {PLACES_MAX}"]
    if errors:
        raise ValidationFailed(errors)


def put_quota(
    session: Session,
    *,
    actor: Actor,
    settings: Settings,
    school_code: str,
    program: str,
    school_year: str,
    places: object,
    reason: str = "",
    request_id: str | None = None,
) -> tuple[Quota, bool]:
    """Set a quota (administrators within their region); re-allocates the approved applications at once.
    `reason` (the quotas page asks for one) is kept in the audit event.

    Returns (quota, created). 422: places below zero or not a whole number, an unknown program, a bad
    school year. 403: not an administrator. 404: an unknown school, or one outside the caller's region (hidden).
    """
    if not (actor.kind == "system" or (actor.kind == "user" and actor.is_admin)):
        raise Forbidden("Only county, city and province administrators set quotas.")
    _check(settings, program, school_year, places)
    school = _school(session, school_code)
    if not (actor.kind == "system" or actor.may_change_school(school.code, school.region_code)):
        raise not_found("quota")
    audit.lock_writers(session)  # lock order: the writers' mutex first, then rows
    quota = locked_quota(session, school.code, program, school_year)
    before = None if quota is None else quota.places
    created = quota is None
    if quota is None:
        quota = Quota(
            school_code=school.code,
            program=program,
            school_year=school_year,
            places=places,
            set_by=actor.label,
        )
        session.add(quota)
    elif before == places:
        return quota, False
    else:
        quota.places = places  # type: ignore[assignment]
        quota.set_by = actor.label
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="quota.set",
        subject=f"school:{school.code}",
        summary={
            "program": program,
            "school_year": school_year,
            "places": {"before": before, "after": places},
            **({"reason": reason.strip()[:NOTE_MAX]} if reason.strip() else {}),
        },
        request_id=request_id,
    )
    allocate_program(
        session,
        quota=quota,
        pending=None,
        actor=actor,
        groups=settings.rules.vocabulary.group_statuses,
        cause=f"quota set to {places} by {actor.label}",
        order=settings.rules.procedure.quota_order,
        request_id=request_id,
    )
    return quota, created


def get_quota(
    session: Session, *, actor: Actor, settings: Settings, school_code: str, program: str, school_year: str
) -> QuotaView:
    """A quota with the allocation as it stands: funded, shortfall (special-group students beyond it)."""
    _check(settings, program, school_year, None)
    school = _school(session, school_code)
    check_visible(actor, school, "quota")
    quota = session.execute(
        select(Quota).where(
            Quota.school_code == school.code, Quota.program == program, Quota.school_year == school_year
        )
    ).scalar_one_or_none()
    if quota is None:
        raise not_found("quota")
    return quota_view(
        session, quota, settings.rules.procedure.quota_order, settings.rules.vocabulary.group_statuses
    )


def quota_view(session: Session, quota: Quota, order: Sequence[str], groups: Sequence[str]) -> QuotaView:
    """The allocation as it stands, ranked by `order` (the rule set's `procedure.quota_order`); `groups`: the
    statuses of the rules' special groups, never cut."""
    competitors = _competitors(session, quota, ())
    candidates = [candidate_of(a, groups) for _d, a in competitors]
    by_app = {a.application_id: a for a in allocate(candidates, quota.places, order=order)}
    students = {
        s.id: s
        for s in session.execute(
            select(Student).where(Student.id.in_([a.student_pk for _d, a in competitors] or [-1]))
        ).scalars()
    }
    rows: list[QuotaRow] = []
    for decision, application in competitors:
        allocation = by_app[application.id]
        student = students[application.student_pk]
        rows.append(
            {
                "rank": allocation.rank,
                "of": allocation.of,
                "application_id": application.id,
                "decision_id": decision.id,
                "student_id": student.student_id,
                "name": student.name,
                "class_name": student.class_name,
                "level": application.level,
                "special": allocation.special,
                "funded": allocation.funded,
                "explanation": allocation.explanation,
            }
        )
    rows.sort(key=lambda r: r["rank"])
    funded = sum(1 for r in rows if r["funded"])
    return {
        "school_code": quota.school_code,
        "program": quota.program,
        "school_year": quota.school_year,
        "places": quota.places,
        "funded": funded,
        "shortfall": max(0, funded - quota.places),
        "set_by": quota.set_by,
        "updated_at": quota.updated_at,
        "allocations": rows,
    }
