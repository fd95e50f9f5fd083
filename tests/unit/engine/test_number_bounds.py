"""The engine bounds a number on its text before any Decimal or Fraction work (issue 15, item 1); no Flask."""

from __future__ import annotations

import pytest

from aidservice.engine import FactsError
from aidservice.engine.facts import normalise
from aidservice.engine.ruleset import RuleSet
from tests.timing_support import work_clock

PROBES = [
    "1e100000000",
    1e308,
    "9" * 5000,
    float("inf"),
    "123456789012345678901234567890.001",
    -1,
    float("nan"),
    "NaN",
    "10000000.01",
]


@pytest.mark.parametrize("fact", ["per_capita_income", "household_size", "academic_rank_pct", "grade"])
@pytest.mark.parametrize("value", PROBES, ids=[str(p)[:20] for p in PROBES])
@pytest.mark.parametrize("text", [False, True], ids=["json", "text"])
def test_a_hostile_number_is_refused_by_name_within_milliseconds(
    policy: RuleSet, fact: str, value: object, text: bool
) -> None:
    raw = {"stage": "junior", "grade": 1, fact: value}
    started = work_clock()
    with pytest.raises(FactsError) as caught:
        normalise(policy.facts, raw, text=text)
    assert work_clock() - started < 0.5  # milliseconds when quiet; the unbounded Decimal took minutes
    assert fact in caught.value.errors


def test_money_stops_at_ten_million_yuan_and_household_size_at_30(policy: RuleSet) -> None:
    ok = normalise(
        policy.facts,
        {"stage": "junior", "grade": 1, "per_capita_income": "10000000.00", "household_size": 30},
    )
    assert ok["per_capita_income"] == 1_000_000_000 and ok["household_size"] == 30
    with pytest.raises(FactsError) as caught:
        normalise(policy.facts, {"stage": "junior", "grade": 1, "household_size": 31})
    assert caught.value.errors == {"household_size": ["must be at most 30"]}
