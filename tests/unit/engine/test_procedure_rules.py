"""The `procedure:` section (notice length, quota order, guide ratios): loaded as policy, strictly checked,
with every reason in Chinese for `aid rules check` and English for engineers."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from aidservice.engine import RulesError, RuleSet, load_rules, rules_from_files

from .conftest import MINI, write_rules

ORDER = "[special_group, level, per_capita_income, applied_at]"


def with_procedure(tmp_path: Path, text: str | None) -> Path:
    files = dict(MINI)
    if text is None:
        del files["procedure.yaml"]
    else:
        files["procedure.yaml"] = text
    return write_rules(tmp_path, files)


def procedure(days: str = "5", order: str = ORDER, extra: str = "") -> str:
    return (
        "procedure:\n"
        f"  notice_working_days: {{value: {days}, status: confirmed}}\n"
        f"  quota_order: {{value: {order}, status: confirmed}}\n" + extra
    )


def problems(root: Path) -> list:
    with pytest.raises(RulesError) as caught:
        load_rules(root)
    return caught.value.issues


def test_the_real_policy_has_five_working_days_and_special_groups_first(policy: RuleSet) -> None:
    proc = policy.procedure
    assert proc.notice_working_days == 5
    assert proc.quota_order == ("special_group", "level", "per_capita_income", "applied_at")
    assert proc.guide_ratios == {"preschool": "preschool_guide_ratio"}
    notice = proc.provenance["notice_working_days"]
    assert notice.status == "provisional"
    assert [c.number for c in notice.basis] == ["教财〔2018〕16号", "无文号"]


def test_the_preschool_guide_is_8_10_12_percent_by_region_group(policy: RuleSet) -> None:
    ratio = policy.rules.parameters["preschool_guide_ratio"]
    on = date(2020, 9, 1)
    share = {city: ratio.at(on, city).value for city in policy.rules.facts["city_code"].values}  # type: ignore[union-attr]
    assert {share[c] for c in ("320100", "320200", "320400", "320500", "321100")} == {
        8
    }  # 苏南, in hundredths
    assert {share[c] for c in ("320600", "321000", "321200")} == {10}  # 苏中
    assert {share[c] for c in ("320300", "320700", "320800", "320900", "321300")} == {12}  # 苏北


def test_seven_days_and_another_order_load_as_written(tmp_path: Path) -> None:
    rules = load_rules(with_procedure(tmp_path, procedure("7", "[special_group, applied_at, level]")))
    assert rules.procedure.notice_working_days == 7
    assert rules.procedure.quota_order == ("special_group", "applied_at", "level")
    assert rules.procedure.guide_ratios == {}


@pytest.mark.parametrize(
    ("text", "line", "en", "zh"),
    [
        pytest.param(
            procedure(order="[level, special_group]"),
            3,
            "'special_group' must come first",
            "special_group（特殊群体）必须排在第一位：应助尽助",
            id="special-not-first",
        ),
        pytest.param(
            procedure(order="[special_group, levle]"),
            3,
            "unknown sort key 'levle' (allowed: special_group, level, per_capita_income, applied_at); "
            "did you mean 'level'?",
            "未知的排序键 'levle'",
            id="unknown-sort-key",
        ),
        pytest.param(
            procedure(order="[special_group, level, level]"),
            3,
            "sort key 'level' repeated",
            "排序键 'level' 重复",
            id="repeated-key",
        ),
        pytest.param(
            procedure(days="0"), 2, "from 1 to 30, not 0", "公示期须为 1 至 30 个工作日", id="zero-days"
        ),
        pytest.param(procedure(days="5.5"), 2, "not Decimal", "不是", id="fraction-days"),
        pytest.param(
            procedure(extra="  notice_days: {value: 5, status: confirmed}\n"),
            4,
            "unknown key 'notice_days' in procedure",
            "procedure 中有未知的键 'notice_days'",
            id="unknown-setting",
        ),
        pytest.param(
            procedure(extra="  guide_ratios: {preschol: x}\n"),
            4,
            "unknown stage 'preschol'",
            "未知学段 'preschol'",
            id="unknown-stage",
        ),
        pytest.param(
            procedure(extra="  guide_ratios: {primary: line_monthly}\n"),
            4,
            "parameter 'line_monthly' must be a share (type: number)",
            "须为比例",
            id="not-a-share",
        ),
        pytest.param(
            "procedure:\n  notice_working_days: {value: 5, status: provisional}\n"
            f"  quota_order: {{value: {ORDER}, status: confirmed}}\n",
            2,
            "a provisional value needs a 'note'",
            "暂定值须在 note 中说明理由",
            id="provisional-without-note",
        ),
    ],
)
def test_a_broken_procedure_is_refused_with_file_line_and_both_languages(
    tmp_path: Path, text: str, line: int, en: str, zh: str
) -> None:
    found = problems(with_procedure(tmp_path, text))
    assert any(
        i.file == "rules/procedure.yaml" and i.line == line and en in i.message and zh in i.text("zh")
        for i in found
    ), [(i.text("en"), i.text("zh")) for i in found]


def test_did_you_mean_is_given_in_chinese_too(tmp_path: Path) -> None:
    (issue,) = problems(with_procedure(tmp_path, procedure(order="[special_group, per_capita_incom]")))
    assert issue.text("zh").endswith("是否应为 'per_capita_income'？")
    assert issue.text("en").endswith("did you mean 'per_capita_income'?")


def test_a_new_rule_set_without_procedure_is_refused(tmp_path: Path) -> None:
    (issue,) = problems(with_procedure(tmp_path, None))
    assert "no procedure declared" in issue.message
    assert "rules/procedure.yaml" in issue.text("zh")


def test_a_set_published_before_procedure_existed_still_loads_for_replay(policy: RuleSet) -> None:
    files = {rel: text for rel, text in policy.rules.files.items() if rel != "procedure.yaml"}
    with pytest.raises(RulesError, match="no procedure declared"):
        rules_from_files(files)
    older = rules_from_files(files, published=True)
    assert older.rules.procedure is None
    with pytest.raises(LookupError, match="declares no procedure"):
        older.procedure  # noqa: B018 - the property raises


def test_the_description_shows_the_procedure_with_its_citations(policy: RuleSet) -> None:
    described = policy.describe()["procedure"]
    assert described["notice_working_days"]["value"] == 5
    assert described["notice_working_days"]["status"] == "provisional"
    assert described["notice_working_days"]["basis"][0]["number"] == "教财〔2018〕16号"
    assert described["quota_order"]["value"][0] == "special_group"
    assert described["guide_ratios"] == {"preschool": "preschool_guide_ratio"}
