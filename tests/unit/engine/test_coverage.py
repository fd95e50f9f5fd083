"""The rule set's coverage (policy §0): declared once, strictly loaded, and refused outside on every path."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from aidservice.engine import OutsideCoverage, RulesError, RuleSet, load_rules, rules_from_files
from aidservice.engine.columnar import evaluate_rows
from aidservice.engine.compiler import compile_record
from aidservice.engine.interp import evaluate as interpret
from aidservice.engine.model import UNBOUNDED

from .conftest import MINI, write_rules

FACTS = {"stage": "junior", "grade": 1, "orphan": True}
COVERAGE_LINE = "        coverage: {from: 2017-09-01, to: 2021-08-31}\n"


def with_coverage(tmp_path: Path, text: str | None) -> Path:
    files = dict(MINI)
    if text is None:
        del files["coverage.yaml"]
    else:
        files["coverage.yaml"] = text
    return write_rules(tmp_path, files)


def issues(root: Path) -> list[str]:
    with pytest.raises(RulesError) as caught:
        load_rules(root)
    return str(caught.value).splitlines()


def test_the_real_policy_covers_the_three_school_years(policy: RuleSet) -> None:
    assert (policy.rules.coverage.start, policy.rules.coverage.end) == (date(2018, 9, 1), date(2021, 8, 31))
    assert policy.describe()["coverage"] == {"from": "2018-09-01", "to": "2021-08-31"}


@pytest.mark.parametrize(
    ("text", "where", "message"),
    [
        pytest.param(
            "coverage: {from: 2017-09-01, to: 2021-08-31, until: 2022-01-01}\n",
            "rules/coverage.yaml:1",
            "unknown key 'until' in coverage",
            id="unknown-key",
        ),
        pytest.param(
            "coverage: {from: 2017-09-01}\n",
            "rules/coverage.yaml:1",
            "coverage is missing required key 'to'",
            id="missing-to",
        ),
        pytest.param(
            "coverage: {from: 2021-08-31, to: 2017-09-01}\n",
            "rules/coverage.yaml:1",
            "coverage is reversed",
            id="from-after-to",
        ),
        pytest.param(
            "# the years\ncoverage:\n  from: 2017-09-01\n  to: soon\n",
            "rules/coverage.yaml:4",
            "coverage.to must be a date",
            id="not-a-date",
        ),
        pytest.param(
            "coverage: 2018\n", "rules/coverage.yaml:1", "coverage must be a mapping", id="not-a-mapping"
        ),
    ],
)
def test_a_broken_coverage_is_a_load_error_with_file_and_line(
    tmp_path: Path, text: str, where: str, message: str
) -> None:
    lines = issues(with_coverage(tmp_path, text))
    assert any(line.startswith(where) and message in line for line in lines), lines


def test_a_missing_coverage_is_a_load_error(tmp_path: Path) -> None:
    assert issues(with_coverage(tmp_path, None)) == [
        "rules:0: no coverage declared: the rule set needs 'coverage: {from: YYYY-MM-DD, to: YYYY-MM-DD}' (policy §0)"
    ]


def test_a_second_coverage_names_both_places(tmp_path: Path) -> None:
    files = dict(MINI)
    files["levels.yaml"] = "coverage: {from: 2017-09-01, to: 2021-08-31}\n" + files["levels.yaml"]
    assert "rules/levels.yaml:1: duplicate coverage (first at rules/coverage.yaml:1)" in issues(
        write_rules(tmp_path, files)
    )


def test_the_coverage_is_part_of_the_version(tmp_path: Path) -> None:
    first = load_rules(with_coverage(tmp_path / "a", COVERAGE_LINE)).version
    later = load_rules(
        with_coverage(tmp_path / "b", COVERAGE_LINE.replace("2021-08-31", "2022-08-31"))
    ).version
    assert first != later


OUTSIDE = [date(9999, 9, 1), date(1990, 9, 1), date(2017, 8, 31), date(2021, 9, 1)]


@pytest.mark.parametrize("day", OUTSIDE, ids=str)
def test_every_evaluation_path_refuses_a_date_outside_coverage(mini: RuleSet, day: date) -> None:
    facts = mini.validate_facts(FACTS)
    paths = {
        "interpreter": lambda: interpret(mini.rules, facts, day),
        "compiled": lambda: compile_record(mini.rules, day),
        "columnar": lambda: evaluate_rows(mini.rules, [facts], day),
        "ruleset.evaluate": lambda: mini.evaluate(facts, day),
        "ruleset.explain": lambda: mini.explain(facts, day),
    }
    for name, path in paths.items():
        with pytest.raises(OutsideCoverage) as caught:
            path()
        assert caught.value.as_of == day, name
        assert str(caught.value) == (
            f"{day.isoformat()} is outside the rules' coverage (2017-09-01 to 2021-08-31); "
            "the rules cannot evaluate that date"
        ), name


@pytest.mark.parametrize("day", [date(2017, 9, 1), date(2021, 8, 31)], ids=str)
def test_both_ends_of_the_coverage_are_evaluated(mini: RuleSet, day: date) -> None:
    facts = mini.validate_facts(FACTS)
    assert mini.evaluate(facts, day).level == mini.explain(facts, day).level == "special"
    assert evaluate_rows(mini.rules, [facts], day)[0]["level"] == "special"


def test_a_set_published_before_coverage_existed_loads_unbounded_for_replay(policy: RuleSet) -> None:
    """Decisions recorded under a set from before `coverage:` must still replay (the `rule_sets` table keeps
    such sets); the running rules and any draft still need a coverage."""
    files = {rel: text for rel, text in policy.rules.files.items() if rel != "coverage.yaml"}
    with pytest.raises(RulesError, match="no coverage declared"):
        rules_from_files(files)
    older = rules_from_files(files, published=True)
    assert older.rules.coverage == UNBOUNDED
    facts = older.validate_facts({"stage": "junior", "grade": 2, "registered_poor": True})
    assert older.evaluate(facts, date(2020, 9, 1)).level == policy.evaluate(facts, date(2020, 9, 1)).level
    assert older.evaluate(facts, date(2017, 9, 1)).level  # the date its decisions may have recorded
