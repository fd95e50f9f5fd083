"""Issue 18 item 1: the batch output's `missing` column, per row, and the summary's count of such rows.

`missing` names the facts and parameters that had no value for the row on the evaluation date, as the
reference and compiled per-record paths name them in `Result.missing`: a property test holds the columnar
batch path (`batch_missing`) equal to both on generated students (the real policy, and the rule set that
uses the whole language), and the file tests read it back from JSONL, CSV and Parquet.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aidservice.engine import RuleSet, batch_missing, load_rules
from aidservice.engine.batch import evaluate_file
from aidservice.engine.batch_missing import missing_plan, nothing_missing
from aidservice.engine.columnar import compile_frame, facts_frame

from .conftest import REPO, write_rules
from .test_batch import read_missing
from .test_paths_agree import ODD_RULES, POLICY, POLICY_DAYS, boundary_dates, students_on

AS_OF = date(2020, 9, 1)


@pytest.fixture(scope="module")
def odd(tmp_path_factory: pytest.TempPathFactory) -> RuleSet:
    return load_rules(write_rules(Path(tmp_path_factory.mktemp("odd-missing")), ODD_RULES))


@pytest.fixture(scope="module")
def policy() -> RuleSet:
    return load_rules(REPO / "rules")


def missing_column(rules: RuleSet, students: list[dict[str, object]], on: date) -> list[list[str]]:
    """The `missing` column the batch path writes for these normalised students."""
    frame = facts_frame(rules.rules, students)
    result = compile_frame(rules.rules, on)(frame)
    return [list(names) for names in missing_plan(rules.rules, on, dict(frame.schema))(result).to_list()]


def check_missing_agrees(rules: RuleSet, students: list[dict[str, object]], on: date) -> None:
    got = missing_column(rules, students, on)
    assert len(got) == len(students)
    for facts, names in zip(students, got, strict=True):
        reference = rules.explain(facts, on).missing
        compiled = rules.evaluate(facts, on).missing
        assert compiled == reference, f"compiled differs on {on}: {facts}"
        assert names == reference, f"batch missing differs on {on}: {facts}"


SETTINGS = settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)


@SETTINGS
@given(data=st.data())
def test_batch_missing_agrees_with_the_per_record_paths_on_the_policy(data: st.DataObject) -> None:
    on = data.draw(st.sampled_from(POLICY_DAYS), label="as_of")
    students = data.draw(students_on(POLICY, POLICY_DAYS, on, 25), label="students")
    check_missing_agrees(POLICY, students, on)


@SETTINGS
@given(data=st.data())
def test_batch_missing_agrees_with_the_per_record_paths_on_the_whole_language(
    odd: RuleSet, data: st.DataObject
) -> None:
    days = boundary_dates(odd.rules)
    on = data.draw(st.sampled_from(days), label="as_of")
    students = data.draw(students_on(odd, days, on, 20), label="students")
    check_missing_agrees(odd, students, on)


def test_parameters_without_a_value_are_named_plain_and_keyed(odd: RuleSet) -> None:
    """`lapsing` has no value after 2019; `line_monthly` has none for city z outside early 2020."""
    base = {"stage": "b", "grade": 1, "income": 100_00, "score": 0, "n": 0, "fee": 0, "flag": False}
    lapsed = odd.validate_facts({**base, "score": "-20", "city": "x"})
    no_line = odd.validate_facts({**base, "city": "z"})
    no_city = odd.validate_facts(dict(base))
    got = missing_column(odd, [lapsed, no_line, no_city], AS_OF)
    assert "lapsing" in got[0] and "line_monthly" not in got[0]
    assert "line_monthly" in got[1] and "city" not in got[1]
    assert "city" in got[2] and "line_monthly" not in got[2]
    assert got == [odd.explain(f, AS_OF).missing for f in (lapsed, no_line, no_city)]


ROWS = [
    {"student_id": "FULL", "stage": "primary", "grade": 3, "city_code": "320100", "per_capita_income": 5000},
    {"student_id": "NO_INCOME", "stage": "primary", "grade": 3, "city_code": "320100"},
    {"student_id": "NO_CITY", "stage": "primary", "grade": 3, "per_capita_income": 5000},
    {"student_id": "ORPHAN", "stage": "junior", "grade": 1, "orphan": True},
]


@pytest.mark.parametrize("bits", [64, 1])  # names per row code; beyond it, the text path
@pytest.mark.parametrize("suffix", [".jsonl", ".csv", ".parquet"])
def test_a_row_without_a_needed_fact_names_it_and_the_summary_counts_it(
    policy: RuleSet, tmp_path: Path, suffix: str, bits: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(batch_missing, "_BITS", bits)
    source = tmp_path / "in.jsonl"
    source.write_text("".join(json.dumps(r) + "\n" for r in ROWS), encoding="utf-8")
    target = tmp_path / f"out{suffix}"
    summary = evaluate_file(policy, source, target, as_of=AS_OF, progress=False)
    got = read_missing(target)
    assert got == {
        "FULL": [],
        "NO_INCOME": ["per_capita_income"],
        "NO_CITY": ["city_code"],
        "ORPHAN": ["city_code", "per_capita_income"],
    }
    assert (summary.written, summary.missing) == (4, 3)
    for row in ROWS:
        facts = policy.validate_facts({k: v for k, v in row.items() if k != "student_id"})
        assert got[str(row["student_id"])] == policy.explain(facts, AS_OF).missing


def test_the_count_spans_chunks_and_skips_invalid_rows(policy: RuleSet, tmp_path: Path) -> None:
    rows = [*ROWS, {"student_id": "BAD", "stage": "primary", "grade": "three"}]
    source = tmp_path / "in.jsonl"
    source.write_text("".join(json.dumps(r) + "\n" for r in rows * 3), encoding="utf-8")
    target = tmp_path / "out.jsonl"
    summary = evaluate_file(
        policy, source, target, as_of=AS_OF, progress=False, chunk_rows=4, skip_invalid=True
    )
    assert (summary.rows, summary.written, summary.invalid, summary.missing) == (15, 12, 3, 9)
    lines = [json.loads(line) for line in target.read_text(encoding="utf-8").splitlines()]
    assert sum(1 for r in lines if r["missing"]) == 9


def test_an_empty_file_has_a_missing_column_in_parquet(policy: RuleSet, tmp_path: Path) -> None:
    source = tmp_path / "in.csv"
    source.write_text("student_id,stage,grade\n", encoding="utf-8")
    target = tmp_path / "out.parquet"
    summary = evaluate_file(policy, source, target, as_of=AS_OF, progress=False)
    assert summary.missing == 0
    assert pl.read_parquet(target).schema["missing"] == pl.List(pl.String)


@pytest.mark.parametrize("rows", [0, 1, 3])
def test_nothing_missing_is_a_column_of_empty_lists(rows: int) -> None:
    column = nothing_missing(rows)
    assert (column.name, column.dtype, column.to_list()) == ("missing", pl.List(pl.String), [[]] * rows)
