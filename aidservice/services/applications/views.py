"""What the applications area shows to api and web: typed views (TypedDicts, so the routes serialise them as
the plain dicts they are) of an application, its student, history and notice, a list item, and a decision.

Money is shown as two-place yuan strings and ID numbers masked. The views read what the caller has not read
already (history, decisions) with statements built once, as statements are immutable.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, TypedDict

from sqlalchemy import Row, bindparam, select
from sqlalchemy.orm import Session

from aidservice.models import Application, ApplicationAction, Decision, Student
from aidservice.services.applications.declaration_views import DeclarationView, declaration_views
from aidservice.services.applications.values import actions_allowed, yuan
from aidservice.services.context import Settings


class StudentBrief(TypedDict):
    student_id: str
    name: str
    id_number: str  # masked
    class_name: str
    stage: str
    grade: int


class NoticeRef(TypedDict):
    """The notice an application is on, and whether its own period is still open."""

    id: int
    published_on: date | None
    closes_on: date | None
    open: bool


class DecisionView(TypedDict):
    """A decision as the API shows it: money as two-place strings, instalments with due dates."""

    id: int
    application_id: int
    student_id: str | None
    school_code: str
    school_year: str
    program: str
    name: str
    kind: str
    level: str
    level_override: str | None
    amount: str | None
    instalments: list[dict[str, Any]]
    status: str
    rule_status: str
    allocation: dict[str, Any] | None
    as_of: date
    rule_set_version: str
    facts: dict[str, Any]
    explanation: dict[str, Any]
    basis: str
    decided_by: str
    decided_at: datetime
    current: bool
    supersedes: int | None
    superseded_reason: str | None
    needs_review: bool
    content_hash: str


class ApplicationView(TypedDict):
    """An application for the officer's screen (see `application_view`)."""

    id: int
    student: StudentBrief
    school_code: str
    school_year: str
    state: str
    version: int
    allowed_actions: list[str]
    commitment_signed_at: datetime
    declared: dict[str, Any]
    as_of: date
    rule_set_version: str
    level: str
    evaluated_level: str
    level_adjustment: dict[str, Any] | None
    reasons: list[dict[str, Any]]
    awards: list[dict[str, Any]]
    total: str | None
    missing: list[str]
    facts: dict[str, Any]
    conflicts: list[dict[str, Any]]
    out_of_province: list[DeclarationView]  # declared statuses of another province, and their verification
    notice: NoticeRef | None
    history: list[dict[str, Any]]  # HISTORY_FIELDS of each action, oldest first
    decisions: list[DecisionView]
    submitted_at: datetime
    created_by: str
    updated_at: datetime


class ApplicationItem(TypedDict):
    """An application in a list: the large JSON columns stay in the database; `conflicts` is their count."""

    id: int
    student: StudentBrief
    school_code: str
    school_year: str
    state: str
    version: int
    level: str
    conflicts: int
    notice_closes_on: date | None
    submitted_at: datetime


class ApplicationList(TypedDict):
    items: list[ApplicationItem]
    total: int


BRIEF_COLUMNS = (
    Student.student_id,
    Student.name,
    Student.id_mask,
    Student.class_name,
    Student.stage,
    Student.grade,
)
"""What `student_brief` shows of a student."""


HISTORY_FIELDS = ("action", "from_state", "to_state", "version", "note", "details", "actor", "at")
"""One history entry as the view shows it."""
HISTORY_READ = (
    select(*(getattr(ApplicationAction, name) for name in HISTORY_FIELDS))
    .where(ApplicationAction.application_id == bindparam("application_id"))
    .order_by(ApplicationAction.id)
)
"""The history as plain columns rather than ORM entities (a view of an application already loaded)."""
DECISIONS_READ = (
    select(Decision).where(Decision.application_id == bindparam("application_id")).order_by(Decision.id)
)


def application_view(
    session: Session,
    application: Application,
    settings: Settings,
    student: Student | Row[Any] | None = None,
    history: list[dict[str, Any]] | None = None,
    declarations: bool = True,
) -> ApplicationView:
    """An application for the officer's screen: student (ID masked), state, what may be done next, the
    evaluation with every fact's source, the conflicts, the history, its notice and its decisions.
    `student`: the student, or a row of BRIEF_COLUMNS, and `history`, when the caller has read them already;
    `declarations` false when the caller knows the application has no out-of-province declarations."""
    if student is None:
        student = application.student
    if history is None:
        history = [
            dict(h) for h in session.execute(HISTORY_READ, {"application_id": application.id}).mappings()
        ]
    # decisions are made at approval (and by reassessment, quotas and semester checks of approved ones), and an
    # approved application stays approved: before that there is nothing to read
    decisions = (
        session.execute(DECISIONS_READ, {"application_id": application.id}).scalars()
        if application.state == "approved"
        else ()
    )
    result = application.result
    notice: NoticeRef | None = None
    if application.notice_id is not None:
        today = settings.current_date()
        closes = application.notice_closes_on
        notice = {
            "id": application.notice_id,
            "published_on": application.notice_published_on,
            "closes_on": closes,
            "open": closes is not None and today <= closes,
        }
    return {
        "id": application.id,
        "student": student_brief(student),
        "school_code": application.school_code,
        "school_year": application.school_year,
        "state": application.state,
        "version": application.version,
        "allowed_actions": actions_allowed(application.state),
        "commitment_signed_at": application.commitment_signed_at,
        "declared": application.declared,
        "as_of": application.as_of,
        "rule_set_version": application.rule_set_version,
        "level": application.level,
        "evaluated_level": application.evaluated_level,
        "level_adjustment": application.level_adjustment,
        "reasons": result.get("reasons", []),
        "awards": [{k: v for k, v in a.items() if k != "payment"} for a in result.get("awards", [])],
        "total": result.get("total"),
        "missing": result.get("missing", []),
        "facts": application.facts,
        "conflicts": application.conflicts,
        "out_of_province": declaration_views(session, settings.rules, application.id) if declarations else [],
        "notice": notice,
        "history": history,
        "decisions": [decision_view(d, student) for d in decisions],
        "submitted_at": application.submitted_at,
        "created_by": application.created_by,
        "updated_at": application.updated_at,
    }


def student_brief(student: Student | Row[Any]) -> StudentBrief:
    return {
        "student_id": student.student_id,
        "name": student.name,
        "id_number": student.id_mask,
        "class_name": student.class_name,
        "stage": student.stage,
        "grade": student.grade,
    }


def decision_view(d: Decision, student: Student | Row[Any] | None = None) -> DecisionView:
    """A decision as the API shows it: money as two-place strings, instalments with due dates."""
    return {
        "id": d.id,
        "application_id": d.application_id,
        "student_id": None if student is None else student.student_id,
        "school_code": d.school_code,
        "school_year": d.school_year,
        "program": d.program,
        "name": d.name,
        "kind": d.kind,
        "level": d.level,
        "level_override": d.level_override,
        "amount": yuan(d.amount_fen),
        "instalments": d.instalments,
        "status": d.status,
        "rule_status": d.rule_status,
        "allocation": d.allocation,
        "as_of": d.as_of,
        "rule_set_version": d.rule_set_version,
        "facts": d.facts,
        "explanation": d.explanation,
        "basis": d.basis,
        "decided_by": d.decided_by,
        "decided_at": d.decided_at,
        "current": d.current,
        "supersedes": d.supersedes,
        "superseded_reason": d.superseded_reason,
        "needs_review": d.needs_review,
        "content_hash": d.content_hash,
    }
