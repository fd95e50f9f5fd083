"""The shipped rule set's vocabulary, for tests that enumerate sources and statuses (loaded once per process)."""

from __future__ import annotations

from functools import cache

from aidservice.engine import RuleSet, load_rules
from config import REPO_ROOT


@cache
def shipped_rules() -> RuleSet:
    """rules/ as the service loads it."""
    return load_rules(REPO_ROOT / "rules")


def agency_statuses() -> dict[str, tuple[str, ...]]:
    """Agency source -> the statuses it may send (rules/sources.yaml)."""
    return shipped_rules().vocabulary.agency_statuses
