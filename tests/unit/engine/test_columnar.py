"""The columnar path: output shape, exact thresholds, unknowns, dates, and agreement on a synthetic province."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import polars as pl
import pytest

from aidservice.demo.facts import generate_facts
from aidservice.engine import RuleSet
from aidservice.engine.batch_validate import validate
from aidservice.engine.columnar import compile_frame, evaluate_frame, evaluate_rows, facts_frame
from aidservice.engine.columnar_compiler import result_columns
from aidservice.engine.ruletests import summary

AUTUMN_2020 = date(2020, 9, 1)


def one(rules: RuleSet, raw: dict, on: date = AUTUMN_2020) -> dict:
    """Columnar answer for one student, checked against the reference."""
    facts = rules.validate_facts(raw)
    got = evaluate_rows(rules.rules, [facts], on)[0]
    reference = summary(rules.explain(facts, on))
    assert got == {k: reference[k] for k in ("level", "awards", "total")}
    return got


def test_frame_has_level_flags_amounts_and_total_and_keeps_other_columns(policy: RuleSet) -> None:
    facts = [
        policy.validate_facts({"stage": "junior", "grade": 2, "orphan": True}),
        policy.validate_facts({"stage": "doctor", "grade": 1}),
    ]
    frame = facts_frame(policy.rules, facts).with_columns(pl.Series("student_id", ["a", "b"]))
    out = evaluate_frame(policy.rules, frame, AUTUMN_2020)
    assert out.columns == [*frame.columns, *result_columns(policy.rules)]
    assert out.schema["level"] == pl.String
    assert out.schema["total_fen"] == pl.Int64
    assert all(out.schema[f"has_{p.id}"] == pl.Boolean for p in policy.rules.programs)
    assert all(out.schema[f"fen_{p.id}"] == pl.Int64 for p in policy.rules.programs)
    assert out["student_id"].to_list() == ["a", "b"]
    assert out["level"].to_list() == ["special", "none"]
    assert out["fen_compulsory_living_subsidy"].to_list() == [125000, None]
    assert out["fen_graduate_grant"].to_list() == [None, 1300000]
    assert out["total_fen"].to_list() == [125000, 1300000]


def test_income_exactly_on_a_line_is_not_below_it(policy: RuleSet) -> None:
    # 南京: 900 × 12 = 10800 a year; difficult below 1.5 × = 16200, general below 2.5 × = 27000
    base = {"stage": "senior_high", "grade": 1, "city_code": "320100"}
    assert one(policy, {**base, "per_capita_income": "16199.99"})["level"] == "difficult"
    assert one(policy, {**base, "per_capita_income": "16200.00"})["level"] == "general"
    assert one(policy, {**base, "per_capita_income": "26999.99"})["level"] == "general"
    assert one(policy, {**base, "per_capita_income": "27000.00"})["level"] == "none"


def test_unknown_city_or_income_fires_no_income_clause(policy: RuleSet) -> None:
    assert one(policy, {"stage": "junior", "grade": 1, "per_capita_income": "1"})["level"] == "none"
    assert one(policy, {"stage": "junior", "grade": 1, "city_code": "320300"})["level"] == "none"
    assert (
        one(policy, {"stage": "junior", "grade": 1, "city_code": "320300", "unemployed_parent": True})[
            "level"
        ]
        == "none"
    )


def test_waiver_with_unknown_fee_is_awarded_with_unknown_amount_and_not_totalled(policy: RuleSet) -> None:
    got = one(policy, {"stage": "senior_high", "grade": 1, "registered_poor": True})
    assert got["awards"] == {"senior_high_fee_waiver": None, "senior_high_grant": Decimal("3000.00")}
    assert got["total"] == Decimal("3000.00")


def test_national_scholarship_excludes_the_inspirational_one(policy: RuleSet) -> None:
    got = one(policy, {"stage": "undergraduate", "grade": 2, "orphan": True, "academic_rank_pct": "1.5"})
    assert "undergrad_national_scholarship" in got["awards"]
    assert "undergrad_inspirational_scholarship" not in got["awards"]


def test_loans_are_listed_but_not_totalled(policy: RuleSet) -> None:
    got = one(policy, {"stage": "master", "grade": 1, "orphan": True, "salaried": True})
    assert got["awards"] == {"student_loan": Decimal("12000.00")}
    assert got["total"] == Decimal("0.00")


@pytest.mark.parametrize(
    ("on", "awarded"),
    [
        (date(2019, 12, 31), False),
        (date(2020, 1, 1), True),
        (date(2020, 12, 31), True),
        (date(2021, 1, 1), False),
    ],
)
def test_date_limited_program_applies_only_in_its_range(policy: RuleSet, on: date, awarded: bool) -> None:
    got = one(policy, {"stage": "primary", "grade": 1, "covid_infected_family": True}, on)
    assert ("covid_hardship_subsidy" in got["awards"]) is awarded


def test_amount_case_with_a_start_date_applies_from_it(policy: RuleSet) -> None:
    raw = {"stage": "undergraduate", "grade": 1, "retired_soldier": True}
    assert one(policy, raw, date(2018, 12, 31))["awards"] == {}  # no retired-soldier clause yet, level none
    assert one(policy, raw, date(2019, 1, 1))["awards"] == {"undergrad_grant": Decimal("3300.00")}


def test_enum_and_string_columns_and_missing_columns_give_the_same_answers(policy: RuleSet) -> None:
    raw = generate_facts(2000, seed=5)
    facts, problems = validate(policy, raw)
    assert problems.height == 0
    as_enum = evaluate_frame(policy.rules, facts.drop("__row"), AUTUMN_2020)
    as_text = evaluate_frame(
        policy.rules,
        facts.drop("__row").with_columns(pl.col("stage", "city_code").cast(pl.String)),
        AUTUMN_2020,
    )
    assert as_enum.select(result_columns(policy.rules)).equals(as_text.select(result_columns(policy.rules)))
    # a frame without the optional columns: booleans false, the rest unknown
    minimal = facts.select("stage", "grade", "orphan")
    got = evaluate_frame(policy.rules, minimal, AUTUMN_2020)
    expected = evaluate_rows(
        policy.rules, [{"stage": s, "grade": g, "orphan": o} for s, g, o in minimal.iter_rows()], AUTUMN_2020
    )
    assert got["level"].to_list() == [e["level"] for e in expected]


def test_compiled_frame_is_cached_per_version_and_date(policy: RuleSet) -> None:
    assert compile_frame(policy.rules, AUTUMN_2020) is compile_frame(policy.rules, AUTUMN_2020)
    assert compile_frame(policy.rules, AUTUMN_2020) is not compile_frame(policy.rules, date(2021, 3, 1))


def test_empty_input_gives_no_rows(policy: RuleSet) -> None:
    assert evaluate_rows(policy.rules, [], AUTUMN_2020) == []
    out = evaluate_frame(policy.rules, facts_frame(policy.rules, []), AUTUMN_2020)
    assert out.height == 0 and "total_fen" in out.columns


@pytest.mark.parametrize("on", [date(2018, 9, 1), AUTUMN_2020, date(2021, 3, 1)])
def test_columnar_agrees_with_the_compiled_path_on_a_synthetic_province(policy: RuleSet, on: date) -> None:
    raw = generate_facts(20_000, seed=11)
    facts, problems = validate(policy, raw)
    assert problems.height == 0
    out = evaluate_frame(policy.rules, facts.drop("__row"), on)
    ids = [p.id for p in policy.rules.programs]
    fact_names = list(policy.rules.facts)
    compiled = policy.compiled(on)
    rows = facts.select(fact_names).with_columns(pl.col("stage", "city_code").cast(pl.String))
    for i, (record, got) in enumerate(
        zip(rows.iter_rows(named=True), out.iter_rows(named=True), strict=True)
    ):
        result = compiled(record)
        assert got["level"] == result.level, (i, record)
        assert {p: got[f"fen_{p}"] for p in ids if got[f"has_{p}"]} == {
            a.program: a.amount_fen for a in result.awards
        }, (i, record)
        assert got["total_fen"] == result.total_fen
        if i % 40 == 0:  # the reference is slower: every 40th student
            assert summary(policy.explain(record, on)) == summary(result)


def test_synthetic_students_are_reproducible_valid_and_realistic(policy: RuleSet) -> None:
    students = generate_facts(50_000, seed=9)
    assert students.equals(generate_facts(50_000, seed=9))
    assert students.head(100).equals(generate_facts(100, seed=9))  # row i does not depend on n
    assert not students.equals(generate_facts(50_000, seed=10))
    assert students.columns == ["student_id", *[c for c in students.columns if c != "student_id"]]
    assert set(students.columns) - {"student_id"} == set(policy.rules.facts)
    assert students.schema["per_capita_income"] == pl.Decimal(12, 2)
    assert students["student_id"].n_unique() == 50_000
    _, problems = validate(policy, students)
    assert problems.height == 0  # every value within the catalogue's bounds
    assert set(students["stage"]) == set(policy.rules.facts["stage"].values)
    assert set(students["city_code"].drop_nulls()) == set(policy.rules.facts["city_code"].values)
    share = {
        c: students[c].mean() for c in ("registered_poor", "subsistence_allowance", "orphan", "disabled")
    }
    assert 0.02 <= share["registered_poor"] <= 0.04 and 0.015 <= share["subsistence_allowance"] <= 0.025
    assert 0 < share["orphan"] < 0.01 and 0 < share["disabled"] < 0.03
    assert set(students.filter(pl.col("disabled"))["disability_grade"].drop_nulls()) == {1, 2, 3, 4}
    for column in ("per_capita_income", "academic_rank_pct", "tuition_fee", "city_code"):
        assert 0 < students[column].null_count() < 0.15 * 50_000
    # incomes exactly on 1.5 × the annual line of 南京 (900 × 12) occur
    on_line = students.filter(
        (pl.col("city_code") == "320100") & (pl.col("per_capita_income") == Decimal("16200.00"))
    )
    assert on_line.height > 0
    levels = evaluate_frame(policy.rules, validate(policy, students)[0].drop("__row"), AUTUMN_2020)["level"]
    assert set(levels) == {"none", "general", "difficult", "special"}
