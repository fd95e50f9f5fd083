"""`flask --app wsgi aid ...`: rules check, and the batch evaluate command's wiring."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import types
from dataclasses import dataclass
from datetime import date
from importlib.util import find_spec
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from aidservice.schoolyear import current_semester_start
from config import REPO_ROOT


def test_rules_check_passes_on_the_shipped_rules(app: Flask) -> None:
    result = app.test_cli_runner().invoke(args=["aid", "rules", "check"])
    assert result.exit_code == 0, result.output
    last = result.output.strip().splitlines()[-1]
    passed, failed = (int(word) for word in last.replace(",", "").split()[::2])
    assert passed > 0 and failed == 0


def test_rules_check_shows_the_sources_their_statuses_and_the_special_groups(app: Flask) -> None:
    result = app.test_cli_runner().invoke(args=["aid", "rules", "check"])
    lines = result.output.splitlines()
    assert (
        "数据来源 民政部门（civil_affairs）：subsistence_allowance 城乡最低生活保障家庭（家庭）、"
        in result.output
    )
    assert any(line.startswith("数据来源 残联（disabled_persons_federation）：disabled") for line in lines)
    (groups,) = [line for line in lines if line.startswith("特殊群体：")]
    assert (
        groups.startswith("特殊群体：建档立卡学生（registered_poor）、") and "残疾学生（disabled）" in groups
    )
    english = app.test_cli_runner().invoke(args=["aid", "rules", "check", "--lang", "en"]).output
    assert (
        "source civil_affairs (民政部门): subsistence_allowance (household), extreme_poverty_support (person)"
        in english
    )


def test_rules_check_on_a_broken_set_prints_file_line_and_exits_1(app: Flask, broken_rules: Path) -> None:
    result = app.test_cli_runner().invoke(args=["aid", "rules", "check", "--rules", str(broken_rules)])
    assert result.exit_code == 1
    assert "zz_broken.yaml:2: " in result.output


@pytest.mark.parametrize(
    ("lang", "reason", "count"),
    [
        (
            "zh",
            "zz_broken.yaml:2: 事实 'favourite_colour'：type 须为 bool, int, number, money, enum 之一",
            "有 1 处问题",
        ),
        ("en", "zz_broken.yaml:2: fact 'favourite_colour': type must be one of bool", "1 problem(s) in"),
    ],
)
def test_rules_check_names_a_broken_set_in_the_language_asked(
    app: Flask, broken_rules: Path, lang: str, reason: str, count: str
) -> None:
    result = app.test_cli_runner().invoke(
        args=["aid", "rules", "check", "--rules", str(broken_rules), "--lang", lang]
    )
    assert result.exit_code == 1
    assert reason in result.output
    assert count in result.output


def test_rules_check_with_a_failing_rule_test_exits_1(app: Flask, rules_copy: Path) -> None:
    (rules_copy / "tests" / "zz_wrong.yaml").write_text(
        "tests:\n"
        "  - name: deliberately wrong expectation\n"
        "    as_of: 2020-09-01\n"
        "    facts: {stage: junior, grade: 1, orphan: true}\n"
        "    expect: {level: none}\n",
        encoding="utf-8",
    )
    result = app.test_cli_runner().invoke(args=["aid", "rules", "check", "--rules", str(rules_copy)])
    assert result.exit_code == 1
    assert "deliberately wrong expectation" in result.output
    assert result.output.strip().splitlines()[-1].endswith("1 failed")


@dataclass
class FakeSummary:
    rows: int
    written: int
    invalid: int
    missing: int


@pytest.fixture
def fake_batch(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """Stand-in for aidservice.engine.batch recording how the command calls it (the real one is tested on its own)."""
    calls: dict[str, Any] = {}

    class BatchInputError(Exception):
        pass

    def evaluate_file(ruleset: Any, input_path: Path, output_path: Path, **options: Any) -> FakeSummary:
        if "bad" in input_path.name:
            raise BatchInputError(f"{input_path.name}: row 3: grade: must be an integer")
        calls.update(ruleset=ruleset, input_path=input_path, output_path=output_path, **options)
        return FakeSummary(rows=3, written=2, invalid=1, missing=1)

    module = types.ModuleType("aidservice.engine.batch")
    module.BatchInputError = BatchInputError  # type: ignore[attr-defined]
    module.evaluate_file = evaluate_file  # type: ignore[attr-defined]
    for name in ("aidservice.engine.batch", "aidservice.engine.batch_read"):  # evaluate_file, BatchInputError
        monkeypatch.setitem(sys.modules, name, module)
    return calls


def test_evaluate_defaults_to_the_current_semester_and_the_running_rules(
    app: Flask, fake_batch: dict[str, Any], tmp_path: Path
) -> None:
    source = tmp_path / "in.jsonl"
    source.write_text("{}\n", encoding="utf-8")
    args = ["aid", "evaluate", "--input", str(source), "--output", str(tmp_path / "out.jsonl")]
    result = app.test_cli_runner().invoke(args=args)
    assert result.exit_code == 0, result.output
    assert fake_batch["as_of"] == current_semester_start("2020-2021", date.today())
    assert fake_batch["ruleset"] is app.extensions["aid_rules"]
    assert fake_batch["skip_invalid"] is False and fake_batch["errors_path"] is None
    assert fake_batch["progress"] is True
    assert "2 written, 1 invalid, 1 with missing values" in result.output


def test_evaluate_passes_date_draft_rules_and_invalid_row_handling(
    app: Flask, fake_batch: dict[str, Any], tmp_path: Path, rules_copy: Path
) -> None:
    source = tmp_path / "in.csv"
    source.write_text("student_id\n", encoding="utf-8")
    args = ["aid", "evaluate", "--input", str(source), "--output", str(tmp_path / "out.parquet")]
    args += [
        "--as-of",
        "2020-10-01",
        "--rules",
        str(rules_copy),
        "--skip-invalid",
        "--errors",
        str(tmp_path / "e"),
    ]
    result = app.test_cli_runner().invoke(args=args)
    assert result.exit_code == 0, result.output
    assert fake_batch["as_of"] == date(2020, 10, 1)
    assert fake_batch["ruleset"].path == rules_copy
    assert fake_batch["skip_invalid"] is True and fake_batch["errors_path"] == tmp_path / "e"


def test_evaluate_reports_a_bad_row_cleanly_and_exits_1(
    app: Flask, fake_batch: dict[str, Any], tmp_path: Path
) -> None:
    source = tmp_path / "bad.jsonl"
    source.write_text("{}\n", encoding="utf-8")
    args = ["aid", "evaluate", "--input", str(source), "--output", str(tmp_path / "out.jsonl")]
    result = app.test_cli_runner().invoke(args=args)
    assert result.exit_code == 1
    assert "row 3: grade: must be an integer" in result.output
    assert "Traceback" not in result.output


def test_evaluate_with_broken_draft_rules_exits_1(
    app: Flask, fake_batch: dict[str, Any], tmp_path: Path, broken_rules: Path
) -> None:
    source = tmp_path / "in.jsonl"
    source.write_text("{}\n", encoding="utf-8")
    args = ["aid", "evaluate", "--input", str(source), "--output", str(tmp_path / "o.jsonl")]
    result = app.test_cli_runner().invoke(args=[*args, "--rules", str(broken_rules)])
    assert result.exit_code == 1 and "zz_broken.yaml:2: " in result.output


def test_the_cli_module_does_not_import_heavy_batch_modules() -> None:
    code = "import sys, aidservice.cli; print(sorted(m for m in ('polars', 'pyarrow', 'aidservice.engine.batch') if m in sys.modules))"
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == "[]"


@pytest.mark.skipif(
    find_spec("aidservice.engine.batch") is None, reason="aidservice.engine.batch not written yet"
)
def test_evaluate_end_to_end_on_jsonl(tmp_path: Path, db_url: str) -> None:
    source = tmp_path / "students.jsonl"
    rows = [
        {"student_id": "S1", "stage": "junior", "grade": 1, "orphan": True},
        {"student_id": "S2", "stage": "primary", "grade": 3},
    ]
    source.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    target = tmp_path / "out.jsonl"
    env = {**os.environ, "AID_ENV": "testing", "DATABASE_URL": db_url}
    command = [sys.executable, "-m", "flask", "--app", "wsgi", "aid", "evaluate"]
    command += ["--input", str(source), "--output", str(target), "--as-of", "2020-09-01"]
    done = subprocess.run(command, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    out = {r["student_id"]: r for r in map(json.loads, target.read_text(encoding="utf-8").splitlines())}
    assert out["S1"]["level"] == "special" and out["S1"]["total"] == "1250.00"
    assert out["S2"]["level"] == "none" and out["S2"]["awards"] == []
