"""The loaded rule set of this process: load once at start, refuse to start on a broken set."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from flask import current_app

from aidservice.engine import RuleIssue, RulesError, RuleSet, load_rules


class RuleSetBroken(RuntimeError):
    """The configured rules cannot be loaded; the message lists every `file:line: reason`."""

    def __init__(self, rules_dir: str | Path, lines: list[str], issues: Sequence[RuleIssue] = ()) -> None:
        self.rules_dir = str(rules_dir)
        self.lines = lines
        self.issues = list(issues)  # the same problems, structured (for `aid rules check` in Chinese)
        super().__init__(f"rule set {rules_dir} cannot be loaded:\n" + "\n".join(lines))


def issue_lines(error: RulesError) -> list[str]:
    """One `file:line: reason` line per problem the loader found."""
    issues = getattr(error, "issues", None)
    return [str(issue) for issue in issues] if issues else str(error).splitlines()


def load_or_refuse(rules_dir: str | Path) -> RuleSet:
    """Load `rules_dir`, turning loader errors into RuleSetBroken so the service refuses to start."""
    try:
        return load_rules(rules_dir)
    except RulesError as exc:
        raise RuleSetBroken(rules_dir, issue_lines(exc), getattr(exc, "issues", None) or ()) from exc


def current_rules() -> RuleSet:
    """The rule set loaded at start by this app."""
    ruleset: RuleSet = current_app.extensions["aid_rules"]
    return ruleset
