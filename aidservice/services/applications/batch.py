"""Batch actions: one step of the procedure, one shared note (审核意见), many applications, each checked and
applied in its own savepoint and reported on its own.

An item is `done` (applied, its history row and audit event written as the single action writes them),
`stale` (the version it names is not the application's: a retry of a batch that went through comes back
stale, never applied twice), or `refused` with the reason (`REASONS`): not in the caller's scope (told as
not found, like a record that does not exist), the state does not allow the action, the notice is still
open, nothing to publish, pending declarations, a field the step needs. A refused or stale item rolls back
its savepoint and nothing it wrote stays; the others go on. The whole batch is checked before any work
(size, duplicates, the note): 422 naming the field.

Speed: the writers' mutex is taken once for the batch (lock order unchanged: mutex first, rows, the audit
head at commit), the rules are published once, and the quota allocation of capped programs, which ranks every
approved application of the school, runs once per quota at the end of an approving batch instead of once per
item (`defer_allocation`): the ranking depends only on the final set, so the result is the same.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, TypedDict, cast

from sqlalchemy import select
from sqlalchemy.orm import Session

from aidservice.models import Application, Student
from aidservice.services import audit
from aidservice.services.actors import Actor
from aidservice.services.applications import actions
from aidservice.services.applications.decisions import decide_many
from aidservice.services.applications.values import (
    ACTIONS,
    NEEDS_REASON,
    NOTE_MAX,
    ActionRequest,
    actions_allowed,
)
from aidservice.services.applications.views import BRIEF_COLUMNS, StudentBrief, student_brief
from aidservice.services.context import Settings
from aidservice.services.errors import Conflict, DomainError, Forbidden, NotFound, ValidationFailed
from aidservice.services.plaintext import note_problem

BATCH_MAX = 1000
ItemStatus = Literal["done", "refused", "stale"]
REASONS = (
    "not_found",  # no such application in the caller's scope (another school's is not revealed)
    "not_allowed",  # the application's state does not allow the action
    "notice_open",  # approval while the public notice is still open
    "nothing_to_publish",  # level none: the notice lists students in difficulty only
    "declarations_pending",  # out-of-province statuses not yet verified (review)
    "invalid",  # a field the step needs (a level, an outcome, a reason)
    "conflict",  # any other refusal of the procedure
)


@dataclass(frozen=True, slots=True)
class BatchItem:
    id: int
    version: int


@dataclass(frozen=True, slots=True)
class BatchRequest:
    action: str
    items: Sequence[BatchItem]
    note: str = ""
    level: str | None = None
    outcome: str | None = None


class AppliedView(TypedDict):
    """The application after the step: enough to act on it again (its new version)."""

    id: int
    state: str
    version: int
    level: str


@dataclass(slots=True)
class ItemResult:
    id: int
    status: ItemStatus
    application: AppliedView | None = None
    error: DomainError | None = None
    reason: str | None = None
    context: dict[str, str] = field(default_factory=dict)


def check_batch(request: BatchRequest) -> None:
    """Everything about the batch as a whole, before any work: 422 naming the field."""
    errors: dict[str, list[str]] = {}
    if request.action not in ACTIONS:
        errors["action"] = [f"must be one of {', '.join(ACTIONS)}"]
    if not request.items:
        errors["items"] = ["at least one item"]
    elif len(request.items) > BATCH_MAX:
        errors["items"] = [f"at most {BATCH_MAX} items; got {len(request.items)}"]
    seen: dict[int, int] = {}
    for i, item in enumerate(request.items[: BATCH_MAX + 1]):
        if item.id in seen:
            errors[f"items.{i}.id"] = [f"duplicate of items.{seen[item.id]}"]
        seen.setdefault(item.id, i)
    note = request.note.strip()
    if request.action in NEEDS_REASON and not note:
        errors["note"] = [f"a reason is required for '{request.action}'"]
    elif (problem := note_problem(note, NOTE_MAX)) is not None:
        errors["note"] = [problem]
    if errors:
        raise ValidationFailed(errors)


def act_on_many(
    session: Session,
    *,
    actor: Actor,
    settings: Settings,
    request: BatchRequest,
    request_id: str | None = None,
) -> list[ItemResult]:
    """Apply one action to many applications, each in its own savepoint; one result per item, in order."""
    check_batch(request)
    if request.action in actions.SHARED_ROW_ACTIONS:
        audit.lock_writers(session)  # once for the batch, before any row
    deferred = request.action == "approve"
    done: list[Application] = []
    results = []
    for item in request.items:
        result, application = _one(
            session,
            actor=actor,
            settings=settings,
            request=request,
            item=item,
            rid=request_id,
            decide=not deferred,
        )
        results.append(result)
        if application is not None:
            done.append(application)
    if deferred and done:
        decide_many(
            session, actor=actor, settings=settings, applications=done, cause="approve", request_id=request_id
        )
    views = {a.id: AppliedView(id=a.id, state=a.state, version=a.version, level=a.level) for a in done}
    for result in results:
        result.application = views.get(result.id) if result.status == "done" else None
    return results


def _one(
    session: Session,
    *,
    actor: Actor,
    settings: Settings,
    request: BatchRequest,
    item: BatchItem,
    rid: str | None,
    decide: bool,
) -> tuple[ItemResult, Application | None]:
    """One item in its own savepoint: applied (its decisions too unless `decide` is False: the batch makes
    them together afterwards), or rolled back and refused."""
    step = ActionRequest(
        action=request.action,
        version=item.version,
        note=request.note,
        level=request.level,
        outcome=request.outcome,
    )
    savepoint = session.begin_nested()
    try:
        application = actions.act(
            session,
            actor=actor,
            settings=settings,
            application_id=item.id,
            request=step,
            request_id=rid,
            decide_now=decide,
        )
        savepoint.commit()
    except DomainError as exc:
        savepoint.rollback()
        return _refused(session, item, request.action, exc, settings), None
    return ItemResult(id=item.id, status="done"), application


def _refused(
    session: Session, item: BatchItem, action: str, exc: DomainError, settings: Settings
) -> ItemResult:
    if isinstance(exc, NotFound | Forbidden):
        hidden = NotFound("No such application in your scope.")
        return ItemResult(id=item.id, status="refused", error=hidden, reason="not_found")
    if isinstance(exc, Conflict) and "version" in exc.errors:
        return ItemResult(id=item.id, status="stale", error=exc, reason="stale")
    application = session.get(Application, item.id)
    reason, context = _reason(application, action, exc, settings)
    return ItemResult(id=item.id, status="refused", error=exc, reason=reason, context=context)


def _reason(
    application: Application | None, action: str, exc: DomainError, settings: Settings
) -> tuple[str, dict[str, str]]:
    """Name why the procedure refused the step, with what the officer needs to know (the state, a date)."""
    if isinstance(exc, ValidationFailed) or application is None:
        return "invalid", {}
    state = application.state
    if action not in actions_allowed(state):
        return "not_allowed", {"state": state}
    closes = application.notice_closes_on
    if action == "approve" and closes is not None and settings.current_date() <= closes:
        return "notice_open", {"closes_on": closes.isoformat()}
    if action == "publish_notice" and application.level == "none":
        return "nothing_to_publish", {}
    if action == "review" and any(key.startswith("out_of_province") for key in exc.errors):
        return "declarations_pending", {}
    return "conflict", {}


class Selected(TypedDict):
    """An application chosen for a batch, as the confirmation and result pages show it (ID number masked)."""

    id: int
    version: int
    state: str
    level: str
    student: StudentBrief


SELECTED_COLUMNS = (Application.id, Application.version, Application.state, Application.level, *BRIEF_COLUMNS)


def selected(session: Session, *, actor: Actor, ids: Sequence[int]) -> dict[int, Selected]:
    """The chosen applications the caller may act on (their school's officer), by id; the others are left out
    without saying why (a batch refuses them as not found)."""
    if actor.kind != "user" or actor.role != "school_officer" or not ids:
        return {}
    found: dict[int, Selected] = {}
    for start in range(0, len(ids), 500):
        query = (
            select(*SELECTED_COLUMNS)
            .join(Student, Student.id == Application.student_pk)
            .where(Application.id.in_(list(ids[start : start + 500])))
            .where(Application.school_code == actor.school_code)
        )
        for row in session.execute(query):
            found[row.id] = Selected(
                id=row.id,
                version=row.version,
                state=row.state,
                level=row.level,
                student=student_brief(cast(Any, row)),  # a row of BRIEF_COLUMNS
            )
    return found
