"""The loaded rule set of this process: load once at start, refuse to start on a broken set."""

from __future__ import annotations

from pathlib import Path

from flask import current_app

from aidservice.engine import RulesError, RuleSet, load_rules


class RuleSetBroken(RuntimeError):
    """The configured rules cannot be loaded; the message lists every `file:line: reason`."""

    def __init__(self, rules_dir: str | Path, lines: list[str]) -> None:
        self.rules_dir = str(rules_dir)
        self.lines = lines
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
        raise RuleSetBroken(rules_dir, issue_lines(exc, lang)) from exc


def current_rules() -> RuleSet:
    """The rule set loaded at start by this app."""
    ruleset: RuleSet = current_app.extensions["aid_rules"]
    return ruleset
