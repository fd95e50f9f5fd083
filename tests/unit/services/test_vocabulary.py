"""Labels of enum values come from the rules (the fact's description), for the seed's roster facts."""

from __future__ import annotations

import shutil
from pathlib import Path

from aidservice.engine import load_rules
from aidservice.services.vocabulary import check_enrolment_states, value_labels, value_of
from config import REPO_ROOT

RULES = load_rules(REPO_ROOT / "rules")


def test_every_partner_region_and_enrolment_state_has_its_chinese_label() -> None:
    assert value_labels(RULES.facts, "east_west_origin") == {
        "shaanxi": "陕西",
        "guizhou_tongren": "贵州铜仁",
        "qinghai_xining": "青海西宁",
        "qinghai_haidong": "青海海东",
    }
    assert value_labels(RULES.facts, "enrolment_state") == {
        "enrolled": "在读",
        "transferred": "转出",
        "suspended": "休学",
        "dropped_out": "辍学",
        "graduated": "毕业",
    }
    assert RULES.facts["east_west_cooperation"].label == "东西协作计划学生"
    assert check_enrolment_states(RULES.facts) == []


def test_a_label_or_a_value_reads_as_the_value_and_anything_else_stays_as_written() -> None:
    assert value_of(RULES.facts, "enrolment_state", " 辍学 ") == "dropped_out"
    assert value_of(RULES.facts, "enrolment_state", "graduated") == "graduated"
    assert value_of(RULES.facts, "east_west_origin", "甘肃") == "甘肃"
    assert value_of(RULES.facts, "east_west_origin", 3) == 3


def test_a_region_added_in_the_rules_is_labelled_without_a_code_change(tmp_path: Path) -> None:
    copy = tmp_path / "rules"
    shutil.copytree(REPO_ROOT / "rules", copy)
    facts = copy / "facts.yaml"
    text = facts.read_text(encoding="utf-8")
    assert "      qinghai_haidong: 青海海东\n" in text
    text = text.replace(
        "      qinghai_haidong: 青海海东\n", "      qinghai_haidong: 青海海东\n      gansu_linxia: 甘肃临夏\n"
    )
    facts.write_text(text, encoding="utf-8")
    labels = value_labels(load_rules(copy).facts, "east_west_origin")
    assert (
        labels["gansu_linxia"] == "甘肃临夏"
        and value_of(load_rules(copy).facts, "east_west_origin", "甘肃临夏") == "gansu_linxia"
    )
