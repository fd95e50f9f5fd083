"""The loaded rule set of this process: load once at start, refuse to start on a broken set."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

from flask import current_app

from aidservice.engine import RuleIssue, RulesError, RuleSet, load_rules
from aidservice.schoolyear import school_year_span

log = logging.getLogger("aidservice.startup")


class RuleSetBroken(RuntimeError):
    """The configured rules cannot be loaded; the message lists every `file:line: reason`."""

    def __init__(self, rules_dir: str | Path, lines: list[str], issues: Sequence[RuleIssue] = ()) -> None:
        self.rules_dir = str(rules_dir)
        self.lines = lines
        self.issues = list(issues)  # the same problems, structured (for `aid rules check` in Chinese)
        super().__init__(f"rule set {rules_dir} cannot be loaded:\n" + "\n".join(lines))


def issue_lines(error: RulesError, lang: str = "en") -> list[str]:
    """One `file:line: reason` line per problem the loader found (in Chinese where the check gives one and
    `lang` is "zh")."""
    issues = getattr(error, "issues", None)
    return [issue.text(lang) for issue in issues] if issues else str(error).splitlines()


def load_or_refuse(rules_dir: str | Path, lang: str = "en") -> RuleSet:
    """Load `rules_dir`, turning loader errors into RuleSetBroken so the service refuses to start."""
    try:
        return load_rules(rules_dir)
    except RulesError as exc:
        raise RuleSetBroken(rules_dir, issue_lines(exc, lang), getattr(exc, "issues", None) or ()) from exc


def current_rules() -> RuleSet:
    """The rule set loaded at start by this app."""
    ruleset: RuleSet = current_app.extensions["aid_rules"]
    return ruleset


def school_year_outside_coverage(school_year: str, ruleset: RuleSet) -> str | None:
    """Why the configured school year cannot be evaluated with `ruleset`, or None when it lies in its coverage.

    Every evaluation of a date outside the coverage is refused (422 naming `as_of`), so a school year the
    rules do not describe would refuse every application of the term: say so once, at start.
    """
    first, last = school_year_span(school_year)
    coverage = ruleset.rules.coverage
    if coverage.holds(first) and coverage.holds(last):
        return None
    return (
        f"AID_SCHOOL_YEAR {school_year} ({first.isoformat()} to {last.isoformat()}) is not inside the rules' "
        f"coverage ({coverage}): evaluations on its dates will be refused; publish rules that cover it"
    )


def warn_outside_coverage(school_year: str, ruleset: RuleSet) -> None:
    """Log a warning when the configured school year is not inside the rules' coverage."""
    reason = school_year_outside_coverage(school_year, ruleset)
    if reason is not None:
        log.warning(reason)
