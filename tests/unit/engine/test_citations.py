"""Citations officers recognise (issue 18): documents by their real title and number, the seed plan by its
items, and the project's baseline only for the values it marks provisional."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from aidservice.engine import RulesError, RuleSet, load_rules
from aidservice.engine.model import Rules
from aidservice.engine.result import Citation

BASELINE = "jiangsu_2020_baseline"
SEED = "jiangsu_2020_plan"
# A document number as officers write it: issuer code, year in 〔〕, serial, 号 (教财〔2018〕16号).
NUMBER = re.compile(r"^[\u4e00-\u9fff]+〔(19|20)\d\d〕\d+号$")
# Anything that reads as a path or file of this project rather than a document.
PATH = re.compile(
    r"[\w.-]+/[\w.-]|\\|\.(md|ya?ml|py|json|txt)\b|aidservice|jiangsu-2020|policy/|rules/", re.I
)


def names_a_path(text: str) -> bool:
    return bool(PATH.search(text))


def cited(rules: Rules) -> Iterator[tuple[str, str, tuple[Citation, ...]]]:
    """(what, status, basis) for every item that carries a citation, each dated value included."""
    for program in rules.programs:
        yield f"program {program.id}", program.status, program.basis
        for i, case in enumerate(program.amount):
            yield f"program {program.id} amount case {i}", case.status, case.basis
    for clause in rules.clauses:
        yield f"clause {clause.id}", clause.status, clause.basis
    for param in rules.parameters.values():
        yield f"parameter {param.name}", param.status, param.basis
        for key, series in param.series.items():
            for dated in series:
                yield f"parameter {param.name}[{key}] from {dated.start}", dated.status, dated.basis
    for combo in rules.combinations:
        yield f"combination {combo.id}", combo.status, combo.basis


def test_path_pattern_tells_a_path_from_a_citation() -> None:
    for path in (
        "shared/policy/jiangsu-2020.md",
        "policy/jiangsu-2020.md §3",
        "rules/levels.yaml",
        "aidservice",
    ):
        assert names_a_path(path), path
    for citation in (
        "教财〔2018〕16号 认定依据",
        "《2020年工作要点》 第29项",
        "《江苏省学生资助政策基线（暂定）》 §3 学前教育资助",
    ):
        assert not names_a_path(citation), citation


def test_no_document_or_citation_names_a_project_path(policy: RuleSet) -> None:
    rules = policy.rules
    for doc in rules.documents.values():
        for text in (doc.title, doc.issuer, doc.number):
            assert not names_a_path(text), f"document {doc.id}: {text}"
    for what, _status, basis in cited(rules):
        for citation in basis:
            assert not names_a_path(str(citation)), f"{what}: {citation}"
            assert not names_a_path(citation.clause), f"{what}: {citation.clause}"


def test_every_document_has_a_real_number_or_none(policy: RuleSet) -> None:
    docs = policy.rules.documents
    assert docs, "no documents"
    for doc in docs.values():
        assert doc.number == "无文号" or NUMBER.match(doc.number), f"{doc.id}: {doc.number!r}"
        assert doc.issuer.strip() and doc.issued_as, doc.id
    numbered = {d.number for d in docs.values() if d.number != "无文号"}
    assert {"教财〔2018〕16号", "财教〔2019〕25号", "财科教〔2019〕19号"} <= numbered


def test_seed_plan_by_its_real_title_and_cited_by_item(policy: RuleSet) -> None:
    rules = policy.rules
    seed = rules.documents[SEED]
    assert (seed.title, seed.issuer, seed.number) == (
        "2020年工作要点",
        "中共江苏省委教育工委 江苏省教育厅",
        "无文号",
    )
    items = [c for _, _, basis in cited(rules) for c in basis if c.document == SEED]
    assert items, "the seed plan is cited nowhere"
    for citation in items:
        assert re.match(r"^第\d+项", citation.clause), citation.clause
        assert str(citation).startswith("《2020年工作要点》 第"), str(citation)


def test_baseline_is_cited_only_by_provisional_values(policy: RuleSet) -> None:
    rules = policy.rules
    assert rules.documents[BASELINE].title == "江苏省学生资助政策基线（暂定）"
    citing = [
        (what, status) for what, status, basis in cited(rules) if any(c.document == BASELINE for c in basis)
    ]
    assert citing, "the baseline is cited nowhere"
    wrong = [what for what, status in citing if status != "provisional"]
    assert wrong == []


@pytest.mark.parametrize("status", ["confirmed", "provisional"])
def test_baseline_check_sees_a_confirmed_citer(status: str) -> None:
    """The predicate above flags a confirmed item citing the baseline (so the test can fail)."""
    baseline = Citation(BASELINE, "无文号", "江苏省学生资助政策基线（暂定）", "§3")
    items = [("parameter x", status, (baseline,))]
    wrong = [
        what
        for what, st, basis in items
        if any(c.document == BASELINE for c in basis) and st != "provisional"
    ]
    assert wrong == ([] if status == "provisional" else ["parameter x"])


def test_notes_shown_to_officers_are_chinese(policy: RuleSet) -> None:
    rules = policy.rules
    notes = [(f"program {p.id}", p.note) for p in rules.programs]
    notes += [(f"program {p.id} case", c.note) for p in rules.programs for c in p.amount]
    notes += [(f"parameter {p.name}", p.note) for p in rules.parameters.values()]
    notes += [
        (f"parameter {p.name} value", d.note)
        for p in rules.parameters.values()
        for s in p.series.values()
        for d in s
    ]
    notes += [(f"clause {c.id}", c.note) for c in rules.clauses]
    for what, note in notes:
        if note:
            assert re.search(r"[\u4e00-\u9fff]", note) and not re.search(r"[A-Za-z]{4,}", note), (
                f"{what}: {note}"
            )


def test_a_dated_value_carries_its_own_citation(policy: RuleSet) -> None:
    """The provisional vocational-grant ranges cite the baseline; the confirmed one falls back to the parameter's."""
    param = policy.rules.parameters["vocational_grant_amount"]
    assert not any(c.document == BASELINE for c in param.basis)
    by_start = {d.start.isoformat(): d for d in param.series[None] if d.start}
    assert any(c.document == BASELINE for c in by_start["2007-09-01"].basis)
    assert by_start["2019-09-01"].basis == ()

    def grant_basis(on: date) -> str:
        facts = policy.validate_facts({"stage": "vocational", "grade": 1, "agri_major": True})
        trace = policy.evaluate(facts, on, trace=True).trace or []
        shown = [p for t in trace for p in t.parameters if p["name"] == "vocational_grant_amount"]
        assert shown, on
        return str(shown[0]["basis"])

    assert "《江苏省学生资助政策基线（暂定）》 §3 中职国家助学金（调整日期）" in grant_basis(
        date(2018, 10, 8)
    )
    autumn = grant_basis(date(2020, 10, 8))
    assert "财科教〔2019〕19号" in autumn and "政策基线" not in autumn


def test_a_dated_value_may_cite_only_a_known_document(mini_dir: Path) -> None:
    params = mini_dir / "parameters" / "p.yaml"
    text = params.read_text(encoding="utf-8")
    params.write_text(
        "parameters:\n  extra:\n    type: money\n    status: confirmed\n    basis: {document: doc_a}\n"
        "    values:\n      - {from: 2018-01-01, value: 1, basis: {document: doc_b, clause: 一}}\n"
        + text.removeprefix("parameters:\n"),
        encoding="utf-8",
    )
    with pytest.raises(RulesError, match="unknown document 'doc_b'"):
        load_rules(mini_dir)
