"""`flask --app wsgi aid rules check|publish`, and the `--rules` option the other commands share."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
from flask import current_app
from flask.cli import AppGroup

from aidservice.cli.rules_tests import rules_test
from aidservice.engine import completeness
from aidservice.rulesets import RuleSetBroken, current_rules, load_or_refuse

rules_group = AppGroup("rules", help="The rule set: check it, publish it.")

RULES_OPTION = click.option(
    "--rules",
    "rules_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Rules directory (default: AID_RULES_DIR, the rule set the service runs).",
)


def _rules_dir(rules_dir: Path | None) -> Path:
    return rules_dir if rules_dir is not None else Path(current_app.config["AID_RULES_DIR"])


def load_rules(rules_dir: Path, lang: str = "en") -> Any:
    """Load a rule set or stop with every `file:line: reason` on stderr (in Chinese for `zh`) and exit 1."""
    try:
        return load_or_refuse(rules_dir, lang)
    except RuleSetBroken as exc:
        for line in exc.lines:
            click.echo(line, err=True)
        if lang == "zh":
            raise click.ClickException(f"规则集 {rules_dir} 有 {len(exc.lines)} 处问题") from None
        raise click.ClickException(f"{len(exc.lines)} problem(s) in {rules_dir}") from None


def vocabulary_lines(ruleset: Any, lang: str) -> list[str]:
    """The sources with the statuses each sends, and the special groups, as `aid rules check` prints them."""
    vocabulary = ruleset.vocabulary
    facts = ruleset.facts
    en = lang == "en"
    reach = {"household": "household" if en else "家庭", "person": "person" if en else "本人"}
    lines = []
    for source in vocabulary.sources:
        statuses = ("、" if not en else ", ").join(
            f"{st.name} {facts[st.name].label}（{reach[st.reaches]}）"
            if not en
            else f"{st.name} ({st.reaches})"
            for st in source.statuses
        )
        head = f"source {source.id} ({source.label})" if en else f"数据来源 {source.label}（{source.id}）"
        lines.append(f"{head}: {statuses}" if en else f"{head}：{statuses}")
    groups = [f"{g.label}（{g.status}）" for g in vocabulary.groups]
    lines.append(("special groups: " + ", ".join(groups)) if en else ("特殊群体：" + "、".join(groups)))
    return lines


@rules_group.command("check")
@RULES_OPTION
@click.option(
    "--lang",
    type=click.Choice(["zh", "en"]),
    default="zh",
    show_default=True,
    help="Language of the loader's problems and the completeness findings (zh for analysts, en for engineers).",
)
def rules_check(rules_dir: Path | None, lang: str) -> None:
    """Validate the rules, check them for completeness, and run the rule tests in <rules>/tests."""
    root = _rules_dir(rules_dir)
    ruleset = load_rules(root, lang)
    click.echo(f"rules {root}: version {ruleset.version}")
    for line in vocabulary_lines(ruleset, lang):
        click.echo(line)
    findings = completeness.check(ruleset.rules)
    for finding in findings:
        click.echo(finding.text(lang), err=True)
    if findings:
        click.echo(
            f"{len(findings)} incompleteness finding(s)"
            if lang == "en"
            else f"完整性检查：{len(findings)} 处问题",
            err=True,
        )
    outcomes = ruleset.run_tests(root / "tests")
    failed = [o for o in outcomes if not o.passed]
    for outcome in failed:
        click.echo(f"FAIL {outcome.file}:{outcome.line}: {outcome.name}: {outcome.message}", err=True)
    click.echo(f"{len(outcomes) - len(failed)} passed, {len(failed)} failed")
    if failed or findings:
        raise SystemExit(1)


@rules_group.command("publish")
def rules_publish() -> None:
    """Store the running rule set's files under its version, so decisions made with it can be replayed."""
    from aidservice.extensions import db
    from aidservice.services.rule_sets import publish_current

    ruleset = current_rules()
    added = publish_current(db.session(), ruleset, ruleset.rules.files)
    db.session.commit()
    click.echo(f"rule set {ruleset.version} {'published' if added else 'already published'}")


rules_group.add_command(rules_test)  # `aid rules test [--update]` (aidservice.cli.rules_tests)
