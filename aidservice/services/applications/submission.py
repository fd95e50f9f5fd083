"""Taking an application under the written commitment (承诺书): checked, evaluated at once with every fact's
source kept, one open or approved application per student and school year (checked, and held by a unique
index against a race).

Taking an application takes no mutex (see the package's lock order): the unique index guards the second one.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from aidservice.models import Application, School, Student
from aidservice.models.application import ACTIVE_STATES
from aidservice.services.actors import Actor
from aidservice.services.applications.declarations import FIELD, add_declarations, parse_declarations
from aidservice.services.applications.evaluation import (
    apply_evaluation,
    evaluate_student,
    outcome_summary,
    split_declared,
)
from aidservice.services.applications.history import record_action
from aidservice.services.applications.scope import check_act
from aidservice.services.applications.values import now, school_year_errors
from aidservice.services.context import Settings
from aidservice.services.errors import Conflict, ValidationFailed
from aidservice.services.hidden import not_found
from aidservice.services.rule_sets import publish_current


def create_application(
    session: Session,
    *,
    actor: Actor,
    settings: Settings,
    payload: Mapping[str, Any],
    request_id: str | None = None,
) -> Application:
    """Take an application under the signed commitment; evaluate it at once and keep every fact's source.

    422: commitment not signed, a bad school year, declared facts of the wrong type or not declarable.
    404/403: unknown student / another school's. 409: the student already has an application for the
    year that is open or approved.
    """
    errors: dict[str, list[str]] = {}
    if payload.get("commitment_signed") is not True:
        errors["commitment_signed"] = ["the written commitment (承诺书) must be signed: send true"]
    school_year = payload.get("school_year")
    if problems := school_year_errors(school_year):
        errors["school_year"] = problems
    elif school_year != settings.school_year:
        errors["school_year"] = [f"applications are taken for the current school year {settings.school_year}"]
    raw = payload.get("declared") or {}
    if not isinstance(raw, Mapping):
        errors["declared"] = ["must be an object of facts"]
    if errors:
        raise ValidationFailed(errors)
    declared, claims = split_declared(settings.rules, raw)
    declarations = parse_declarations(settings.rules, payload.get(FIELD), settings.current_date())
    student_id = str(payload.get("student_id") or "")
    found = session.execute(
        select(Student, School)
        .join(School, School.code == Student.school_code)
        .where(Student.student_id == student_id)
    ).first()
    if found is None:
        raise not_found("student")
    student, school = found
    check_act(actor, school, f"Student {student_id}", "student")

    _refuse_second_application(session, student.id, settings.school_year)
    publish_current(session, settings.rules, settings.rules.rules.files)
    as_of = settings.default_as_of()
    evaluation = evaluate_student(
        session,
        settings=settings,
        student_pk=student.id,
        declared=declared,
        claims=claims,
        as_of=as_of,
        override=None,
    )
    application = Application(
        student_pk=student.id,
        school_code=school.code,
        school_year=settings.school_year,
        state="submitted",
        declared={**declared, **claims},
        commitment_signed_at=now(),
        level_adjustment=None,
        submitted_at=now(),
        created_by=actor.label,
    )
    apply_evaluation(application, evaluation)
    session.add(application)
    try:
        session.flush()
    except IntegrityError:
        # another request took one for this student since the check above (the unique index holds the rule);
        # this request's transaction is lost either way, so no savepoint is paid for on every application
        raise Conflict(
            f"Student {student_id} already has an open or approved application for {settings.school_year}."
        ) from None
    add_declarations(session, application, declarations, actor)
    record_action(
        session,
        application,
        actor=actor,
        action="submit",
        from_state="",
        note="",
        details={
            "conflicts": [c["fact"] for c in application.conflicts],
            **({"out_of_province": [d.status for d in declarations]} if declarations else {}),
        },
        request_id=request_id,
        summary={
            "application_id": application.id,
            "school_year": application.school_year,
            **outcome_summary(application),
        },
    )
    return application


def _refuse_second_application(session: Session, student_pk: int, school_year: str) -> None:
    existing = session.execute(
        select(Application.id, Application.state).where(
            Application.student_pk == student_pk,
            Application.school_year == school_year,
            Application.state.in_(ACTIVE_STATES),
        )
    ).first()
    if existing is not None:
        raise Conflict(
            f"This student already has application {existing.id} ({existing.state}) for {school_year}; "
            "one open or approved application per student and school year.",
            {"student_id": [f"application {existing.id} is {existing.state}"]},
        )
