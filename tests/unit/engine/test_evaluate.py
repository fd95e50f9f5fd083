"""Evaluation semantics on a small rule set: levels, amounts, dates, unknowns, explanations."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from aidservice.engine import RuleSet
from aidservice.engine.ruletests import summary

AUTUMN_2020 = date(2020, 9, 1)


def both(rules: RuleSet, raw: dict, on: date = AUTUMN_2020) -> dict:
    """Evaluate on the reference and compiled paths; they must agree, and the answer is returned."""
    facts = rules.validate_facts(raw)
    reference = summary(rules.explain(facts, on))
    assert summary(rules.evaluate(facts, on)) == reference
    return reference


def test_orphan_is_special_even_with_high_income(mini: RuleSet) -> None:
    got = both(
        mini, {"stage": "primary", "grade": 3, "orphan": True, "city_code": "320100", "income": "999999"}
    )
    assert got["level"] == "special"
    assert got["reasons"] == ["s_orphan"]


@pytest.mark.parametrize(
    ("income", "level"),
    [
        ("16199.99", "difficult"),
        ("16200.00", "general"),
        ("16200.01", "general"),
        ("26999.99", "general"),
        ("27000.00", "none"),
    ],
)
def test_income_thresholds_are_exact_at_the_line(mini: RuleSet, income: str, level: str) -> None:
    # 南京 line: 900 × 12 = 10800; difficult below 1.5 ×, general below 2.5 ×
    got = both(mini, {"stage": "junior", "grade": 1, "city_code": "320100", "income": income})
    assert got["level"] == level


def test_unknown_income_fires_no_income_clause_and_is_named(mini: RuleSet) -> None:
    got = both(mini, {"stage": "junior", "grade": 1, "city_code": "320100"})
    assert got["level"] == "none"
    assert got["missing"] == ["income"]


def test_unknown_city_makes_the_line_unknown_and_names_the_city(mini: RuleSet) -> None:
    got = both(mini, {"stage": "junior", "grade": 1, "income": "100"})
    assert got["level"] == "none"
    assert got["missing"] == ["city_code"]


def test_parameter_without_value_on_the_date_is_unknown_and_named(mini: RuleSet) -> None:
    got = both(
        mini, {"stage": "junior", "grade": 1, "city_code": "320100", "income": "100"}, date(2017, 9, 1)
    )
    assert got["level"] == "none"
    assert got["missing"] == ["line_monthly"]


def test_waiver_with_unknown_fee_is_awarded_without_amount(mini: RuleSet) -> None:
    got = both(mini, {"stage": "junior", "grade": 1, "orphan": True})
    assert got["awards"] == {"waiver": None, "covid": Decimal("500.00")}
    assert got["total"] == Decimal("500.00")
    assert "fee" in got["missing"]


def test_exclusive_programs_keep_the_first_listed(mini: RuleSet) -> None:
    got = both(mini, {"stage": "junior", "grade": 1, "orphan": True, "fee": "800.50"})
    assert "living" not in got["awards"]
    assert got["awards"]["waiver"] == Decimal("800.50")


@pytest.mark.parametrize(
    ("on", "amount"),
    [(date(2018, 12, 31), Decimal("1000.00")), (date(2019, 1, 1), Decimal("1250.00"))],
)
def test_dated_amount_changes_on_its_start_date(mini: RuleSet, on: date, amount: Decimal) -> None:
    got = both(mini, {"stage": "junior", "grade": 1, "city_code": "320100", "income": "100"}, on)
    assert got["awards"] == {"living": amount}


@pytest.mark.parametrize(
    ("on", "awarded"),
    [
        (date(2019, 12, 31), False),
        (date(2020, 1, 1), True),
        (date(2020, 12, 31), True),
        (date(2021, 1, 1), False),
    ],
)
def test_date_limited_program_applies_inside_its_range_inclusive(
    mini: RuleSet, on: date, awarded: bool
) -> None:
    got = both(mini, {"stage": "junior", "grade": 1, "orphan": True, "fee": "1"}, on)
    assert ("covid" in got["awards"]) is awarded


def test_trace_explains_clause_with_fact_values_parameters_and_citation(mini: RuleSet) -> None:
    facts = mini.validate_facts({"stage": "junior", "grade": 1, "city_code": "320300", "income": "9000"})
    result = mini.explain(facts, AUTUMN_2020)
    entry = next(e for e in result.trace if e.item == "clause:d_income")
    assert entry.result is True
    assert entry.facts["income"] == "9000.00" and entry.facts["line"] == "7800.00"
    param = entry.parameters[0]
    assert (param["name"], param["key"], param["value"], param["from"]) == (
        "line_monthly",
        "320300",
        "650.00",
        "2018-01-01",
    )
    assert param["status"] == "provisional"
    living = next(e for e in result.trace if e.item.startswith("amount:living"))
    assert living.result == 125000
    assert living.parameters[0]["basis"] == "测试〔2020〕1号 第一条"
    assert living.parameters[0]["from"] == "2019-01-01"


def test_award_status_is_provisional_when_a_parameter_it_uses_is(mini: RuleSet) -> None:
    facts = mini.validate_facts({"stage": "junior", "grade": 1, "orphan": True, "fee": "1"})
    result = mini.evaluate(facts, AUTUMN_2020)
    statuses = {a.program: a.status for a in result.awards}
    assert statuses == {"waiver": "confirmed", "covid": "provisional"}


def test_compiled_evaluator_is_cached_per_date(mini: RuleSet) -> None:
    assert mini.compiled(AUTUMN_2020) is mini.compiled(AUTUMN_2020)
    assert mini.compiled(AUTUMN_2020) is not mini.compiled(date(2021, 3, 1))


def test_rule_tests_of_the_policy_all_pass_on_every_path(policy: RuleSet) -> None:
    from .conftest import REPO

    outcomes = policy.run_tests(REPO / "rules" / "tests")
    failed = [f"{o.file}:{o.line} {o.name}: {o.message}" for o in outcomes if not o.passed]
    assert outcomes and not failed, "\n".join(failed)


def test_describe_lists_provisional_values_with_their_notes(policy: RuleSet) -> None:
    described = policy.describe()
    assert described["version"] == policy.version
    assert {p["id"] for p in described["programs"]} >= {
        "preschool_aid",
        "covid_hardship_subsidy",
        "student_loan",
    }
    provisional = [p for p in described["parameters"] if p["status"] == "provisional"]
    assert provisional and all(p["note"] for p in provisional)


def test_reviewed_level_replaces_the_identified_one_on_every_path(mini: RuleSet) -> None:
    facts = mini.validate_facts({"stage": "junior", "grade": 1, "city_code": "320100", "income": "20000"})
    fast = mini.evaluate(facts, AUTUMN_2020, level="none")
    slow = mini.explain(facts, AUTUMN_2020, level="none")
    assert fast.level == slow.level == "none"
    assert [r.clause for r in fast.reasons] == ["g_income"]  # the clause still fired; the review overrode it
    assert summary(fast) == summary(slow)
    assert "living" not in {a.program for a in fast.awards}


def test_published_files_load_back_to_the_same_version(policy: RuleSet) -> None:
    from aidservice.engine import rules_from_files

    again = rules_from_files(policy.rules.files)
    assert again.version == policy.version
    assert again.describe()["programs"] == policy.describe()["programs"]
