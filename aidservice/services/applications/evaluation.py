"""An application's evaluation: the declared facts checked with the catalogue (declared facts, and agency
statuses the family claims), the student's facts assembled with their sources on a date, what the rules
make of them (a level set by people kept as an override), what an application stores of the result (the
decisive trace items) and what the audit trail records of it (no personal data: a hash over the facts).

Replaying a decision reads its recorded facts the same way (`engine_facts`, `evaluate_snapshot`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy.orm import Session

from aidservice.engine.facts import convert, to_json
from aidservice.engine.result import Result, TraceEntry
from aidservice.models import Application
from aidservice.services import audit
from aidservice.services.applications.declared_facts import Verified, annotate, with_verified
from aidservice.services.applications.values import sha256_text, yuan
from aidservice.services.context import Settings
from aidservice.services.determinations.facts_assembly import assemble
from aidservice.services.errors import ValidationFailed

DECLARABLE_SOURCE = "application"


def agency_sources(rules: Any) -> frozenset[str]:
    """The rules' agency sources: a fact they send is only claimed on an application, never declared."""
    return frozenset(rules.vocabulary.agency_ids)


# --------------------------------------------------------------------------------- declared facts


def split_declared(rules: Any, raw: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(declared facts, claimed agency statuses), each checked with the catalogue and normalised to JSON form.

    Facts the application carries (source `application`) are declared; agency statuses the family
    claims are kept as claims and only compared with the agency records (the record wins); roster and
    school facts cannot be declared. Errors are named `declared.<fact>`.
    """
    declared: dict[str, Any] = {}
    claims: dict[str, Any] = {}
    errors: dict[str, list[str]] = {}
    for name, value in raw.items():
        key = f"declared.{name}"
        spec = rules.facts.get(name)
        if spec is None:
            errors[key] = ["unknown fact"]
            continue
        if spec.source == DECLARABLE_SOURCE:
            target = declared
        elif spec.source in agency_sources(rules):
            target = claims
        else:
            errors[key] = [f"cannot be declared: it comes from the {spec.source} record"]
            continue
        if value is None:
            continue
        try:
            target[name] = to_json(spec, convert(spec, value))
        except ValueError as exc:
            errors[key] = [str(exc)]
    if errors:
        raise ValidationFailed(errors, "The declared facts are invalid; see errors.")
    return declared, claims


def conflicts_of(
    rules: Any, claims: Mapping[str, Any], snapshot: Mapping[str, Mapping[str, Any]]
) -> list[dict[str, Any]]:
    """Claimed statuses that the agency records contradict or do not support: the agency record wins."""
    out = []
    for name in sorted(claims):
        spec = rules.facts[name]
        entry = snapshot.get(name)
        agency = entry["value"] if entry is not None else spec.default
        if claims[name] == agency:
            continue
        out.append(
            {
                "fact": name,
                "label": spec.label,
                "declared": claims[name],
                "agency": agency,
                "source": entry["source"] if entry is not None else spec.source,
                "record_ids": list(entry["record_ids"]) if entry is not None else [],
                "resolution": "agency record wins",
            }
        )
    return out


# ------------------------------------------------------------------------------------- evaluation


@dataclass(frozen=True, slots=True)
class Evaluation:
    """An application's facts (with sources) and what the rules made of them on `as_of`."""

    as_of: date
    rule_set_version: str
    facts: dict[str, dict[str, Any]]
    conflicts: list[dict[str, Any]]
    evaluated_level: str
    level: str
    result: dict[str, Any]


def engine_facts(rules: Any, snapshot: Mapping[str, Mapping[str, Any]]) -> dict[str, object]:
    """Engine values from a facts snapshot: the one way both evaluation and replay read recorded facts."""
    return rules.validate_facts({name: entry["value"] for name, entry in snapshot.items()})


def evaluate_snapshot(
    rules: Any, snapshot: Mapping[str, Mapping[str, Any]], as_of: date, override: str | None
) -> tuple[str, Result]:
    """(level the rules identify, the result with the override applied and its full trace)."""
    values = engine_facts(rules, snapshot)
    result = rules.explain(values, as_of, level=override)
    evaluated = result.level if override is None else rules.evaluate(values, as_of).level
    return evaluated, result


def evaluate_student(
    session: Session,
    *,
    settings: Settings,
    student_pk: int,
    declared: Mapping[str, Any],
    claims: Mapping[str, Any],
    as_of: date,
    override: str | None,
    verified: tuple[Verified, ...] = (),
) -> Evaluation:
    """Assemble the student's facts (roster, school, agency records valid on `as_of`, declared, verified
    out-of-province declarations) and evaluate."""
    rules = settings.rules
    (found,) = assemble(session, [student_pk], as_of, rules, {student_pk: dict(declared)})
    return _evaluation(rules, with_verified(found.snapshot, verified), claims, as_of, override)


def reevaluate(settings: Settings, application: Application, override: str | None) -> Evaluation:
    """The application's recorded facts evaluated again (a level adjustment), on its recorded date."""
    claims = {
        k: v
        for k, v in application.declared.items()
        if settings.rules.facts[k].source in agency_sources(settings.rules)
    }
    return _evaluation(settings.rules, application.facts, claims, application.as_of, override)


def _evaluation(
    rules: Any,
    snapshot: Mapping[str, Mapping[str, Any]],
    claims: Mapping[str, Any],
    as_of: date,
    override: str | None,
) -> Evaluation:
    evaluated, result = evaluate_snapshot(rules, snapshot, as_of, override)
    return Evaluation(
        as_of=as_of,
        rule_set_version=rules.version,
        facts={name: dict(entry) for name, entry in snapshot.items()},
        conflicts=conflicts_of(rules, claims, snapshot),
        evaluated_level=evaluated,
        level=result.level,
        result=annotate(rules, result_json(rules, result), result, snapshot),
    )


def result_json(rules: Any, result: Result) -> dict[str, Any]:
    """What an application stores of its evaluation: level, reasons, awards (with how each is paid), the
    missing facts and a summary of the trace (the items that decided)."""
    payments = {p.id: p.payment for p in rules.rules.programs}
    return {
        "rule_set_version": result.rule_set_version,
        "as_of": result.as_of.isoformat(),
        "level": result.level,
        "reasons": [
            {"clause": r.clause, "level": r.level, "label": r.label, "status": r.status, "basis": r.basis}
            for r in result.reasons
        ],
        "awards": [
            {
                "program": a.program,
                "name": a.name,
                "kind": a.kind,
                "amount": yuan(a.amount_fen),
                "basis": a.basis,
                "status": a.status,
                "missing": list(a.missing),
                "payment": payments.get(a.program, "semesters"),
            }
            for a in result.awards
        ],
        "total": yuan(result.total_fen),
        "missing": list(result.missing),
        "trace": [_trace_item(e) for e in result.trace or () if _decisive(e)],
    }


def _decisive(entry: TraceEntry) -> bool:
    """Trace items worth keeping with a decision: clauses that fired, programs that applied or were
    unknown, the amounts chosen, and combinations that dropped a program."""
    kind = entry.item.partition(":")[0]
    if kind == "clause":
        return entry.result is True
    if kind == "program":
        return entry.result is not False
    if kind == "amount":
        return True
    if kind == "combination":
        return bool(isinstance(entry.result, dict) and entry.result.get("dropped"))
    return False


def _trace_item(entry: TraceEntry) -> dict[str, Any]:
    result: Any = entry.result
    if entry.item.startswith("amount:") and type(result) is int:
        result = yuan(result)
    return {
        "item": entry.item,
        "label": entry.label,
        "result": _jsonable(result),
        "missing": list(entry.missing),
        "status": entry.status,
        "basis": entry.basis,
    }


def _jsonable(value: object) -> object:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if value is None or isinstance(value, bool | int | str):
        return value
    return str(value)


def apply_evaluation(application: Application, evaluation: Evaluation) -> None:
    application.as_of = evaluation.as_of
    application.rule_set_version = evaluation.rule_set_version
    application.facts = evaluation.facts
    application.conflicts = evaluation.conflicts
    application.evaluated_level = evaluation.evaluated_level
    application.level = evaluation.level
    application.result = evaluation.result


def override_of(application: Application) -> str | None:
    """The level a review or an upheld objection set, if any: evaluations of this application keep it."""
    adjustment = application.level_adjustment
    return None if not adjustment else adjustment.get("to")


def outcome_summary(application: Application) -> dict[str, Any]:
    """What the audit trail records of an evaluation: no personal data, a hash over the facts."""
    return {
        "level": application.level,
        "evaluated_level": application.evaluated_level,
        "awards": [[a["program"], a["amount"]] for a in application.result.get("awards", [])],
        "rule_set_version": application.rule_set_version,
        "as_of": application.as_of.isoformat(),
        "facts_sha256": sha256_text(audit.canonical(application.facts)),
        "conflicts": [c["fact"] for c in application.conflicts],
    }
