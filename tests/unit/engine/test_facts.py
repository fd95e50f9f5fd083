"""Facts are checked before evaluation: every bad value is named with its reason."""

from __future__ import annotations

import pytest

from aidservice.engine import FactsError, RuleSet

BASE = {"stage": "junior", "grade": 2}


@pytest.mark.parametrize(
    ("extra", "field", "reason"),
    [
        ({"foo": 1}, "foo", "unknown fact"),
        ({"grade": 0}, "grade", "at least 1"),
        ({"grade": "2"}, "grade", "integer"),
        ({"disability_grade": 7}, "disability_grade", "at most 4"),
        ({"stage": "college"}, "stage", "not one of"),
        ({"city_code": "320199"}, "city_code", "not one of"),
        ({"per_capita_income": -1}, "per_capita_income", "at least 0"),
        ({"per_capita_income": "12.345"}, "per_capita_income", "two decimal places"),
        ({"per_capita_income": "abc"}, "per_capita_income", "number"),
        ({"orphan": "yes"}, "orphan", "true or false"),
        ({"academic_rank_pct": 101}, "academic_rank_pct", "at most 100"),
        ({"stage": None}, "stage", "required"),
    ],
)
def test_bad_fact_is_named_with_its_reason(policy: RuleSet, extra: dict, field: str, reason: str) -> None:
    with pytest.raises(FactsError) as caught:
        policy.validate_facts({**BASE, **extra})
    assert field in caught.value.errors
    assert reason in " ".join(caught.value.errors[field])


def test_missing_stage_and_grade_are_both_reported(policy: RuleSet) -> None:
    with pytest.raises(FactsError) as caught:
        policy.validate_facts({})
    assert caught.value.errors == {"stage": ["is required"], "grade": ["is required"]}


def test_money_is_held_as_exact_fen(policy: RuleSet) -> None:
    facts = policy.validate_facts({**BASE, "per_capita_income": 16199.99, "tuition_fee": "1250.5"})
    assert facts["per_capita_income"] == 1619999
    assert facts["tuition_fee"] == 125050
    assert policy.fact_to_json("tuition_fee", facts["tuition_fee"]) == "1250.50"


def test_booleans_default_to_false_and_numbers_to_unknown(policy: RuleSet) -> None:
    facts = policy.validate_facts(BASE)
    assert facts["orphan"] is False
    assert facts["per_capita_income"] is None


def test_text_values_from_csv_are_read(policy: RuleSet) -> None:
    facts = policy.validate_facts(
        {"stage": "junior", "grade": "2", "orphan": "true", "per_capita_income": ""}, text=True
    )
    assert facts["grade"] == 2 and facts["orphan"] is True and facts["per_capita_income"] is None


def test_numeric_city_code_is_accepted_as_its_text(policy: RuleSet) -> None:
    assert policy.validate_facts({**BASE, "city_code": 320100})["city_code"] == "320100"
