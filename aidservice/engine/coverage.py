"""The rule set's coverage (policy §0): the one check every evaluation path makes before it reads a parameter.

A parameter with no value on a date makes a clause silently not fire, so a date the rules do not describe
would answer a level reached only because values were missing. Every entry point (the reference
interpreter, the compiled record evaluator, the columnar frame) calls `require_covered` first and so refuses
such a date with `OutsideCoverage`, which names the date and the coverage.
"""

from __future__ import annotations

from datetime import date

from .model import Coverage, Rules


class OutsideCoverage(ValueError):
    """An evaluation date the rule set does not describe; `as_of` and `coverage` say which and why."""

    def __init__(self, as_of: date, coverage: Coverage) -> None:
        self.as_of = as_of
        self.coverage = coverage
        super().__init__(message(as_of, coverage))


def message(as_of: date, coverage: Coverage) -> str:
    """The one sentence every refusal uses (API error, batch exit line, job submission)."""
    return (
        f"{as_of.isoformat()} is outside the rules' coverage ({coverage}); "
        "the rules cannot evaluate that date"
    )


def require_covered(rules: Rules, as_of: date) -> None:
    """Raise OutsideCoverage unless `as_of` lies in the rule set's coverage (inclusive at both ends)."""
    if not isinstance(as_of, date):
        raise TypeError(f"as_of must be a date, not {type(as_of).__name__}")
    if not rules.coverage.holds(as_of):
        raise OutsideCoverage(as_of, rules.coverage)
