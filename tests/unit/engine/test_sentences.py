"""Conditions read as Chinese sentences named by the rules' labels (engine/sentences.py), for every shipped
condition: level clauses, program eligibility, amount cases and combinations."""

from __future__ import annotations

import re

import pytest

from aidservice.engine import RuleSet
from aidservice.engine import expr as ex
from aidservice.engine.model import Rules
from aidservice.engine.sentences import combination_sentence, sentence

IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def symbols(rules: Rules) -> dict[str, ex.Symbol]:
    """The loader's symbol table of a loaded rule set (facts, parameters, level, derived values)."""
    table: dict[str, ex.Symbol] = {}
    for name, fact in rules.facts.items():
        kind = (
            ex.Type("enum", fact.values)
            if fact.type == "enum"
            else (ex.BOOL if fact.type == "bool" else ex.NUM)
        )
        table[name] = ex.Symbol("fact", kind)
    for name, param in rules.parameters.items():
        table[name] = ex.Symbol("param", ex.BOOL if param.type == "bool" else ex.NUM, param.key)
    table["level"] = ex.Symbol("level", ex.LEVEL)
    for name, derived in rules.derived.items():
        table[name] = ex.Symbol("derived", derived.expr.type)
    return table


def said(policy: RuleSet, text: str) -> str:
    return sentence(ex.parse(text, symbols(policy.rules)), policy.rules)


def every_condition(rules: Rules) -> list[tuple[str, ex.Node]]:
    found = [(f"clause {c.id}", c.when) for c in rules.clauses]
    for program in rules.programs:
        found.append((f"program {program.id}", program.when))
        found += [
            (f"{program.id} amount {i}", c.when) for i, c in enumerate(program.amount) if c.when is not None
        ]
    return found


def test_every_shipped_condition_reads_as_a_chinese_sentence_without_identifiers(policy: RuleSet) -> None:
    conditions = every_condition(policy.rules)
    assert len(conditions) > 40
    for where, node in conditions:
        text = sentence(node, policy.rules)
        assert text and not IDENTIFIER.search(text), f"{where}: {text}"
    for combination in policy.rules.combinations:
        text = combination_sentence(combination, policy.rules)
        assert not IDENTIFIER.search(text), f"combination {combination.id}: {text}"


def test_membership_and_a_status_read_with_the_value_and_fact_labels(policy: RuleSet) -> None:
    stage = policy.rules.facts["stage"]
    poor = policy.rules.facts["registered_poor"].label
    text = said(policy, "stage in ('primary', 'junior') and registered_poor")
    assert text == f"{stage.label}为{stage.label_of('primary')}或{stage.label_of('junior')}，且为{poor}"


def test_three_values_are_listed_and_the_last_joined_by_or(policy: RuleSet) -> None:
    stage = policy.rules.facts["stage"]
    names = [stage.label_of(s) for s in ("undergraduate", "master", "doctor")]
    assert (
        said(policy, "stage in ('undergraduate', 'master', 'doctor')")
        == f"学段为{names[0]}、{names[1]}或{names[2]}"
    )
    assert said(policy, "stage not in ('master', 'doctor')") == f"学段不为{names[1]}、{names[2]}"


def test_a_level_threshold_names_the_level_label(policy: RuleSet) -> None:
    general = policy.rules.level_labels["general"]
    assert said(policy, "level >= 'general'") == f"认定等级为{general}及以上"
    assert said(policy, "'general' <= level") == f"认定等级为{general}及以上"
    assert said(policy, "level == 'special'") == f"认定等级为{policy.rules.level_labels['special']}"


def test_an_income_threshold_names_the_parameter_and_the_derived_line(policy: RuleSet) -> None:
    rules = policy.rules
    text = said(policy, "per_capita_income < income_multiple_low * line")
    assert text == (
        f"{rules.facts['per_capita_income'].label}低于"
        f"{rules.parameters['income_multiple_low'].label}×{rules.derived['line'].label}"
    )


def test_mixed_and_or_is_bracketed_so_it_cannot_be_misread(policy: RuleSet) -> None:
    rules = policy.rules
    text = said(policy, "stage == 'undergraduate' and (level >= 'general' or retired_soldier)")
    assert text == (
        f"学段为{rules.facts['stage'].label_of('undergraduate')}，且（认定等级为{rules.level_labels['general']}及以上，"
        f"或为{rules.facts['retired_soldier'].label}）"
    )


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("not salaried", "不为"),
        ("not (stage == 'master' or salaried)", "并非（"),
        ("grade <= 3", "年级不高于3"),
        ("grade > 1.5", "年级高于1.5"),
        ("salaried == false", "不为"),
    ],
)
def test_negations_and_numbers_read_as_words(policy: RuleSet, text: str, words: str) -> None:
    result = said(policy, text)
    assert words in result and not IDENTIFIER.search(result), result


def test_a_combination_names_the_programs_and_the_one_that_wins(policy: RuleSet) -> None:
    combination = policy.rules.combinations[0]
    names = {p.id: p.name for p in policy.rules.programs}
    text = combination_sentence(combination, policy.rules)
    first, second = combination.exclusive[:2]
    assert text.startswith(f"{names[first]}与{names[second]}不能同时获得") and text.endswith(names[first])
