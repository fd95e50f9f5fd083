"""Chinese labels of an enum fact's values, read from the loaded rule set, and the enrolment states.

An enum fact may map each value to its label (`values: {enrolled: 在读, …}` in rules/facts.yaml); the
values and their labels live only in the rules. The names of the
enrolment states the dropout-control logic depends on are checked against the rules' values
(`check_enrolment_states`), so a rule set that renames one is refused rather than misread.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

ENROLLED = "enrolled"
TRANSFERRED = "transferred"
SUSPENDED = "suspended"
DROPPED_OUT = "dropped_out"
GRADUATED = "graduated"
ON_ROLL = (ENROLLED, SUSPENDED)
"""States in which the student is still on the school's roll: one identity number holds at most one such record."""
ENDED = (TRANSFERRED, SUSPENDED, DROPPED_OUT)
"""States the dropout-control report looks at (a suspension is an interruption a county follows up)."""


def value_labels(facts: Mapping[str, Any], fact: str) -> dict[str, str]:
    """{value: Chinese label} of an enum fact, in the rules' value order; a value without a label shows as itself."""
    spec = facts.get(fact)
    if spec is None:
        return {}
    return {value: spec.label_of(value) for value in spec.values}


def value_of(facts: Mapping[str, Any], fact: str, raw: object) -> object:
    """An enum cell as its value: the value itself or its Chinese label (an import's 在读, 陕西); else as read."""
    if not isinstance(raw, str):
        return raw
    text = raw.strip()
    labels = value_labels(facts, fact)
    if text in labels:
        return text
    for value, label in labels.items():
        if label == text:
            return value
    return raw


def check_enrolment_states(facts: Mapping[str, Any]) -> list[str]:
    """The state names the code relies on that the rule set does not list (empty when it lists them all)."""
    spec = facts.get("enrolment_state")
    known = set(spec.values) if spec is not None else set()
    return [s for s in (ENROLLED, TRANSFERRED, SUSPENDED, DROPPED_OUT, GRADUATED) if s not in known]
