"""The pure rules engine: load and validate rules, compile, evaluate, explain.

No Flask, no SQLAlchemy, no I/O beyond reading rule files (a test asserts it).
"""

from __future__ import annotations

from .coverage import OutsideCoverage
from .facts import FactsError
from .loader import RulesError
from .result import LEVELS, Award, Reason, Result, TraceEntry
from .ruleset import RuleSet, load_rules, rules_from_files
from .yamlsrc import RuleIssue

__all__ = [
    "LEVELS",
    "Award",
    "FactsError",
    "OutsideCoverage",
    "Reason",
    "Result",
    "RuleIssue",
    "RuleSet",
    "RulesError",
    "TraceEntry",
    "load_rules",
    "rules_from_files",
]
