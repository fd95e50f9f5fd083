"""`flask --app wsgi aid rules test [--update]`: run the rule tests, or re-baseline them after a value change.

Without `--update` it runs `<rules>/tests/*.yaml` on every evaluation path (as `aid rules check` does after
validating) and exits 1 on a failure. With `--update`, after a deliberate change of a value, each case whose
expected level, awards, total, reasons or missing differ from what the rules now produce gets those
expectations rewritten in its file, and the diff is printed; a case whose evaluation paths disagree, or
whose facts are invalid, is never rewritten (that is a bug, not a new baseline) and still fails.

The files are edited as text, so comments and layout survive: a flow-style `expect: {...}` is rewritten on
its line, a block-style `expect:` only on the lines of the keys that changed.

Registered in `aidservice.cli.rules` (this module imports nothing from it, so there is no import cycle).
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import click
from flask import current_app

from aidservice.rulesets import RuleSetBroken, load_or_refuse

ORDER = ("level", "reasons", "awards", "total", "missing")


@dataclass(frozen=True, slots=True)
class Rewrite:
    """One case whose expectations change: where, and the new values of the keys that differ."""

    name: str
    line: int
    values: dict[str, Any]


@click.command("test")
@click.option(
    "--rules",
    "rules_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Rules directory (default: AID_RULES_DIR, the rule set the service runs).",
)
@click.option(
    "--update",
    is_flag=True,
    help="Rewrite the expectations of failing cases to what the rules now produce, and print the diff.",
)
def rules_test(rules_dir: Path | None, update: bool) -> None:
    """Run the rule tests in <rules>/tests (exit 1 on a failure); --update re-baselines them."""
    root = rules_dir if rules_dir is not None else Path(current_app.config["AID_RULES_DIR"])
    try:
        ruleset = load_or_refuse(root)
    except RuleSetBroken as exc:
        for line in exc.lines:
            click.echo(line, err=True)
        raise click.ClickException(f"{len(exc.lines)} problem(s) in {root}") from None
    tests_dir = root / "tests"
    if update:
        rewritten = 0
        for path in sorted(tests_dir.glob("*.yaml")):
            rewritten += rebaseline_file(ruleset, path, click.echo)
        click.echo(f"{rewritten} case(s) rewritten")
    outcomes = ruleset.run_tests(tests_dir)
    failed = [o for o in outcomes if not o.passed]
    for outcome in failed:
        click.echo(f"FAIL {outcome.file}:{outcome.line}: {outcome.name}: {outcome.message}", err=True)
    click.echo(f"{len(outcomes) - len(failed)} passed, {len(failed)} failed")
    if failed:
        raise SystemExit(1)


def rebaseline_file(ruleset: Any, path: Path, echo: Callable[[str], None]) -> int:
    """Rewrite the cases of one test file whose expectations differ; print the unified diff; how many."""
    from aidservice.engine.yamlsrc import RuleIssue, YList, YMap, load_file

    display = f"{path.parent.parent.name}/{path.parent.name}/{path.name}"
    try:
        top = load_file(path, display)
    except RuleIssue:
        return 0  # a file that does not parse is reported by the run
    if not isinstance(top, YMap) or not isinstance(top.get("tests"), YList):
        return 0
    text = path.read_text(encoding="utf-8")
    lines = text.splitlines(keepends=True)
    items: list[Any] = list(top["tests"])
    starts: list[int] = list(top["tests"].item_lines)
    ends = [*(s - 1 for s in starts[1:]), len(lines)]
    done = 0
    for item, start, end in reversed(
        list(zip(items, starts, ends, strict=True))
    ):  # bottom up: lines stay valid
        rewrite = _rewrite_of(ruleset, item, start)
        if rewrite is not None:
            lines = _apply(lines, item, end, rewrite)
            done += 1
    if done:
        new = "".join(lines)
        path.write_text(new, encoding="utf-8")
        echo("".join(difflib.unified_diff(text.splitlines(True), lines, f"a/{display}", f"b/{display}")))
    return done


def _rewrite_of(ruleset: Any, item: Any, line: int) -> Rewrite | None:
    """The new expectations of a well-formed case whose paths agree, when they differ from the written ones."""
    from aidservice.engine.facts import FactsError
    from aidservice.engine.ruletests import summary
    from aidservice.engine.yamlsrc import YMap

    if not isinstance(item, YMap) or not isinstance(item.get("expect"), YMap):
        return None
    if not isinstance(item.get("as_of"), date) or not isinstance(item.get("facts"), dict):
        return None
    try:
        facts = ruleset.validate_facts(item["facts"])
    except FactsError:
        return None
    reference = summary(ruleset.explain(facts, item["as_of"]))
    if summary(ruleset.evaluate(facts, item["as_of"])) != reference:
        return None
    expect: Mapping[str, Any] = item["expect"]
    values = {
        key: reference[key]
        for key in ORDER
        if key in expect and _normal(key, expect[key]) != _normal(key, reference[key])
    }
    return Rewrite(str(item.get("name", "")), line, values) if values else None


def _normal(key: str, value: Any) -> Any:
    """A written or produced expectation in comparable form (as the rule tests compare them)."""
    if key == "level":
        return str(value)
    if key in ("reasons", "missing"):
        return sorted(str(v) for v in value or [])
    if key == "awards":
        return {str(k): _money(v) for k, v in (value or {}).items()}
    return _money(value)


def _money(value: Any) -> Decimal | str | None:
    if value is None:
        return None
    try:
        return Decimal(str(value)).quantize(Decimal("0.01"))
    except InvalidOperation:
        return f"not an amount: {value!r}"  # differs from every produced amount, so it is rewritten


def _apply(lines: list[str], item: Any, item_end: int, rewrite: Rewrite) -> list[str]:
    """The file's lines with the case's `expect` rewritten (1-based lines, `item_end` inclusive)."""
    expect = item["expect"]
    key_line = item.key_lines["expect"]
    later = [n for n in item.key_lines.values() if n > key_line]
    end = _trim(lines, key_line, min(later) - 1 if later else item_end)
    head = lines[key_line - 1]
    indent = head[: len(head) - len(head.lstrip())]
    if head.split("expect:", 1)[1].strip():  # flow style: `expect: {...}` (maybe continued over lines)
        merged = {key: rewrite.values.get(key, expect[key]) for key in expect}
        body = ", ".join(f"{key}: {_render(key, value)}" for key, value in merged.items())
        tail = lines[end - 1].rstrip("\n")
        comment = tail[tail.rindex("}") + 1 :] if "}" in tail else ""  # `expect: {...}  # why`: kept
        comment = comment if comment.strip().startswith("#") else ""
        return [*lines[: key_line - 1], f"{indent}expect: {{{body}}}{comment}\n", *lines[end:]]
    out = list(lines)
    for key in sorted(rewrite.values, key=lambda k: expect.key_lines[k], reverse=True):
        first = expect.key_lines[key]
        following = [n for n in expect.key_lines.values() if n > first]
        last = _trim(out, first, min(following) - 1 if following else end)
        own = out[first - 1]
        pad = own[: len(own) - len(own.lstrip())]
        out[first - 1 : last] = [f"{pad}{key}: {_render(key, rewrite.values[key])}\n"]
    return out


def _trim(lines: list[str], first: int, last: int) -> int:
    """`last` without the blank and comment lines that end a range (they belong to what follows)."""
    while last > first and (not lines[last - 1].strip() or lines[last - 1].lstrip().startswith("#")):
        last -= 1
    return last


def _render(key: str, value: Any) -> str:
    """A value in the test files' flow style: amounts quoted with two decimals, null for unknown."""
    if key == "level":
        return str(value)
    if key in ("reasons", "missing"):
        return "[" + ", ".join(str(v) for v in sorted(value or [])) + "]"
    if key == "awards":
        return "{" + ", ".join(f"{p}: {_amount(a)}" for p, a in (value or {}).items()) + "}"
    return _amount(value)


def _amount(value: Any) -> str:
    if value is None:
        return "null"
    money = _money(value)
    return f'"{money:.2f}"' if isinstance(money, Decimal) else "null"
