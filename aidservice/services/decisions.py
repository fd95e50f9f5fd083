"""Decisions: what an approval awards, per program, immutable and replayable.

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
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Row, select
from sqlalchemy.orm import Session

from aidservice.engine import RuleSet, rules_from_files
from aidservice.models import Application, Decision, Determination, School, Student
from aidservice.procedure import instalments

from . import audit
from .actors import Actor
from .applications import evaluate_snapshot, fen, yuan
from .context import Settings
from .determinations.evaluation_dates import require_covered
from .errors import Conflict, NotFound, ValidationFailed
from .hidden import check_visible, not_found
from .rule_sets import published_files

SUBSTANCE = ("status", "level", "level_override", "amount_fen", "kind", "rule_status")
"""What makes a decision different for the student: a reassessment that changes none of these keeps it."""
REPLAY_CACHE = 8


# --------------------------------------------------------------------------------------- content


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


def _new(
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
    return _new(
        session,
        fields,
        status=status,
        allocation=allocation,
        payment=payment,
        actor=actor,
        supersedes=old,
        reason=reason,
    )


def _substance(values: Mapping[str, Any]) -> tuple[Any, ...]:
    return tuple(values.get(k) for k in SUBSTANCE)


def current_decisions(session: Session, application_id: int) -> dict[str, Decision]:
    rows = session.execute(
        select(Decision).where(Decision.application_id == application_id, Decision.current.is_(True))
    ).scalars()
    return {d.program: d for d in rows}


def decide(
    session: Session,
    *,
    actor: Actor,
    settings: Settings,
    application: Application,
    cause: str,
    request_id: str | None = None,
) -> list[Decision]:
    """Make (approval) or renew (reassessment) an application's decisions; the caller holds the audit lock.

    Capped programs are allocated within their quota first (special groups never cut), which may
    supersede other students' decisions whose funding changes.
    """
    from .quotas import allocate_program, locked_quota

    specs = specs_for(application, cause)
    current = current_decisions(session, application.id)
    made: list[Decision] = []
    for program in sorted(set(specs) | set(current)):
        quota = locked_quota(session, application.school_code, program, application.school_year)
        spec = specs.get(program)
        if quota is not None:
            allocation = allocate_program(
                session,
                quota=quota,
                pending=application if spec is not None else None,
                actor=actor,
                cause=f"application {application.id} {cause}"[:200],
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
                    _new(
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
            _new(
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


# ---------------------------------------------------------------------------------------- reading


def decision_view(d: Decision, student: Student | Row[Any] | None = None) -> dict[str, Any]:
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


def list_decisions(
    session: Session,
    *,
    actor: Actor,
    settings: Settings,
    student_id: str,
    school_year: str | None = None,
    current_only: bool = False,
) -> dict[str, Any]:
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


def replay(session: Session, *, actor: Actor, settings: Settings, decision_id: int) -> dict[str, Any]:
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


# ------------------------------------------------------------------------------ semester adjustment


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
    from aidservice.schoolyear import semester_start

    from .applications import AGENCY_SOURCES, DECLARABLE_SOURCE, evaluate_student, override_of

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
            k: v for k, v in application.declared.items() if k in facts and facts[k].source in AGENCY_SOURCES
        }
        evaluation = evaluate_student(
            session,
            settings=settings,
            student_pk=application.student_pk,
            declared=declared,
            claims=claims,
            as_of=as_of,
            override=override_of(application),
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
