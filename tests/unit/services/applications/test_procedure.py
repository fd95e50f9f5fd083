"""The procedure's pure rules: transitions, working days, instalments, allocation order."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from aidservice.services.applications.procedure import (
    Candidate,
    IllegalTransition,
    add_working_days,
    allocate,
    allowed_actions,
    instalments,
    next_state,
)


@pytest.mark.parametrize(
    ("state", "action", "after"),
    [
        ("submitted", "review", "reviewed"),
        ("reviewed", "publish_notice", "notice"),
        ("notice", "object", "objected"),
        ("objected", "resolve", "notice"),
        ("notice", "approve", "approved"),
        ("reviewed", "reject", "rejected"),
    ],
)
def test_procedure_moves_through_its_states(state: str, action: str, after: str) -> None:
    assert next_state(state, action) == after


def test_illegal_action_names_the_allowed_ones() -> None:
    with pytest.raises(IllegalTransition) as caught:
        next_state("submitted", "approve")
    assert caught.value.allowed == ["review", "reject"]
    assert "allowed: review, reject" in str(caught.value)


def test_nothing_is_allowed_after_approval() -> None:
    assert allowed_actions("approved") == []


def test_notice_period_skips_weekends_and_holidays() -> None:
    holidays = [date(2020, 10, d) for d in range(1, 9)]  # National Day and Mid-Autumn 2020
    # Mon 28, Tue 29, Wed 30 Sep; 1-8 Oct off; Fri 9 Oct; Mon 12 Oct is the fifth working day
    assert add_working_days(date(2020, 9, 28), 5, holidays) == date(2020, 10, 12)
    assert add_working_days(date(2020, 9, 5), 5) == date(2020, 9, 11)  # Saturday start counts from Monday


def test_semester_instalments_add_up_exactly() -> None:
    parts = instalments("2020-2021", "semesters", 125001)
    assert [(p.period, p.due, p.amount_fen) for p in parts] == [
        ("2020-2021-autumn", date(2020, 9, 1), 62501),
        ("2020-2021-spring", date(2021, 3, 1), 62500),
    ]


def test_university_grants_are_paid_over_ten_months() -> None:
    parts = instalments("2020-2021", "monthly_10", 330000)
    assert len(parts) == 10 and sum(p.amount_fen for p in parts) == 330000
    assert parts[0].due == date(2020, 9, 1) and parts[-1].due == date(2021, 7, 1)


def test_loans_and_unknown_amounts_have_no_instalments() -> None:
    assert instalments("2020-2021", "none", 800000) == []
    assert instalments("2020-2021", "semesters", None) == []


ORDER = ("special_group", "level", "per_capita_income", "applied_at")  # rules/procedure.yaml today


def _c(i: int, special: bool, level: str, income: int | None, minute: int) -> Candidate:
    return Candidate(i, special, level, income, datetime(2020, 9, 1, 8, minute, tzinfo=UTC))


def test_special_groups_are_funded_first_and_never_cut() -> None:
    result = allocate(
        [_c(1, False, "special", 0, 0), _c(2, True, "difficult", 50000, 5), _c(3, True, "general", 90000, 9)],
        places=1,
        order=ORDER,
    )
    by_id = {a.application_id: a for a in result}
    assert by_id[2].rank == 1 and by_id[2].funded
    assert by_id[3].funded and "shortfall" in by_id[3].explanation
    assert not by_id[1].funded and by_id[1].explanation == "not funded: rank 3 of 3 beyond quota 1"


def test_ties_break_by_level_then_income_then_application_time() -> None:
    result = allocate(
        [
            _c(1, False, "general", 100, 1),
            _c(2, False, "difficult", 900, 2),
            _c(3, False, "general", 50, 3),
            _c(4, False, "general", 50, 0),
            _c(5, False, "general", None, 0),
        ],
        places=3,
        order=ORDER,
    )
    assert [a.application_id for a in result] == [2, 4, 3, 1, 5]
    assert [a.funded for a in result] == [True, True, True, False, False]
    assert result[0].explanation == "funded: rank 1 of 5 within quota 3"


def test_another_quota_order_from_the_rules_ranks_by_it() -> None:
    """The order is the rule set's: with application time before level the earlier general applicant wins."""
    candidates = [
        _c(1, False, "special", 90000, 9),
        _c(2, False, "general", 10000, 1),
        _c(3, True, "general", 0, 5),
    ]
    by_level = allocate(candidates, places=2, order=ORDER)
    by_time = allocate(candidates, places=2, order=("special_group", "applied_at", "level"))
    assert [a.application_id for a in by_level] == [3, 1, 2]
    assert [a.application_id for a in by_time] == [3, 2, 1]
    assert [a.funded for a in by_time] == [True, True, False]


def test_an_unknown_sort_key_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown quota sort key 'age'"):
        allocate([_c(1, False, "general", 1, 1), _c(2, False, "general", 1, 2)], places=1, order=("age",))
