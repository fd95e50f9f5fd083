"""`flask --app wsgi aid rules check`: completeness findings in Chinese, English with --lang en, exit 1."""

from __future__ import annotations

from pathlib import Path

from flask import Flask


def _break_stages(rules_copy: Path) -> int:
    programs = rules_copy / "programs" / "basic_education.yaml"
    text = programs.read_text(encoding="utf-8")
    assert "stages: [primary, junior]\n" in text
    programs.write_text(
        text.replace("stages: [primary, junior]\n", "stages: [primary]\n", 1), encoding="utf-8"
    )
    return next(i for i, line in enumerate(text.splitlines(), 1) if "stages: [primary, junior]" in line)


def test_a_finding_is_printed_in_chinese_with_its_line_and_exits_1(app: Flask, rules_copy: Path) -> None:
    line = _break_stages(rules_copy)
    result = app.test_cli_runner().invoke(args=["aid", "rules", "check", "--rules", str(rules_copy)])
    assert result.exit_code == 1
    expected = f"rules/programs/basic_education.yaml:{line}: 项目 'compulsory_living_subsidy' 的条件允许未列入 stages 的学段：junior"
    assert expected in result.output.splitlines()
    assert "完整性检查：1 处问题" in result.output
    assert result.output.strip().splitlines()[-1].endswith(", 0 failed")  # the rule tests still ran


def test_lang_en_keeps_the_english(app: Flask, rules_copy: Path) -> None:
    line = _break_stages(rules_copy)
    result = app.test_cli_runner().invoke(
        args=["aid", "rules", "check", "--rules", str(rules_copy), "--lang", "en"]
    )
    assert result.exit_code == 1
    expected = (
        f"rules/programs/basic_education.yaml:{line}: "
        "program 'compulsory_living_subsidy''s condition admits stage(s) not listed in stages: junior"
    )
    assert expected in result.output.splitlines()
    assert "1 incompleteness finding(s)" in result.output
    assert "项目" not in result.output


def test_the_shipped_rules_have_no_findings(app: Flask) -> None:
    result = app.test_cli_runner().invoke(args=["aid", "rules", "check"])
    assert result.exit_code == 0, result.output
    assert "完整性检查" not in result.output
