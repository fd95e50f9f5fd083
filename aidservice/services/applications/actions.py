"""The steps of the identification procedure (教财〔2018〕16号) on an application, and reassessment:
class review (with a level adjustment, reasoned), public notice (公示), objection and its review (复核),
approval or rejection; each names the version it saw (an optimistic lock: `Application.version`,
SQLAlchemy's version_id_col), is checked against the procedure's state machine, and is recorded in the
history and the audit trail. Approval and reassessment make the decisions (decisions, quotas).

Lock order, as in every writer: the writers' mutex first where an action changes shared rows (a notice,
decisions and quotas: `audit.lock_writers`), then rows, and the audit chain head last, at commit. The steps
that change only the application (review, objection, a rejection before the notice) take no mutex, so officers
of different schools never wait for each other; a resolution or rejection of an application on a notice may
revise the notice (notice_revisions) and takes it.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from aidservice.engine.result import LEVELS
from aidservice.models import Application, Notice
from aidservice.services import audit
from aidservice.services.actors import Actor
from aidservice.services.applications.decisions import decide
from aidservice.services.applications.declarations import refuse_pending, verified_of
from aidservice.services.applications.evaluation import (
    DECLARABLE_SOURCE,
    agency_sources,
    apply_evaluation,
    evaluate_student,
    outcome_summary,
    override_of,
    reevaluate,
)
from aidservice.services.applications.history import record_action
from aidservice.services.applications.notice_revisions import REASON_OF_ACTION, revise
from aidservice.services.applications.notices import place_on_notice
from aidservice.services.applications.procedure import IllegalTransition, next_state
from aidservice.services.applications.reading import load
from aidservice.services.applications.scope import check_act
from aidservice.services.applications.values import (
    ACTIONS,
    EXTRA_ACTIONS,
    NEEDS_REASON,
    NOTE_MAX,
    RESOLUTIONS,
    ActionRequest,
    actions_allowed,
    now,
)
from aidservice.services.context import Settings
from aidservice.services.errors import Conflict, ValidationFailed
from aidservice.services.plaintext import note_problem
from aidservice.services.rule_sets import publish_current


def act(
    session: Session,
    *,
    actor: Actor,
    settings: Settings,
    application_id: int,
    request: ActionRequest,
    request_id: str | None = None,
    decide_now: bool = True,
) -> Application:
    """Take one step of the procedure on an application, naming the version it saw.

    `decide_now=False`: an approval or reassessment leaves its decisions to the caller (a batch decides them
    together with `decisions.decide_many` once every item is applied).

    409: a stale version (also when another officer's update wins the race: the optimistic lock), an
    action the state does not allow (naming those it does), approval while the notice is open.
    422: a reason missing where one is required, a resolution or level missing.
    """
    application = load(session, application_id)
    check_act(actor, application.school, f"Application {application_id}", "application")
    if request.action in SHARED_ROW_ACTIONS or (
        request.action in REASON_OF_ACTION and application.notice_id is not None
    ):
        audit.lock_writers(session)  # lock order: the writers' mutex first, then rows
    note = (request.note or "").strip()
    _check_request(application, request, note)
    before = application.state
    handler = _HANDLERS[request.action]
    try:
        details, summary = handler(
            session,
            application,
            actor=actor,
            settings=settings,
            request=request,
            note=note,
            request_id=request_id,
        )
        application.updated_at = now()  # every action bumps the version, even one that changes no column
        session.flush()
        if request.action in REASON_OF_ACTION and application.notice_id is not None:
            notice = session.get(Notice, application.notice_id)
            assert notice is not None
            revise(
                session, notice, action=request.action, actor=actor, settings=settings, request_id=request_id
            )
    except StaleDataError:
        raise Conflict(
            f"Application {application_id} was changed by someone else meanwhile; reload it and try again.",
            {"version": ["stale: the application has changed since you loaded it"]},
        ) from None
    record_action(
        session,
        application,
        actor=actor,
        action=request.action,
        from_state=before,
        note=note,
        details=details,
        summary=summary,
        request_id=request_id,
    )
    if decide_now and request.action in DECIDING:
        decide(
            session,
            actor=actor,
            settings=settings,
            application=application,
            cause=request.action,
            request_id=request_id,
        )  # never the note: decisions and audit go region-wide
    return application


DECIDING = frozenset({"approve", "reassess"})
"""Steps that make (or renew) the application's decisions."""
SHARED_ROW_ACTIONS = frozenset({"publish_notice", "approve", "reassess"})
"""Steps that change rows other applications share (the school's notice; decisions against quotas); the steps
that may revise a notice (REASON_OF_ACTION) take the mutex too when the application is on one."""


def _check_request(application: Application, request: ActionRequest, note: str) -> None:
    if request.action not in ACTIONS:
        raise ValidationFailed({"action": [f"must be one of {', '.join(ACTIONS)}"]})
    if request.version != application.version:
        raise Conflict(
            f"Stale version {request.version}: application {application.id} is at version "
            f"{application.version}; reload it and try again.",
            {"version": [f"stale: current version is {application.version}"]},
        )
    allowed = actions_allowed(application.state)
    if request.action not in allowed:
        if request.action in EXTRA_ACTIONS:
            detail = (
                f"'{request.action}' is not allowed while the application is {application.state}; "
                f"allowed: {', '.join(allowed) or 'none'}"
            )
        else:
            try:
                next_state(application.state, request.action)
            except IllegalTransition as exc:
                detail = str(exc)
        raise Conflict(detail, {"action": [f"allowed: {', '.join(allowed) or 'none'}"]})
    if request.action in NEEDS_REASON and not note:
        raise ValidationFailed({"note": [f"a reason is required for '{request.action}'"]})
    if (problem := note_problem(note, NOTE_MAX)) is not None:
        raise ValidationFailed({"note": [problem]})
    if request.level is not None and request.level not in LEVELS:
        raise ValidationFailed({"level": [f"must be one of {', '.join(LEVELS)}"]})


Handled = tuple[dict[str, Any], dict[str, Any]]


def _adjust(
    application: Application, settings: Settings, *, level: str, note: str, actor: Actor, via: str
) -> dict[str, Any]:
    """Re-evaluate the recorded facts with a level set by people (review group, objection review)."""
    adjustment = {
        "from": application.level,
        "to": level,
        "evaluated": application.evaluated_level,
        "reason": note,
        "by": actor.label,
        "at": now().isoformat(),
        "via": via,
    }
    evaluation = reevaluate(settings, application, level)
    apply_evaluation(application, evaluation)
    application.level_adjustment = adjustment
    return {"from": adjustment["from"], "to": level, "via": via}


def _review(
    session: Session,
    application: Application,
    *,
    actor: Actor,
    settings: Settings,
    request: ActionRequest,
    note: str,
    request_id: str | None,
) -> Handled:
    refuse_pending(session, settings, application)  # out-of-province statuses are verified before review
    details: dict[str, Any] = {}
    if request.level is not None and request.level != application.level:
        if not note:
            raise ValidationFailed({"note": ["a reason is required to adjust the level"]})
        details["level_adjustment"] = _adjust(
            application, settings, level=request.level, note=note, actor=actor, via="review"
        )
    application.state = next_state(application.state, "review")
    return details, {"level": application.level, **details}


def _publish_notice(
    session: Session,
    application: Application,
    *,
    actor: Actor,
    settings: Settings,
    request: ActionRequest,
    note: str,
    request_id: str | None,
) -> Handled:
    if application.level == "none":
        raise Conflict(
            "The public notice lists students identified as in economic difficulty; this application's level "
            "is none. Reject it, or adjust the level in review with a reason.",
            {"action": ["level none has nothing to publish"]},
        )
    notice = place_on_notice(session, application, actor=actor, settings=settings, request_id=request_id)
    application.state = next_state(application.state, "publish_notice")
    details = {
        "notice_id": notice.id,
        "published_on": application.notice_published_on.isoformat(),  # type: ignore[union-attr]
        "closes_on": application.notice_closes_on.isoformat(),
    }  # type: ignore[union-attr]
    return details, details


def _object(
    session: Session,
    application: Application,
    *,
    actor: Actor,
    settings: Settings,
    request: ActionRequest,
    note: str,
    request_id: str | None,
) -> Handled:
    today = settings.current_date()
    closes = application.notice_closes_on
    if closes is None or today > closes:
        raise Conflict(
            f"The notice period closed on {closes}; objections are taken during the notice period.",
            {"action": ["the notice period is over"]},
        )
    application.state = next_state(application.state, "object")
    return {}, {}


def _resolve(
    session: Session,
    application: Application,
    *,
    actor: Actor,
    settings: Settings,
    request: ActionRequest,
    note: str,
    request_id: str | None,
) -> Handled:
    if request.outcome not in RESOLUTIONS:
        raise ValidationFailed({"outcome": [f"must be one of {', '.join(RESOLUTIONS)}"]})
    details: dict[str, Any] = {"outcome": request.outcome}
    if request.outcome == "upheld":
        if request.level is None:
            raise ValidationFailed({"level": ["an upheld objection sets the new level"]})
        details["level_adjustment"] = _adjust(
            application, settings, level=request.level, note=note, actor=actor, via="objection"
        )
    elif request.level is not None:
        raise ValidationFailed({"level": ["a dismissed objection keeps the level; leave level out"]})
    application.state = next_state(application.state, "resolve")
    return details, {"level": application.level, **details}


def _approve(
    session: Session,
    application: Application,
    *,
    actor: Actor,
    settings: Settings,
    request: ActionRequest,
    note: str,
    request_id: str | None,
) -> Handled:
    today = settings.current_date()
    closes = application.notice_closes_on
    if closes is None or today <= closes:
        raise Conflict(
            f"The public notice period runs until {closes}; approve after it closes.",
            {"action": [f"notice period open until {closes}"]},
        )
    application.state = next_state(application.state, "approve")
    return {}, {"level": application.level}


def _reject(
    session: Session,
    application: Application,
    *,
    actor: Actor,
    settings: Settings,
    request: ActionRequest,
    note: str,
    request_id: str | None,
) -> Handled:
    application.state = next_state(application.state, "reject")
    return {}, {}


def _reassess(
    session: Session,
    application: Application,
    *,
    actor: Actor,
    settings: Settings,
    request: ActionRequest,
    note: str,
    request_id: str | None,
) -> Handled:
    """Identify again with the current data as of the current semester's first day; decisions follow."""
    details: dict[str, Any] = {"before": {"level": application.level, "as_of": application.as_of.isoformat()}}
    if request.level is not None and request.level != override_of(application):
        application.level_adjustment = {
            "from": application.level,
            "to": request.level,
            "evaluated": application.evaluated_level,
            "reason": note,
            "by": actor.label,
            "at": now().isoformat(),
            "via": "reassess",
        }
    publish_current(session, settings.rules, settings.rules.rules.files)
    declared = {
        k: v for k, v in application.declared.items() if settings.rules.facts[k].source == DECLARABLE_SOURCE
    }
    claims = {
        k: v
        for k, v in application.declared.items()
        if settings.rules.facts[k].source in agency_sources(settings.rules)
    }
    evaluation = evaluate_student(
        session,
        settings=settings,
        student_pk=application.student_pk,
        declared=declared,
        claims=claims,
        as_of=settings.default_as_of(),
        override=override_of(application),
        verified=verified_of(session, application.id),
    )
    apply_evaluation(application, evaluation)
    details["after"] = {"level": application.level, "as_of": application.as_of.isoformat()}
    return details, {**details, **outcome_summary(application)}


_HANDLERS = {
    "review": _review,
    "publish_notice": _publish_notice,
    "object": _object,
    "resolve": _resolve,
    "approve": _approve,
    "reject": _reject,
    "reassess": _reassess,
}
