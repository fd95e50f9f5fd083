"""`aid rules test [--update]`: the rule tests on their own, and re-baselining them after a value change."""

from __future__ import annotations

import re
from pathlib import Path

from flask import Flask

JUNIOR_DIBAO = "values: {2018-09-01: 2000}"  # compulsory_living_junior_dibao, the first with this value


def change_value(rules_copy: Path, name: str, old: str, new: str) -> None:
    path = rules_copy / "parameters" / "basic_education.yaml"
    text = path.read_text(encoding="utf-8")
    at = text.index(f"  {name}:\n")
    assert text.index(old, at) < text.find("\n\n", at)  # the value belongs to that parameter
    cut = text.index(old, at)
    path.write_text(text[:cut] + new + text[cut + len(old) :], encoding="utf-8")


def invoke(app: Flask, *args: str) -> tuple[int, str]:
    result = app.test_cli_runner().invoke(args=["aid", "rules", "test", *args])
    return result.exit_code, result.output


def test_rules_test_passes_on_the_shipped_rules(app: Flask) -> None:
    code, output = invoke(app)
    assert code == 0, output
    assert re.search(r"^\d+ passed, 0 failed$", output.strip().splitlines()[-1])


def test_a_changed_value_fails_the_rule_tests_until_they_are_updated(app: Flask, rules_copy: Path) -> None:
    change_value(rules_copy, "compulsory_living_junior_dibao", JUNIOR_DIBAO, "values: {2018-09-01: 2200}")
    tests_file = rules_copy / "tests" / "basic_education.yaml"
    before = tests_file.read_text(encoding="utf-8").splitlines()
    code, output = invoke(app, "--rules", str(rules_copy))
    assert code == 1 and "junior student of a subsistence-allowance family gets 2000" in output
    assert output.strip().splitlines()[-1].endswith("1 failed")

    code, output = invoke(app, "--rules", str(rules_copy), "--update")
    assert code == 0, output
    old = '    expect: {level: special, awards: {compulsory_living_subsidy: "2000.00"}, total: "2000.00"}'
    new = '    expect: {level: special, awards: {compulsory_living_subsidy: "2200.00"}, total: "2200.00"}'
    assert f"-{old}\n+{new}\n" in output and "1 case(s) rewritten" in output
    assert "b/rules/tests/basic_education.yaml" in output
    after = tests_file.read_text(encoding="utf-8").splitlines()
    changed = [(a, b) for a, b in zip(before, after, strict=True) if a != b]
    assert changed == [(old, new)]  # one line; comments, names and the other cases untouched
    assert output.strip().splitlines()[-1].endswith(" passed, 0 failed")
    assert invoke(app, "--rules", str(rules_copy))[0] == 0
    code, output = invoke(app, "--rules", str(rules_copy), "--update")
    assert code == 0 and "0 case(s) rewritten" in output  # nothing left to re-baseline


def test_update_rewrites_only_the_changed_keys_of_a_block_style_expectation(
    app: Flask, rules_copy: Path
) -> None:
    change_value(
        rules_copy, "preschool_aid_amount", "values: {2018-09-01: 1000}", "values: {2018-09-01: 1100}"
    )
    tests_file = rules_copy / "tests" / "basic_education.yaml"
    text = tests_file.read_text(encoding="utf-8")
    block = '    expect:\n      level: general\n      awards: {preschool_aid: "1000.00"}\n      total: "1000.00"\n'
    assert block in text
    code, output = invoke(app, "--rules", str(rules_copy), "--update")
    assert code == 0, output
    updated = tests_file.read_text(encoding="utf-8")
    assert block.replace("1000.00", "1100.00") in updated
    assert '-      total: "1000.00"\n' in output and '+      total: "1100.00"\n' in output
    assert updated.count("# ----------------") == text.count("# ----------------")


def test_update_leaves_a_case_with_invalid_facts_failing(app: Flask, rules_copy: Path) -> None:
    (rules_copy / "tests" / "zz_bad.yaml").write_text(
        "tests:\n"
        "  - name: a grade the catalogue does not allow\n"
        "    as_of: 2020-09-01\n"
        "    facts: {stage: junior, grade: 99}\n"
        "    expect: {level: none}\n"
        "  - name: a deliberately wrong level is re-baselined\n"
        "    as_of: 2020-09-01\n"
        "    facts: {stage: junior, grade: 1, orphan: true}\n"
        "    expect: {level: none}  # was wrong\n",
        encoding="utf-8",
    )
    code, output = invoke(app, "--rules", str(rules_copy), "--update")
    assert code == 1 and "a grade the catalogue does not allow" in output and "1 case(s) rewritten" in output
    written = (rules_copy / "tests" / "zz_bad.yaml").read_text(encoding="utf-8")
    assert (
        "    expect: {level: none}\n" in written and "    expect: {level: special}  # was wrong\n" in written
    )


def test_rules_test_starts_offline_like_rules_check() -> None:
    from aidservice.startup import is_offline_command

    assert is_offline_command(["-A", "wsgi", "aid", "rules", "test", "--update"])
    assert not is_offline_command(["-A", "wsgi", "aid", "whatif"])  # reads the roster
