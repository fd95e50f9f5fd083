"""The vocabulary (sources.yaml): sources, statuses and special groups are read and checked against the facts."""

from __future__ import annotations

from pathlib import Path

import pytest

from aidservice.engine import RulesError, load_rules, rules_from_files

from .conftest import MINI, REPO, write_rules


def issues_of(root: Path) -> list[str]:
    with pytest.raises(RulesError) as caught:
        load_rules(root)
    return [str(issue) for issue in caught.value.issues]


def with_files(tmp_path: Path, **changes: str) -> Path:
    files = dict(MINI)
    files.update({rel.replace("__", "/") + ".yaml": text for rel, text in changes.items()})
    return write_rules(tmp_path, files)


def test_the_shipped_sources_name_every_agency_status_and_how_it_reaches() -> None:
    vocabulary = load_rules(REPO / "rules").rules.vocabulary
    assert vocabulary.agency_statuses["civil_affairs"] == (
        "subsistence_allowance",
        "extreme_poverty_support",
        "orphan",
        "de_facto_orphan",
    )
    assert vocabulary.household_statuses == {"registered_poor", "poverty_monitored", "subsistence_allowance"}
    assert vocabulary.statuses["disabled"].guardian_fact == "disabled_parent"
    assert vocabulary.statuses["disabled"].attribute("disability_grade") is not None
    assert vocabulary.fact_sources["disabled_parent"] == "disabled_persons_federation"
    assert vocabulary.group_labels["registered_poor"] == "建档立卡学生"
    assert vocabulary.group_statuses[0] == "registered_poor"


def test_enum_values_may_carry_labels() -> None:
    facts = load_rules(REPO / "rules").rules.facts
    assert facts["stage"].label_of("primary") == "小学"
    assert facts["city_code"].label_of("321300") == "宿迁市"
    assert facts["stage"].values[0] == "preschool"


def test_a_new_status_is_a_rules_change(tmp_path: Path) -> None:
    root = with_files(
        tmp_path,
        facts=MINI["facts.yaml"].replace(
            "orphan: {type: bool, source: civil_affairs}",
            "orphan: {type: bool, source: civil_affairs}\n  near_dibao: {type: bool, source: civil_affairs, label: 低保边缘}",
        ),
        sources=MINI["sources.yaml"].replace(
            "orphan: {reaches: person}", "orphan: {reaches: person}\n      near_dibao: {reaches: household}"
        ),
    )
    vocabulary = load_rules(root).rules.vocabulary
    assert vocabulary.agency_statuses["civil_affairs"] == ("orphan", "near_dibao")
    assert "near_dibao" in vocabulary.household_statuses


def test_a_fact_naming_an_undeclared_source_is_refused_with_a_suggestion(tmp_path: Path) -> None:
    root = with_files(
        tmp_path, facts=MINI["facts.yaml"].replace("source: civil_affairs", "source: civil_affair")
    )
    (found,) = [i for i in issues_of(root) if "source must be one of" in i]
    assert "rules/facts.yaml:" in found
    assert "did you mean 'civil_affairs'?" in found


def test_a_status_that_is_not_a_fact_of_its_source_is_named(tmp_path: Path) -> None:
    root = with_files(
        tmp_path,
        sources=MINI["sources.yaml"].replace(
            "orphan: {reaches: person}", "orphan: {reaches: person}\n      orphn: {reaches: person}"
        ),
    )
    assert any("status 'orphn'" in i and "did you mean 'orphan'?" in i for i in issues_of(root))


def test_a_fact_an_agency_never_sends_is_named(tmp_path: Path) -> None:
    root = with_files(
        tmp_path,
        facts=MINI["facts.yaml"].replace(
            "orphan: {type: bool, source: civil_affairs}",
            "orphan: {type: bool, source: civil_affairs}\n  lonely: {type: bool, source: civil_affairs}",
        ),
    )
    assert any("fact 'lonely': source 'civil_affairs' sends no such status" in i for i in issues_of(root))


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("{reaches: person}", "{reaches: family}", "reaches must be one of household, person"),
        (
            "{reaches: person}",
            "{reaches: household, guardian: orphan}",
            "only a personal status gives a guardian fact",
        ),
        ("label: 民政部门", "label: 民政部门\n    kind: bureau", "kind must be one of agency, declared"),
        (
            "{status: orphan, label: 孤儿}",
            "{status: orpan, label: 孤儿}",
            "no source sends this status; did you mean 'orphan'?",
        ),
        (
            "{reaches: person}",
            "{reaches: person, attributes: {grade: {fact: grade}}}",
            "fact 'grade' says its source is 'roster'",
        ),
    ],
)
def test_a_malformed_source_is_refused_at_its_line(tmp_path: Path, old: str, new: str, expected: str) -> None:
    assert old in MINI["sources.yaml"]
    root = with_files(tmp_path, sources=MINI["sources.yaml"].replace(old, new))
    found = [i for i in issues_of(root) if expected in i]
    assert found and all(i.startswith("rules/sources.yaml:") for i in found), issues_of(root)


def test_a_published_set_from_before_sources_loads_for_replay_with_an_empty_vocabulary() -> None:
    files = {rel: text for rel, text in MINI.items() if rel != "sources.yaml"}
    rules = rules_from_files(files, published=True).rules
    assert rules.vocabulary.sources == ()
    with pytest.raises(RulesError):
        rules_from_files(files)


def test_the_rules_description_lists_sources_and_groups() -> None:
    described = load_rules(REPO / "rules").describe()
    civil = next(s for s in described["sources"] if s["id"] == "civil_affairs")
    assert civil["label"] == "民政部门"
    assert {"status": "orphan", "label": "孤儿"} in described["special_groups"]
    stage = next(f for f in described["facts"] if f["name"] == "stage")
    assert stage["value_labels"]["junior"] == "初中"
