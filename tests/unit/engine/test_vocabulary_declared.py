"""Declared sources (sources.yaml `kind: declared`): statuses a student declares from another province, with a
document the school verifies; each must be an agency status of the rule set, reaching as it does there."""

from __future__ import annotations

from pathlib import Path

import pytest

from aidservice.engine import load_rules

from .conftest import MINI, REPO
from .test_vocabulary import issues_of, with_files

DECLARED = """\
  out_of_province:
    kind: declared
    label: 外省认定
    report_label: 外省孤儿（已核实）
    basis: {document: doc_a, clause: 第二条}
    statuses:
      orphan: {reaches: person, label: 外省孤儿}
special_groups:"""


def with_declared(tmp_path: Path, declared: str = DECLARED) -> Path:
    facts = MINI["facts.yaml"].replace(
        "  fee:", "  ill: {type: bool, source: application, label: 大病}\n  fee:"
    )  # a boolean fact no agency sends
    return with_files(
        tmp_path, facts=facts, sources=MINI["sources.yaml"].replace("special_groups:", declared)
    )


def test_the_shipped_rules_let_a_student_declare_out_of_province_statuses() -> None:
    vocabulary = load_rules(REPO / "rules").rules.vocabulary
    assert vocabulary.declarable("declared") == {
        "declared_verified": ("registered_poor", "subsistence_allowance", "extreme_poverty_support")
    }
    (source,) = vocabulary.declared_sources
    assert source.report_label == "外省建档立卡等（已核实）"
    assert [c.clause[:4] for c in source.basis] == ["第20项", "第35项"]
    assert source.status("extreme_poverty_support").reaches == "person"  # type: ignore[union-attr]
    # a declared status is not an agency's: feeds still take each status from its agency only
    assert "declared_verified" not in vocabulary.agency_ids
    assert vocabulary.statuses["registered_poor"].source == "poverty_alleviation"


def test_a_declared_source_loads_with_its_labels_and_citation(tmp_path: Path) -> None:
    rules = load_rules(with_declared(tmp_path))
    (source,) = rules.rules.vocabulary.declared_sources
    assert source.label == "外省认定"
    assert source.status("orphan").label == "外省孤儿"  # type: ignore[union-attr]
    assert str(source.basis[0]) == "测试〔2020〕1号 第二条"
    described = next(s for s in rules.describe()["sources"] if s["id"] == "out_of_province")
    assert described["kind"] == "declared"
    assert described["statuses"][0]["label"] == "外省孤儿"
    assert described["basis"][0]["clause"] == "第二条"


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("orphan: {reaches: person, label: 外省孤儿}", "orphn: {reaches: person}", "did you mean 'orphan'?"),
        (
            "orphan: {reaches: person, label: 外省孤儿}",
            "ill: {reaches: household}",
            "a declared status must be a status an agency sends; 'ill' is not",
        ),
        (
            "orphan: {reaches: person, label: 外省孤儿}",
            "orphan: {reaches: household}",
            "reaches must be as the agency's status (person)",
        ),
        (
            "basis: {document: doc_a, clause: 第二条}",
            "basis: {document: doc_b}",
            "unknown document 'doc_b'",
        ),
        ("report_label: 外省孤儿（已核实）", "report_label: [a]", "'report_label' must be text"),
    ],
)
def test_a_bad_declared_status_is_refused_at_its_line(
    tmp_path: Path, old: str, new: str, expected: str
) -> None:
    assert old in DECLARED
    issues = issues_of(with_declared(tmp_path, DECLARED.replace(old, new)))
    found = [i for i in issues if expected in i]
    assert found and all(i.startswith("rules/sources.yaml:") for i in found), issues
