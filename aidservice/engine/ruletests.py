"""Rule tests as data (`rules/tests/*.yaml`): facts and a date in, level and awards expected.

Each case runs on every evaluation path (reference with trace, compiled per-record, columnar),
so the tests also hold the paths to one semantics.

The runner needs only what `Evaluator` names (the rules, fact validation and the two per-record
paths), so it sits below `ruleset`: `RuleSet.run_tests` calls it with itself, and this module
never imports `ruleset`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Protocol

from .facts import FactsError
from .model import Rules
from .result import LEVELS, Result
from .yamlsrc import RuleIssue, YList, YMap, load_file

EXPECT_KEYS = {"level", "reasons", "awards", "total", "missing"}


class Evaluator(Protocol):
    """What the rule tests evaluate with: a `RuleSet` is one."""

    @property
    def rules(self) -> Rules: ...

    def validate_facts(self, raw: Mapping[str, object], *, text: bool = False) -> dict[str, object]: ...

    def evaluate(
        self, facts: Mapping[str, object], as_of: date, *, trace: bool = False, level: str | None = None
    ) -> Result: ...

    def explain(self, facts: Mapping[str, object], as_of: date, *, level: str | None = None) -> Result: ...


@dataclass(frozen=True, slots=True)
class TestOutcome:
    """One rule test: where it is written, and what went wrong if it failed."""

    __test__ = False  # not a pytest class

    name: str
    file: str
    line: int
    passed: bool
    message: str = ""


@dataclass(frozen=True, slots=True)
class _Case:
    name: str
    file: str
    line: int
    as_of: date
    facts: dict[str, object]
    expect: dict[str, Any]


def run_tests(ruleset: Evaluator, tests_dir: Path) -> list[TestOutcome]:
    """Every case of every test file, evaluated on each path and compared with its expectation."""
    outcomes: list[TestOutcome] = []
    cases: list[_Case] = []
    files = sorted(tests_dir.glob("*.yaml"))
    if not files:
        return [TestOutcome("(no tests)", str(tests_dir), 0, False, "no rule test files found")]
    for path in files:
        display = (Path(tests_dir.parent.name) / tests_dir.name / path.name).as_posix()
        try:
            cases += _read(ruleset, path, display, outcomes)
        except RuleIssue as issue:
            outcomes.append(TestOutcome(path.name, issue.file, issue.line, False, issue.message))
    columnar = _columnar_results(ruleset, cases)
    for case in cases:
        outcomes.append(_check(ruleset, case, columnar.get(id(case))))
    return outcomes


def _read(ruleset: Evaluator, path: Path, display: str, outcomes: list[TestOutcome]) -> list[_Case]:
    top = load_file(path, display)
    if not isinstance(top, YMap) or set(top) != {"tests"} or not isinstance(top["tests"], YList):
        raise RuleIssue(display, 1, "a rule test file has one key, 'tests', holding a list")
    cases = []
    for item, line in zip(top["tests"], top["tests"].item_lines, strict=True):
        problem = _shape(item)
        name = str(item.get("name", f"line {line}")) if isinstance(item, dict) else f"line {line}"
        if problem:
            outcomes.append(TestOutcome(name, display, line, False, problem))
            continue
        try:
            facts = ruleset.validate_facts(item["facts"])
        except FactsError as exc:
            outcomes.append(TestOutcome(name, display, line, False, f"invalid facts: {exc}"))
            continue
        cases.append(_Case(name, display, line, item["as_of"], facts, dict(item["expect"])))
    return cases


def _shape(item: object) -> str:
    if not isinstance(item, YMap):
        return "a test is a mapping with name, as_of, facts, expect"
    unknown = set(item) - {"name", "as_of", "facts", "expect"}
    missing = {"name", "as_of", "facts", "expect"} - set(item)
    if unknown or missing:
        return f"test keys: unknown {sorted(unknown)}, missing {sorted(missing)}"
    if not isinstance(item["as_of"], date):
        return "as_of must be a date (YYYY-MM-DD)"
    if not isinstance(item["facts"], dict) or not isinstance(item["expect"], dict):
        return "facts and expect are mappings"
    bad = set(item["expect"]) - EXPECT_KEYS
    if bad:
        return f"unknown expect keys {sorted(bad)} (allowed: {', '.join(sorted(EXPECT_KEYS))})"
    if "level" in item["expect"] and item["expect"]["level"] not in LEVELS:
        return f"expected level must be one of {', '.join(LEVELS)}"
    return ""


def _money(value: object) -> Decimal | None:
    if value is None:
        return None
    try:
        return Decimal(str(value)).quantize(Decimal("0.01"))
    except InvalidOperation:
        raise ValueError(f"not an amount: {value!r}") from None


def summary(result: Result) -> dict[str, Any]:
    """What the tests compare (and the paths must agree on)."""
    return {
        "level": result.level,
        "reasons": [r.clause for r in result.reasons],
        "awards": {a.program: a.amount for a in result.awards},
        "total": result.total,
        "missing": list(result.missing),
    }


def _check(ruleset: Evaluator, case: _Case, columnar: dict[str, Any] | None) -> TestOutcome:
    def fail(message: str) -> TestOutcome:
        return TestOutcome(case.name, case.file, case.line, False, message)

    reference = summary(ruleset.explain(case.facts, case.as_of))
    compiled = summary(ruleset.evaluate(case.facts, case.as_of))
    if compiled != reference:
        return fail(f"compiled path differs from the reference: {compiled} != {reference}")
    if columnar is not None:
        wanted = {k: reference[k] for k in ("level", "awards", "total")}
        if columnar != wanted:
            return fail(f"columnar path differs from the reference: {columnar} != {wanted}")
    try:
        problems = list(_compare(case.expect, reference))
    except ValueError as exc:
        return fail(str(exc))
    if problems:
        return fail("; ".join(problems))
    return TestOutcome(case.name, case.file, case.line, True)


def _compare(expect: dict[str, Any], got: dict[str, Any]) -> list[str]:
    checks: dict[str, Callable[[Any], Any]] = {
        "level": str,
        "reasons": lambda v: sorted(v or []),
        "awards": lambda v: {str(k): _money(a) for k, a in (v or {}).items()},
        "total": _money,
        "missing": lambda v: sorted(v or []),
    }
    actual = dict(got, reasons=sorted(got["reasons"]), missing=sorted(got["missing"]))
    out = []
    for key, norm in checks.items():
        if key in expect and norm(expect[key]) != actual[key]:
            out.append(f"{key}: expected {_show(norm(expect[key]))}, got {_show(actual[key])}")
    return out


def _show(value: object) -> str:
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {'null' if v is None else v}" for k, v in value.items()) + "}"
    return str(value)


def _columnar_results(ruleset: Evaluator, cases: list[_Case]) -> dict[int, dict[str, Any]]:
    """Evaluate all cases per date in one frame on the columnar path, when it is available."""
    try:  # polars is heavy: imported only when the rule tests run, so `import aidservice.engine` stays cheap
        from .columnar import evaluate_rows
    except ImportError:
        return {}
    out: dict[int, dict[str, Any]] = {}
    by_date: dict[date, list[_Case]] = {}
    for case in cases:
        by_date.setdefault(case.as_of, []).append(case)
    for as_of, group in by_date.items():
        for case, row in zip(
            group, evaluate_rows(ruleset.rules, [c.facts for c in group], as_of), strict=True
        ):
            out[id(case)] = row
    return out
