"""Stateless evaluation: validate raw facts with the rule set's catalogue, then evaluate them."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import TYPE_CHECKING, Any

from aidservice.services.determinations.evaluation_dates import require_covered

if TYPE_CHECKING:
    from aidservice.engine.result import Result


def evaluate_facts(rules: Any, raw_facts: Mapping[str, Any], as_of: date, *, trace: bool) -> Result:
    """Evaluate one student's facts on `as_of`; raises the engine's FactsError naming each bad fact.

    A date outside the rules' coverage is refused first (ValidationFailed naming `as_of`).
    """
    require_covered(rules, as_of)
    facts = rules.validate_facts(dict(raw_facts))
    return rules.evaluate(facts, as_of, trace=trace)
