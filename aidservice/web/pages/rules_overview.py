"""The loaded rule set as the rules page shows it: `RuleSet.describe()` with each program's amounts resolved
to the parameter values in force on a date, so a reader sees ¥1,250.00 rather than a parameter name."""

from __future__ import annotations

from datetime import date
from typing import Any, NotRequired, TypedDict

from aidservice.engine import RuleSet
from aidservice.engine.sentences import combination_sentence, sentence

FEE_FACT = "tuition_fee"

AmountValue = TypedDict(
    "AmountValue",
    {
        "kind": str,  # money | value | fee | formula
        "text": str | int | bool | None,  # a parameter value as described, or the fee or formula text
        "key": NotRequired[str | None],
        "status": NotRequired[str | None],
        "note": NotRequired[str | None],
        "from": NotRequired[str | None],  # ISO dates; the functional form because `from` is a keyword
        "to": NotRequired[str | None],
        "in_force": NotRequired[bool],
    },
)
"""What a program's amount case pays: a parameter value (with its key, status, note and dates) or the text of
the fee or formula alone."""


class RulesOverview(TypedDict):
    """The rules page. The described parts are the engine's `describe()` JSON, free-form here; each program
    carries `amounts`: its `amount` cases, each with the `values` (AmountValue) it pays on `on`. Every level
    clause, program, amount case (with a condition) and combination carries `sentence`: its condition in
    Chinese words (engine/sentences.py); the expression stays in `when` for specialists."""

    version: str
    on: date
    documents: list[dict[str, Any]]
    levels: list[dict[str, Any]]
    programs: list[dict[str, Any]]
    parameters: list[dict[str, Any]]
    combinations: list[dict[str, Any]]
    level_labels: dict[str, str]
    sources: list[dict[str, Any]]
    special_groups: list[dict[str, Any]]


def overview(rules: RuleSet, on: date) -> RulesOverview:
    """Version, documents, level clauses, programs with amounts in force on `on`, parameters, combinations, and
    the sources with the statuses each sends and the special groups (rules/sources.yaml)."""
    described = rules.describe()
    loaded = rules.rules
    parameters = {p["name"]: p for p in described["parameters"]}
    shipped = {p.id: p for p in loaded.programs}
    programs = []
    for program in described["programs"]:
        conditions = [
            None if c.when is None else sentence(c.when, loaded) for c in shipped[program["id"]].amount
        ]
        amounts = [
            {**case, "values": _values(parameters.get(case["value"]), case["value"], on), "sentence": said}
            for case, said in zip(program["amount"], conditions, strict=True)
        ]
        programs.append(
            {**program, "amounts": amounts, "sentence": sentence(shipped[program["id"]].when, loaded)}
        )
    clauses = {c.id: c for c in loaded.clauses}
    levels = [
        {**lv, "clauses": [{**c, "sentence": sentence(clauses[c["id"]].when, loaded)} for c in lv["clauses"]]}
        for lv in described["levels"]
    ]
    combinations = [
        {**c, "sentence": combination_sentence(rule, loaded)}
        for c, rule in zip(described["combinations"], loaded.combinations, strict=True)
    ]
    return {
        "version": described["version"],
        "on": on,
        "documents": described["documents"],
        "levels": levels,
        "programs": programs,
        "parameters": described["parameters"],
        "combinations": combinations,
        "level_labels": dict(rules.rules.level_labels),
        "sources": described["sources"],
        "special_groups": described["special_groups"],
    }


def _values(parameter: dict[str, Any] | None, expression: str, on: date) -> list[AmountValue]:
    """The amount a case pays: a parameter's values in force on `on` (one per key; all of them, with their
    dates, when none is in force then), or the fee, or the formula as written."""
    if parameter is None:
        return [{"kind": "fee" if expression == FEE_FACT else "formula", "text": expression}]
    values: list[AmountValue] = [
        {
            "kind": "money" if parameter["type"] == "money" else "value",
            "text": value["value"],
            "key": value["key"],
            "status": value["status"] or parameter["status"],
            "note": value["note"],
            "from": value["from"],
            "to": value["to"],
            "in_force": _holds(value, on),
        }
        for value in parameter["values"]
    ]
    in_force = [v for v in values if v["in_force"]]
    return in_force or values or [{"kind": "formula", "text": expression}]


def _holds(value: dict[str, Any], on: date) -> bool:
    """Whether a dated value applies on `on` (both ends inclusive, as in the engine)."""
    start = date.fromisoformat(value["from"]) if value["from"] else None
    end = date.fromisoformat(value["to"]) if value["to"] else None
    return (start is None or start <= on) and (end is None or on <= end)
