"""Decisions: what an approval awards, per program, immutable and replayable (how a decision is stored and
superseded: decision_rows).

Approval and reassessment make or renew an application's decisions: one per program its evaluation awards,
capped programs allocated within their quota first (quotas), a program no longer awarded withdrawn, and a
decision whose substance is unchanged kept. Replay re-evaluates a decision's recorded facts with its recorded
rule version, loaded back from the published rule sets.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypedDict

from sqlalchemy import select
from sqlalchemy.orm import Session

from aidservice.engine import RuleSet, rules_from_files
from aidservice.models import Application, Decision, School, Student
from aidservice.services import audit
from aidservice.services.actors import Actor
from aidservice.services.applications.decision_rows import (
    content,
    content_hash,
    current_decisions,
    new_decision,
)
from aidservice.services.applications.evaluation import evaluate_snapshot
from aidservice.services.applications.quotas import allocate_for, allocate_program, locked_quota
from aidservice.services.applications.values import fen, yuan
from aidservice.services.applications.views import DecisionView, decision_view
from aidservice.services.context import Settings
from aidservice.services.errors import Conflict, ValidationFailed
from aidservice.services.hidden import check_visible, not_found
from aidservice.services.rule_sets import published_files

SUBSTANCE = ("status", "level", "level_override", "amount_fen", "kind", "rule_status")
"""What makes a decision different for the student: a reassessment that changes none of these keeps it."""
REPLAY_CACHE = 8


class DecisionList(TypedDict):
    items: list[DecisionView]


class ReplayView(TypedDict):
    """A decision replayed: what was recorded, what the recorded rules make of the recorded facts now."""

    decision_id: int
    identical: bool
    recorded: dict[str, Any]
    replayed: dict[str, Any]
    differences: list[dict[str, Any]]
    content_hash_matches: bool


# --------------------------------------------------------------------------------------- deciding


def _trace_for(trace: Iterable[Mapping[str, Any]], program: str) -> list[dict[str, Any]]:
    """The decisive trace items of one program: the clauses that set the level, its condition and amount."""
    out = []
    for item in trace:
        name = item["item"]
        kind, _, rest = name.partition(":")
        if (
            kind == "clause"
            or (kind == "program" and rest == program)
            or (kind == "amount" and rest.split("#")[0] == program)
            or (kind == "combination" and program in str(item.get("result")))
        ):
            out.append(dict(item))
    return out


@dataclass(slots=True)
class Spec:
    """A decision about to be made for one program of an application."""

    program: str
    fields: dict[str, Any]
    payment: str
    allocation: dict[str, Any] | None = None
    status: str = "awarded"
    extra: dict[str, Any] = field(default_factory=dict)


def explanation_for(
    application: Application, cause: str, program: str, award: Mapping[str, Any] | None
) -> dict[str, Any]:
    """Why: the level (and who adjusted it), the reasons, what was missing, how it is paid, the decisive trace."""
    result = application.result
    payment = "none" if award is None else award.get("payment", "semesters")
    return {
        "cause": cause,
        "level": {
            "in_force": application.level,
            "evaluated": application.evaluated_level,
            "adjustment": application.level_adjustment,
        },
        "reasons": result.get("reasons", []),
        "missing": result.get("missing", []),
        "award_missing": [] if award is None else award.get("missing", []),
        "payment": payment,
        "trace": _trace_for(result.get("trace", []), program),
    }


def base_fields(application: Application) -> dict[str, Any]:
    """What every decision of an application records of its evaluation."""
    adjustment = application.level_adjustment
    return {
        "application_id": application.id,
        "student_pk": application.student_pk,
        "school_code": application.school_code,
        "school_year": application.school_year,
        "level": application.level,
        "level_override": None if not adjustment else adjustment["to"],
        "as_of": application.as_of,
        "rule_set_version": application.rule_set_version,
        "facts": application.facts,
    }


def specs_for(application: Application, cause: str) -> dict[str, Spec]:
    """One spec per program the application's evaluation awards."""
    out: dict[str, Spec] = {}
    for award in application.result.get("awards", []):
        explanation = explanation_for(application, cause, award["program"], award)
        out[award["program"]] = Spec(
            program=award["program"],
            payment=explanation["payment"],
            fields={
                **base_fields(application),
                "program": award["program"],
                "name": award["name"],
                "kind": award["kind"],
                "amount_fen": fen(award["amount"]),
                "rule_status": award["status"],
                "basis": award["basis"][:1000],
                "explanation": explanation,
            },
        )
    return out


def _substance(values: Mapping[str, Any]) -> tuple[Any, ...]:
    return tuple(values.get(k) for k in SUBSTANCE)


def decide(
    session: Session,
    *,
    actor: Actor,
    settings: Settings,
    application: Application,
    cause: str,
    request_id: str | None = None,
    allocated: Mapping[str, dict[str, Any]] | None = None,
) -> list[Decision]:
    """Make (approval) or renew (reassessment) an application's decisions; the caller holds the audit lock.

    Capped programs are allocated within their quota first (special groups never cut), which may
    supersede other students' decisions whose funding changes; `allocated`: the application's allocations
    by program, made already for a batch (`decide_many`).
    """
    specs = specs_for(application, cause)
    current = current_decisions(session, application.id)
    made: list[Decision] = []
    for program in sorted(set(specs) | set(current)):
        quota = locked_quota(session, application.school_code, program, application.school_year)
        spec = specs.get(program)
        if quota is not None and spec is not None and allocated is not None and program in allocated:
            spec.status = "awarded" if allocated[program]["funded"] else "not_funded"
            spec.allocation = allocated[program]
        elif quota is not None:
            allocation = allocate_program(
                session,
                quota=quota,
                pending=application if spec is not None else None,
                actor=actor,
                groups=settings.rules.vocabulary.group_statuses,
                cause=f"application {application.id} {cause}"[:200],
                order=settings.rules.procedure.quota_order,
                request_id=request_id,
            )
            if spec is not None and allocation is not None:
                spec.status = "awarded" if allocation["funded"] else "not_funded"
                spec.allocation = allocation
        old = current.get(program)
        if spec is None:
            if old is not None and old.status != "withdrawn":
                fields = {
                    **base_fields(application),
                    "program": program,
                    "name": old.name,
                    "kind": old.kind,
                    "amount_fen": None,
                    "rule_status": old.rule_status,
                    "basis": old.basis,
                    "explanation": explanation_for(application, cause, program, None),
                }
                made.append(
                    new_decision(
                        session,
                        fields,
                        status="withdrawn",
                        allocation=None,
                        payment="none",
                        actor=actor,
                        supersedes=old,
                        reason=f"{cause}: no longer awarded",
                    )
                )
            continue
        wanted = {**spec.fields, "status": spec.status}
        if old is not None and _substance(content(old)) == _substance(wanted):
            if old.needs_review:
                old.needs_review = False  # reviewed: nothing changed for the student
            continue
        made.append(
            new_decision(
                session,
                spec.fields,
                status=spec.status,
                allocation=spec.allocation,
                payment=spec.payment,
                actor=actor,
                supersedes=old,
                reason=f"{cause}: superseded" if old is not None else "",
            )
        )
    for old in current.values():
        if old.current and old.needs_review:
            old.needs_review = False
    if made:
        student_id = session.scalar(select(Student.student_id).where(Student.id == application.student_pk))
        audit.record(
            session,
            actor=actor,
            action="decisions.made",
            subject=f"student:{student_id}",
            summary={
                "application_id": application.id,
                "cause": cause[:200],
                "decisions": [
                    {
                        "id": d.id,
                        "program": d.program,
                        "status": d.status,
                        "amount": yuan(d.amount_fen),
                        "supersedes": d.supersedes,
                        "content_hash": d.content_hash,
                    }
                    for d in made
                ],
            },
            request_id=request_id,
        )
    return made


def decide_many(
    session: Session,
    *,
    actor: Actor,
    settings: Settings,
    applications: Sequence[Application],
    cause: str,
    request_id: str | None = None,
) -> None:
    """Make the decisions of many applications approved together (a batch): each capped program's quota is
    allocated once over its competitors and all of them (`allocate_for`), then each application's decisions
    are made with its allocation. The ranking depends only on who competes, so the decisions are those one
    approval at a time would end with, without superseding the same decisions once per approval."""
    by_quota: dict[tuple[str, str, str], list[Application]] = {}
    for application in applications:
        for award in application.result.get("awards", []):
            key = (application.school_code, award["program"], application.school_year)
            by_quota.setdefault(key, []).append(application)
    allocated: dict[int, dict[str, dict[str, Any]]] = {a.id: {} for a in applications}
    for (school_code, program, school_year), pending in sorted(by_quota.items()):
        quota = locked_quota(session, school_code, program, school_year)
        if quota is None:
            continue
        allocations = allocate_for(
            session,
            quota=quota,
            pending=pending,
            actor=actor,
            groups=settings.rules.vocabulary.group_statuses,
            cause=f"{len(pending)} applications {cause} in one batch"[:200],
            order=settings.rules.procedure.quota_order,
            request_id=request_id,
        )
        for application_id, allocation in allocations.items():
            allocated[application_id][program] = allocation
    for application in applications:
        decide(
            session,
            actor=actor,
            settings=settings,
            application=application,
            cause=cause,
            request_id=request_id,
            allocated=allocated[application.id],
        )


# ---------------------------------------------------------------------------------------- reading


def list_decisions(
    session: Session,
    *,
    actor: Actor,
    settings: Settings,
    student_id: str,
    school_year: str | None = None,
    current_only: bool = False,
) -> DecisionList:
    """A student's decisions (all of them, superseded ones too, oldest first) within the caller's scope."""
    student = session.execute(select(Student).where(Student.student_id == student_id)).scalar_one_or_none()
    if student is None:
        raise not_found("student")
    school = session.get(School, student.school_code)
    assert school is not None
    check_visible(actor, school, "student")
    query = select(Decision).where(Decision.student_pk == student.id)
    if school_year is not None:
        query = query.where(Decision.school_year == school_year)
    if current_only:
        query = query.where(Decision.current.is_(True))
    rows = session.execute(query.order_by(Decision.id)).scalars()
    return {"items": [decision_view(d, student) for d in rows]}


def _load_scoped(session: Session, actor: Actor, decision_id: int) -> tuple[Decision, Student]:
    decision = session.get(Decision, decision_id)
    if decision is None:
        raise not_found("decision")
    school = session.get(School, decision.school_code)
    student = session.get(Student, decision.student_pk)
    assert school is not None and student is not None
    check_visible(actor, school, "decision")
    return decision, student


# ----------------------------------------------------------------------------------------- replay

_rules_cache: dict[str, RuleSet] = {}
_rules_lock = threading.Lock()


def rules_of_version(session: Session, version: str) -> RuleSet:
    """The published rule set of a version, loaded from the `rule_sets` table (cached: versions never change)."""
    with _rules_lock:
        cached = _rules_cache.get(version)
    if cached is not None:
        return cached
    files = published_files(session, version)
    if files is None:
        raise Conflict(f"Rule set {version} was never published; its decisions cannot be replayed.")
    rules = rules_from_files(files, name=f"published {version}", published=True)
    with _rules_lock:
        if len(_rules_cache) >= REPLAY_CACHE:
            _rules_cache.pop(next(iter(_rules_cache)))
        _rules_cache[version] = rules
    return rules


def _recorded(d: Decision) -> dict[str, Any]:
    eligible = d.status != "withdrawn"
    explanation = d.explanation or {}
    out: dict[str, Any] = {
        "rule_set_version": d.rule_set_version,
        "as_of": d.as_of.isoformat(),
        "level": d.level,
        "level_override": d.level_override,
        "program": d.program,
        "eligible": eligible,
        "reasons": [r["clause"] for r in explanation.get("reasons", [])],
        "missing": list(explanation.get("missing", [])),
    }
    if eligible:
        out.update(amount=yuan(d.amount_fen), kind=d.kind, rule_status=d.rule_status, basis=d.basis)
    return out


def _replayed(d: Decision, rules: RuleSet) -> dict[str, Any]:
    _evaluated, result = evaluate_snapshot(rules, d.facts, d.as_of, d.level_override)
    award = next((a for a in result.awards if a.program == d.program), None)
    out: dict[str, Any] = {
        "rule_set_version": rules.version,
        "as_of": result.as_of.isoformat(),
        "level": result.level,
        "level_override": d.level_override,
        "program": d.program,
        "eligible": award is not None,
        "reasons": [r.clause for r in result.reasons],
        "missing": list(result.missing),
    }
    if d.status != "withdrawn" and award is not None:
        out.update(
            amount=yuan(award.amount_fen), kind=award.kind, rule_status=award.status, basis=award.basis[:1000]
        )
    return out


def replay(session: Session, *, actor: Actor, settings: Settings, decision_id: int) -> ReplayView:
    """Re-evaluate a decision's recorded facts on its recorded date with its recorded rule version (loaded
    back from `rule_sets`) and level adjustment, and say whether the outcome is identical.

    The allocation within a quota depends on other students and is not re-evaluated; it is covered,
    like everything recorded, by the content hash (`content_hash_matches`).
    """
    decision, _student = _load_scoped(session, actor, decision_id)
    rules = rules_of_version(session, decision.rule_set_version)
    recorded = _recorded(decision)
    try:
        replayed = _replayed(decision, rules)
    except ValueError as exc:  # recorded facts the recorded rules no longer accept: not identical
        raise ValidationFailed({"facts": [str(exc)]}, "The recorded facts cannot be evaluated.") from None
    keys = list(dict.fromkeys([*recorded, *replayed]))
    differences = [
        {"field": k, "recorded": recorded.get(k), "replayed": replayed.get(k)}
        for k in keys
        if recorded.get(k) != replayed.get(k)
    ]
    return {
        "decision_id": decision.id,
        "identical": not differences,
        "recorded": recorded,
        "replayed": replayed,
        "differences": differences,
        "content_hash_matches": content_hash(decision) == decision.content_hash,
    }
