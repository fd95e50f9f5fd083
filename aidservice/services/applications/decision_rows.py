"""Decision rows: what a decision's content hash covers, how an award is paid (its instalments), and inserting
a decision, which retires the one it supersedes. Below both `decisions` (which decides) and `quotas` (whose
re-allocation supersedes other students' decisions).

A decision records the rule-set version, the evaluation date, the facts snapshot with each fact's
source, the level (and any adjustment people made, replayed with it), the explanation (reasons,
missing facts, the decisive trace items), the amount and how it is paid, the allocation within a
quota, the officer, and a content hash over all of it (its audit event carries the hash).

A later change (reassessment in a new semester, a new agency record, a level set on review,
re-allocation of a quota) supersedes a decision with a new row that names it (`supersedes`); the old
row only gets `current=False` and `superseded_reason`. Nothing else of a stored decision ever changes
(besides the semester review flag), and the model refuses any other UPDATE.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from aidservice.models import Decision
from aidservice.services import audit
from aidservice.services.actors import Actor
from aidservice.services.applications.procedure import instalments
from aidservice.services.applications.values import yuan


def content(d: Decision) -> dict[str, Any]:
    """What `content_hash` covers: everything decided, not the bookkeeping (id, current, flags, time)."""
    return {
        "application_id": d.application_id,
        "student_pk": d.student_pk,
        "school_code": d.school_code,
        "school_year": d.school_year,
        "program": d.program,
        "name": d.name,
        "kind": d.kind,
        "level": d.level,
        "level_override": d.level_override,
        "amount_fen": d.amount_fen,
        "instalments": d.instalments,
        "status": d.status,
        "rule_status": d.rule_status,
        "allocation": d.allocation,
        "as_of": d.as_of.isoformat(),
        "rule_set_version": d.rule_set_version,
        "facts": d.facts,
        "explanation": d.explanation,
        "basis": d.basis,
        "decided_by": d.decided_by,
        "supersedes": d.supersedes,
    }


def content_hash(d: Decision) -> str:
    return hashlib.sha256(audit.canonical(content(d)).encode("utf-8")).hexdigest()


def plan(school_year: str, payment: str, status: str, amount_fen: int | None) -> list[dict[str, Any]]:
    """The instalments of an award (procedure.instalments), none unless it is funded."""
    if status != "awarded":
        return []
    return [
        {"period": i.period, "due": i.due.isoformat(), "amount": yuan(i.amount_fen)}
        for i in instalments(school_year, payment, amount_fen)
    ]


def new_decision(
    session: Session,
    fields: Mapping[str, Any],
    *,
    status: str,
    allocation: dict[str, Any] | None,
    payment: str,
    actor: Actor,
    supersedes: Decision | None,
    reason: str,
) -> Decision:
    """Insert one decision (retiring the one it supersedes first: one current decision per program)."""
    if supersedes is not None:
        supersedes.current = False
        supersedes.superseded_reason = reason[:500]
        supersedes.needs_review = False
        session.flush()
    decision = Decision(
        **fields,
        status=status,
        allocation=allocation,
        instalments=plan(fields["school_year"], payment, status, fields["amount_fen"]),
        decided_by=actor.label,
        current=True,
        needs_review=False,
        supersedes=None if supersedes is None else supersedes.id,
    )
    decision.content_hash = content_hash(decision)
    session.add(decision)
    session.flush()
    return decision


def copy_fields(d: Decision) -> dict[str, Any]:
    """The decided fields of a decision, to make the one that supersedes it."""
    return {
        "application_id": d.application_id,
        "student_pk": d.student_pk,
        "school_code": d.school_code,
        "school_year": d.school_year,
        "program": d.program,
        "name": d.name,
        "kind": d.kind,
        "level": d.level,
        "level_override": d.level_override,
        "amount_fen": d.amount_fen,
        "rule_status": d.rule_status,
        "as_of": d.as_of,
        "rule_set_version": d.rule_set_version,
        "facts": d.facts,
        "basis": d.basis,
        "explanation": dict(d.explanation),
    }


def reallocated(
    session: Session, old: Decision, *, status: str, allocation: dict[str, Any], actor: Actor, reason: str
) -> Decision:
    """A decision superseded only because the quota allocation changed its funding."""
    fields = copy_fields(old)
    fields["explanation"]["cause"] = reason
    payment = str(old.explanation.get("payment", "semesters"))
    return new_decision(
        session,
        fields,
        status=status,
        allocation=allocation,
        payment=payment,
        actor=actor,
        supersedes=old,
        reason=reason,
    )


def current_decisions(session: Session, application_id: int) -> dict[str, Decision]:
    rows = session.execute(
        select(Decision).where(Decision.application_id == application_id, Decision.current.is_(True))
    ).scalars()
    return {d.program: d for d in rows}
