"""Issue 18 item 1: `aid evaluate` outside the coverage of the rules it runs exits 1 naming the date and the
coverage, before any input is read and without writing an output; inside, its summary counts the rows with
something missing."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest
from flask import Flask

from aidservice.engine import load_rules
from config import REPO_ROOT

FACTS = {"student_id": "S1", "stage": "junior", "grade": 1, "orphan": True}


def run(app: Flask, tmp_path: Path, *args: str) -> tuple[int, str, Path]:
    source, target = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    source.write_text(json.dumps(FACTS) + "\n", encoding="utf-8")
    result = app.test_cli_runner().invoke(
        args=["aid", "evaluate", "--input", str(source), "--output", str(target), *args]
    )
    return result.exit_code, result.output, target


@pytest.mark.parametrize("as_of", ["2018-08-31", "2021-09-01", "1990-01-01"])
def test_a_date_outside_the_running_rules_coverage_exits_1_naming_it(
    app: Flask, tmp_path: Path, as_of: str
) -> None:
    code, output, target = run(app, tmp_path, "--as-of", as_of)
    assert code == 1
    (line,) = output.strip().splitlines()
    assert as_of in line and "(2018-09-01 to 2021-08-31)" in line
    assert not target.exists()


def test_a_draft_is_held_to_its_own_coverage(app: Flask, tmp_path: Path, rules_copy: Path) -> None:
    """A draft that ends a year earlier refuses a date the running rules would answer."""
    (rules_copy / "coverage.yaml").write_text(
        "coverage: {from: 2018-09-01, to: 2020-08-31}\n", encoding="utf-8"
    )
    code, output, target = run(app, tmp_path, "--as-of", "2020-09-01", "--rules", str(rules_copy))
    assert code == 1
    assert "2020-09-01" in output and "(2018-09-01 to 2020-08-31)" in output
    assert not target.exists()
    code, output, target = run(app, tmp_path, "--as-of", "2020-09-01")
    assert code == 0, output


@pytest.mark.parametrize("as_of", ["2018-09-01", "2021-08-31"])
def test_either_end_of_the_coverage_is_evaluated_and_missing_counted(
    app: Flask, tmp_path: Path, as_of: str
) -> None:
    code, output, target = run(app, tmp_path, "--as-of", as_of)
    assert code == 0, output
    assert f"1 rows as of {as_of}" in output and "1 written, 0 invalid, 1 with missing values" in output
    (row,) = (json.loads(line) for line in target.read_text(encoding="utf-8").splitlines())
    assert row["level"] == "special" and {"city_code", "per_capita_income"} <= set(row["missing"])
    rules = load_rules(REPO_ROOT / "rules")
    facts = rules.validate_facts({k: v for k, v in FACTS.items() if k != "student_id"})
    assert row["missing"] == rules.explain(facts, date.fromisoformat(as_of)).missing
