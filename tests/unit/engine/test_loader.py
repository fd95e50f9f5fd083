"""Loading is strict: every broken rule names its file, its line and what is wrong."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from aidservice.engine import RulesError, load_rules

from .conftest import MINI, REPO, write_rules


def broken(tmp_path: Path, rel: str, old: str, new: str) -> Path:
    files = dict(MINI)
    assert old in files[rel], f"fixture text {old!r} not in {rel}"
    files[rel] = files[rel].replace(old, new, 1)
    return write_rules(tmp_path, files)


CASES = [
    pytest.param(
        "facts.yaml",
        "grade: {type: int,",
        "grade: {typo: 1, type: int,",
        "rules/facts.yaml:3",
        "unknown key 'typo' in fact 'grade'",
        id="unknown-key",
    ),
    pytest.param(
        "levels.yaml",
        "when: orphan,",
        "when: orphaned,",
        "rules/levels.yaml:4",
        "unknown name 'orphaned'",
        id="unknown-fact",
    ),
    pytest.param(
        "levels.yaml",
        "when: income < 1.5 * line",
        "when: stage < 1.5 * line",
        "rules/levels.yaml:7",
        "cannot compare enum with num",
        id="type-mismatch",
    ),
    pytest.param(
        "programs/a.yaml",
        "when: level >= 'general'",
        "when: stage == 'college'",
        "rules/programs/a.yaml:5",
        "'college' is not a value of stage",
        id="bad-enum-literal",
    ),
    pytest.param(
        "programs/a.yaml",
        "amount: grant",
        "amount: grants",
        "rules/programs/a.yaml:7",
        "unknown name 'grants'",
        id="missing-parameter",
    ),
    pytest.param(
        "parameters/p.yaml",
        "      - {from: 2020-01-01, to: 2020-12-31, value: 500}",
        "      - {from: 2020-01-01, to: 2020-12-31, value: 500}\n      - {from: 2020-06-01, value: 600}",
        "rules/parameters/p.yaml:21",
        "ranges overlap",
        id="overlapping-ranges",
    ),
    pytest.param(
        "parameters/p.yaml",
        "{from: 2020-01-01, to: 2020-12-31,",
        "{from: 2020-12-31, to: 2020-01-01,",
        "rules/parameters/p.yaml:22",
        "range is reversed",
        id="reversed-range",
    ),
    pytest.param(
        "parameters/p.yaml",
        "      2007-09-01: 1000\n      2019-01-01: 1250",
        "      2019-01-01: 1250\n      2007-09-01: 1000",
        "rules/parameters/p.yaml:14",
        "dates must be in increasing order",
        id="unordered-dates",
    ),
    pytest.param(
        "parameters/p.yaml",
        "2019-01-01: 1250",
        "2019-01-01: 1250.005",
        "rules/parameters/p.yaml:16",
        "more than 2 decimals",
        id="fractional-fen",
    ),
    pytest.param(
        "parameters/p.yaml",
        "document: doc_a",
        "document: doc_b",
        "rules/parameters/p.yaml:13",
        "unknown document 'doc_b'",
        id="unknown-document",
    ),
    pytest.param(
        "parameters/p.yaml",
        "    note: one year only\n",
        "",
        "rules/parameters/p.yaml:19",
        "provisional value needs a 'note'",
        id="provisional-without-note",
    ),
    pytest.param(
        "parameters/p.yaml",
        '"320300": {2018-01-01: 650}',
        '"320999": {2018-01-01: 650}',
        "rules/parameters/p.yaml:9",
        "'320999' is not a value of city_code",
        id="unknown-key-value",
    ),
    pytest.param(
        "facts.yaml",
        "formula: line_monthly[city_code] * 12",
        "formula: line_monthly[stage] * 12",
        "rules/facts.yaml:11",
        "keyed by city_code",
        id="wrong-parameter-key",
    ),
    pytest.param(
        "facts.yaml",
        "  fee: {type: money",
        "  orphan: {type: bool, source: roster}\n  fee: {type: money",
        "rules/facts.yaml:7",
        "duplicate key 'orphan'",
        id="duplicate-yaml-key",
    ),
    pytest.param(
        "facts.yaml",
        "type: money, min: 0, source: application}",
        "type: money, min: 0, source: application",
        "rules/facts.yaml:",
        "YAML syntax error",
        id="yaml-syntax",
    ),
    pytest.param(
        "facts.yaml",
        "income: {type: money,",
        "income: {type: float,",
        "rules/facts.yaml:5",
        "type must be one of",
        id="unknown-type",
    ),
    pytest.param(
        "programs/a.yaml",
        "kind: waiver\n    when: orphan",
        "kind: waiver\n    when: __import__('os').system('true')",
        "rules/programs/a.yaml:11",
        "is not allowed",
        id="no-function-calls",
    ),
    pytest.param(
        "programs/a.yaml",
        "kind: waiver\n    when: orphan",
        "kind: waiver\n    when: orphan.real",
        "rules/programs/a.yaml:11",
        "is not allowed",
        id="no-attributes",
    ),
    pytest.param(
        "programs/a.yaml",
        "kind: waiver",
        "kind: gift",
        "rules/programs/a.yaml:10",
        "kind must be one of",
        id="unknown-kind",
    ),
    pytest.param(
        "combinations.yaml",
        "exclusive: [waiver, living]",
        "exclusive: [waiver, living2]",
        "rules/combinations.yaml:3",
        "unknown program(s) living2",
        id="combination-unknown-program",
    ),
    pytest.param(
        "levels.yaml",
        "levels:",
        "levles: {}\nlevels:",
        "rules/levels.yaml:1",
        "unknown section 'levles'",
        id="unknown-section",
    ),
    pytest.param(
        "levels.yaml",
        "{id: d_income,",
        "{id: s_orphan,",
        "rules/levels.yaml:7",
        "duplicate clause id 's_orphan'",
        id="duplicate-clause-id",
    ),
    pytest.param(
        "facts.yaml",
        "    formula: line_monthly[city_code] * 12",
        "    formula: line_monthly[city_code] * 12 + loop\n  loop:\n    type: money\n    formula: line",
        "rules/facts.yaml:",
        "depends on itself",
        id="derived-cycle",
    ),
]


@pytest.mark.parametrize(("rel", "old", "new", "where", "message"), CASES)
def test_broken_rule_is_reported_with_file_line_and_reason(
    tmp_path: Path, rel: str, old: str, new: str, where: str, message: str
) -> None:
    root = broken(tmp_path, rel, old, new)
    with pytest.raises(RulesError) as caught:
        load_rules(root)
    lines = str(caught.value).splitlines()
    assert any(line.startswith(where) and message in line for line in lines), lines


def test_duplicate_program_across_files_names_both_places(tmp_path: Path) -> None:
    files = dict(MINI)
    files["programs/b.yaml"] = (
        "programs:\n  living:\n    name: x\n    kind: grant\n    when: true\n    status: confirmed\n    amount: 1\n"
    )
    root = write_rules(tmp_path, files)
    with pytest.raises(RulesError) as caught:
        load_rules(root)
    assert "rules/programs/b.yaml:2: duplicate program id 'living' (first at rules/programs/a.yaml:2)" in str(
        caught.value
    )


def test_every_problem_is_reported_not_only_the_first(tmp_path: Path) -> None:
    files = dict(MINI)
    files["levels.yaml"] = files["levels.yaml"].replace("when: orphan,", "when: orphaned,")
    files["programs/a.yaml"] = files["programs/a.yaml"].replace("amount: grant", "amount: grants")
    with pytest.raises(RulesError) as caught:
        load_rules(write_rules(tmp_path, files))
    assert len(caught.value.issues) == 2


def test_missing_directory_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(RulesError, match="rules directory not found"):
        load_rules(tmp_path / "nope")


def test_version_is_a_content_hash_of_the_rule_files(tmp_path: Path, mini_dir: Path) -> None:
    first = load_rules(mini_dir).version
    assert first.startswith("sha256:") and len(first) == len("sha256:") + 16
    (mini_dir / "tests").mkdir()
    (mini_dir / "tests" / "t.yaml").write_text("tests: []\n")
    assert load_rules(mini_dir).version == first, "rule tests are not part of the rule set"
    path = mini_dir / "parameters" / "p.yaml"
    path.write_text(path.read_text().replace("value: 500", "value: 600"))
    assert load_rules(mini_dir).version != first


def test_the_real_policy_loads_and_its_copy_has_the_same_version(tmp_path: Path) -> None:
    original = load_rules(REPO / "rules")
    copy = shutil.copytree(REPO / "rules", tmp_path / "rules")
    assert load_rules(copy).version == original.version
