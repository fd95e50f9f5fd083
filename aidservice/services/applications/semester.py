"""Decisions reviewed after the data changed: at a semester's start (`aid semester open`: approved
applications re-identified with the data as of the semester's first day) and after an agency batch changed
students' determinations. Both only flag decisions (`needs_review`) for the officer, who reassesses the
application (which supersedes them); nothing is decided here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from aidservice.models import Application, Decision, Determination, School, Student
from aidservice.schoolyear import semester_start
from aidservice.services import audit
from aidservice.services.actors import Actor
from aidservice.services.applications.decision_rows import current_decisions
from aidservice.services.applications.declarations import verified_of
from aidservice.services.applications.evaluation import (
    DECLARABLE_SOURCE,
    agency_sources,
    evaluate_student,
    override_of,
)
from aidservice.services.applications.values import yuan
from aidservice.services.context import Settings
from aidservice.services.determinations.evaluation_dates import require_covered
from aidservice.services.errors import NotFound, ValidationFailed


@dataclass(slots=True)
class SemesterSummary:
    """What `aid semester open` found: approved applications re-identified, and those flagged for review."""

    school_year: str
    semester: str
    as_of: str
    checked: int = 0
    unchanged: int = 0
    flagged: list[dict[str, Any]] = field(default_factory=list)
    already_flagged: int = 0


def open_semester(
    session: Session,
    *,
    actor: Actor,
    settings: Settings,
    school_year: str,
    semester: str,
    school: str | None = None,
    request_id: str | None = None,
) -> SemesterSummary:
    """Re-identify the approved applications of a school year with the data as of the semester's first day
    (agency records valid then, the roster as it is, the declared facts and any level adjustment kept),
    and flag the decisions whose level or awards would change (`needs_review`) for the officer, who
    reassesses the application. Nothing is decided here; a second run flags nothing new.
    """
    try:
        as_of = semester_start(school_year, semester)  # type: ignore[arg-type]
    except ValueError as exc:
        raise ValidationFailed({"semester": [str(exc)]}) from None
    require_covered(settings.rules, as_of)
    if school is not None and session.get(School, school) is None:
        raise NotFound(f"No school {school}.")
    audit.lock_writers(session)  # lock order: the writers' mutex first, then rows
    query = select(Application).where(Application.school_year == school_year, Application.state == "approved")
    if school is not None:
        query = query.where(Application.school_code == school)
    summary = SemesterSummary(school_year, semester, as_of.isoformat())
    facts = settings.rules.facts
    for application in session.execute(query.order_by(Application.id)).scalars().all():
        summary.checked += 1
        declared = {
            k: v
            for k, v in application.declared.items()
            if k in facts and facts[k].source == DECLARABLE_SOURCE
        }
        claims = {
            k: v
            for k, v in application.declared.items()
            if k in facts and facts[k].source in agency_sources(settings.rules)
        }
        evaluation = evaluate_student(
            session,
            settings=settings,
            student_pk=application.student_pk,
            declared=declared,
            claims=claims,
            as_of=as_of,
            override=override_of(application),
            verified=verified_of(session, application.id),  # a verified out-of-province status still holds
        )
        current = [d for d in current_decisions(session, application.id).values() if d.status != "withdrawn"]
        before = {
            "level": application.level,
            "awards": sorted([d.program, yuan(d.amount_fen)] for d in current),
        }
        after = {
            "level": evaluation.level,
            "awards": sorted([a["program"], a["amount"]] for a in evaluation.result["awards"]),
        }
        if before == after:
            summary.unchanged += 1
            continue
        fresh = [d for d in current if not d.needs_review]
        if current and not fresh:
            summary.already_flagged += 1
            continue
        for decision in fresh:
            decision.needs_review = True
        student_id = session.scalar(select(Student.student_id).where(Student.id == application.student_pk))
        entry = {
            "application_id": application.id,
            "student_id": student_id,
            "school_code": application.school_code,
            "before": before,
            "after": after,
            "decision_ids": sorted(d.id for d in fresh),
        }
        summary.flagged.append(entry)
        audit.record(
            session,
            actor=actor,
            action="decisions.flagged",
            subject=f"student:{student_id}",
            summary={
                **{k: v for k, v in entry.items() if k != "student_id"},
                "semester": semester,
                "as_of": as_of.isoformat(),
            },
            request_id=request_id,
        )
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="semester.open",
        subject=f"school:{school}" if school is not None else f"semester:{school_year}-{semester}",
        summary={
            "school_year": school_year,
            "semester": semester,
            "as_of": as_of.isoformat(),
            "school": school,
            "checked": summary.checked,
            "unchanged": summary.unchanged,
            "flagged": len(summary.flagged),
            "already_flagged": summary.already_flagged,
        },
        request_id=request_id,
    )
    return summary


def flag_after_agency_change(
    session: Session, *, actor: Actor, cause: str, after_seq: int, request_id: str | None = None
) -> list[int]:
    """Flag for the officer's review the current decisions of students whose determination an agency batch
    just changed (level or awards): the officer then reassesses, which supersedes them. Nothing is decided
    here. `after_seq` is the change-log head before the batch, so only its determinations are read.
    """
    changed = select(Determination.student_pk).where(
        Determination.seq > after_seq, Determination.cause == cause, Determination.changed
    )
    decisions = (
        session.execute(
            select(Decision)
            .where(
                Decision.student_pk.in_(changed),
                Decision.current,
                Decision.needs_review.is_(False),
                Decision.status != "withdrawn",
            )
            .order_by(Decision.id)
        )
        .scalars()
        .all()
    )
    for decision in decisions:
        decision.needs_review = True
    if decisions:
        session.flush()
        audit.record(
            session,
            actor=actor,
            action="decisions.flagged",
            subject=cause,
            summary={
                "cause": cause,
                "decision_ids": [d.id for d in decisions],
                "students": len({d.student_pk for d in decisions}),
            },
            request_id=request_id,
        )
    return [d.id for d in decisions]
