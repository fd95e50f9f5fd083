"""Completeness checks (`aid rules check`): each one catches a broken copy of the shipped rules at its line."""

from __future__ import annotations

from pathlib import Path

import pytest

from aidservice.engine import load_rules
from aidservice.engine.completeness import Finding, check
from aidservice.engine.loader import RulesError

from .conftest import REPO


def edit(path: Path, old: str, new: str, *, after: str = "") -> None:
    """Replace the first `old` (after the first `after`, when given) in a rules file; it must be there."""
    text = path.read_text(encoding="utf-8")
    start = text.index(after) if after else 0
    at = text.index(old, start)
    path.write_text(text[:at] + new + text[at + len(old) :], encoding="utf-8")


def line_of(path: Path, needle: str, *, after: str = "") -> int:
    """1-based line of the first line holding `needle` (after the first line holding `after`)."""
    lines = path.read_text(encoding="utf-8").splitlines()
    start = next(i for i, line in enumerate(lines) if after in line) if after else 0
    return next(i for i, line in enumerate(lines) if i >= start and needle in line) + 1


def findings(root: Path) -> list[Finding]:
    return check(load_rules(root).rules)


def only(root: Path) -> Finding:
    found = findings(root)
    assert len(found) == 1, [f.text("en") for f in found]
    return found[0]


def test_the_shipped_rules_are_complete() -> None:
    assert [f.text("en") for f in findings(REPO / "rules")] == []


def test_a_city_missing_from_the_line_table_is_named_at_the_values_line(rules_copy: Path) -> None:
    params = rules_copy / "parameters" / "identification.yaml"
    edit(params, '      "320700": {2018-09-01: 650}   # 连云港 苏北\n', "")
    finding = only(rules_copy)
    assert (finding.file, finding.line) == (
        "rules/parameters/identification.yaml",
        line_of(params, "values:", after="subsistence_line_monthly:"),
    )
    assert finding.zh == "参数 'subsistence_line_monthly' 按 city_code 取值，但缺少 1 个取值的数据：320700"
    assert "has no values for 1 of them: 320700" in finding.en


def test_a_parameter_whose_only_value_starts_in_2021_is_a_coverage_gap(rules_copy: Path) -> None:
    params = rules_copy / "parameters" / "identification.yaml"
    edit(params, "values: {2018-09-01: 1.5}", "values: {2021-01-01: 1.5}", after="income_multiple_low:")
    finding = only(rules_copy)
    assert finding.line == line_of(params, "values: {2021-01-01: 1.5}")
    assert finding.zh.startswith("参数 'income_multiple_low' 在 2018-09-01 – 2020-12-31 没有取值")
    assert "覆盖期 2018-09-01 至 2021-08-31" in finding.zh
    assert finding.en.startswith("parameter 'income_multiple_low' has no value on 2018-09-01 – 2020-12-31")


def test_one_city_starting_late_is_named_at_its_own_line(rules_copy: Path) -> None:
    params = rules_copy / "parameters" / "identification.yaml"
    edit(params, '"320300": {2018-09-01: 650}', '"320300": {2019-01-01: 650}')
    finding = only(rules_copy)
    assert finding.line == line_of(params, '"320300": {2019-01-01: 650}')
    assert finding.zh.startswith(
        "参数 'subsistence_line_monthly[320300]' 在 2018-09-01 – 2018-12-31 没有取值"
    )


def test_a_value_ended_early_leaves_a_gap_to_the_end_of_coverage(rules_copy: Path) -> None:
    params = rules_copy / "parameters" / "basic_education.yaml"
    edit(params, "values: {2018-09-01: 1000}", "values: {2018-09-01: 1000, 2020-07-01: null}")
    finding = only(rules_copy)
    assert finding.line == line_of(params, "2020-07-01: null")
    assert "'preschool_aid_amount' has no value on 2020-07-01 – 2021-08-31" in finding.en
    assert "used by program 'preschool_aid'" in finding.en


def test_a_value_needed_only_inside_a_programs_effective_range_is_not_a_gap(rules_copy: Path) -> None:
    """The covid subsidy applies in 2020 only: its amount needs a value in 2020, not before."""
    params = rules_copy / "parameters" / "covid.yaml"
    text = params.read_text(encoding="utf-8")
    assert "2020-01-01" in text
    assert findings(rules_copy) == []
    edit(params, "2020-01-01", "2020-03-01")
    finding = only(rules_copy)
    assert "'covid_hardship_subsidy_amount' has no value on 2020-01-01 – 2020-02-29" in finding.en


def test_a_listed_stage_the_condition_excludes(rules_copy: Path) -> None:
    programs = rules_copy / "programs" / "basic_education.yaml"
    edit(programs, "stages: [primary, junior]", "stages: [primary, junior, senior_high]")
    finding = only(rules_copy)
    assert finding.line == line_of(programs, "stages: [primary, junior, senior_high]")
    assert finding.zh == "项目 'compulsory_living_subsidy' 的 stages 列出了条件排除的学段：senior_high"
    assert (
        finding.en == "program 'compulsory_living_subsidy' lists stage(s) its condition excludes: senior_high"
    )


def test_a_stage_the_condition_admits_but_stages_omit(rules_copy: Path) -> None:
    programs = rules_copy / "programs" / "basic_education.yaml"
    edit(programs, "stages: [primary, junior]", "stages: [primary]")
    finding = only(rules_copy)
    assert finding.line == line_of(programs, "stages: [primary]")
    assert finding.zh == "项目 'compulsory_living_subsidy' 的条件允许未列入 stages 的学段：junior"


def test_stages_follow_not_and_or_in_the_condition(rules_copy: Path) -> None:
    programs = rules_copy / "programs" / "basic_education.yaml"
    edit(
        programs,
        "when: stage in ('primary', 'junior') and level >= 'general'",
        "when: not (stage not in ('primary', 'junior') or stage == 'junior') and level >= 'general'",
    )
    finding = only(rules_copy)
    assert finding.en == "program 'compulsory_living_subsidy' lists stage(s) its condition excludes: junior"


def test_a_program_without_a_citation(rules_copy: Path) -> None:
    programs = rules_copy / "programs" / "basic_education.yaml"
    text = programs.read_text(encoding="utf-8")
    basis = next(line for line in text.splitlines(keepends=True) if line.startswith("    basis:"))
    owner_line = line_of(programs, "preschool_aid:")
    edit(programs, basis, "", after="preschool_aid:")
    finding = only(rules_copy)
    assert (finding.file, finding.line) == ("rules/programs/basic_education.yaml", owner_line)
    assert finding.zh == "项目 'preschool_aid' 没有引用政策文件（basis，见 documents.yaml）"


def test_a_clause_and_a_parameter_without_a_citation(rules_copy: Path) -> None:
    levels = rules_copy / "levels.yaml"
    lines = levels.read_text(encoding="utf-8").splitlines(keepends=True)
    start = next(i for i, line in enumerate(lines) if "- id: special_registered_poor" in line)
    end = next(i for i in range(start + 1, len(lines)) if "- id:" in lines[i])
    kept = [ln for ln in lines[start:end] if not ln.startswith(("        basis:", "          - {document"))]
    assert len(kept) == end - start - 3  # the basis key and its two citations
    levels.write_text("".join(lines[:start] + kept + lines[end:]), encoding="utf-8")
    params = rules_copy / "parameters" / "identification.yaml"
    edit(params, '    basis: {document: jiangsu_2020_baseline, clause: "§2 当地低保标准"}\n', "")
    found = {(f.file, f.line, f.en) for f in findings(rules_copy)}
    assert found == {
        (
            "rules/levels.yaml",
            line_of(levels, "- id: special_registered_poor"),
            "clause 'special_registered_poor' cites no document (basis, see documents.yaml)",
        ),
        (
            "rules/parameters/identification.yaml",
            line_of(params, "subsistence_line_monthly:"),
            "parameter 'subsistence_line_monthly' cites no document (basis, see documents.yaml)",
        ),
    }


def test_a_document_without_issuer_number_or_date(rules_copy: Path) -> None:
    documents = rules_copy / "documents.yaml"
    edit(documents, "    issuer: 财政部 教育部\n", "")
    edit(documents, "number: 财教〔2019〕25号", "number: 职业院校奖助学金通知")
    edit(documents, "    issued: 2018-10-30\n", "")
    found = sorted((f.line, f.zh) for f in findings(rules_copy))
    assert found == sorted(
        [
            (line_of(documents, "jyb_2018_16:"), "文件 'jyb_2018_16' 缺少发文日期（issued）"),
            (line_of(documents, "czb_2019_25:"), "文件 'czb_2019_25' 缺少发文机关（issuer）"),
            (
                line_of(documents, "number: 职业院校奖助学金通知"),
                "文件 'czb_2019_25' 的文号 '职业院校奖助学金通知' 不是发文字号（没有文号请写 \"无文号\"）",
            ),
        ]
    )


def test_a_project_path_is_not_a_document_number_but_无文号_is(rules_copy: Path) -> None:
    documents = rules_copy / "documents.yaml"
    edit(
        documents, "number: 无文号", "number: aidservice/policy/jiangsu-2020", after="jiangsu_2020_baseline:"
    )
    finding = only(rules_copy)
    assert "number 'aidservice/policy/jiangsu-2020' is not a document number" in finding.en


def test_an_issue_date_may_be_a_year_but_not_free_text(rules_copy: Path) -> None:
    documents = rules_copy / "documents.yaml"
    edit(documents, "issued: 2018-10-30", "issued: 2018")
    assert findings(rules_copy) == []
    edit(documents, "issued: 2018", "issued: 去年")
    with pytest.raises(RulesError) as caught:
        load_rules(rules_copy)
    assert [(i.line, "issued must be a date" in i.message) for i in caught.value.issues] == [
        (line_of(documents, "issued: 去年"), True)
    ]


@pytest.mark.parametrize(
    ("file", "old", "new", "hint"),
    [
        (
            "programs/basic_education.yaml",
            "when: stage == 'senior_high' and level >= 'general'",
            "when: stage == 'senior_high' and levle >= 'general'",
            "unknown name 'levle' in \"stage == 'senior_high' and levle >= 'general'\"; did you mean 'level'?",
        ),
        (
            "levels.yaml",
            "when: registered_poor",
            "when: registerd_poor",
            "unknown name 'registerd_poor' in 'registerd_poor'; did you mean 'registered_poor'?",
        ),
        (
            "levels.yaml",
            "subsistence_line_monthly[city_code] * 12",
            "subsistence_line_montly[city_code] * 12",
            "did you mean 'subsistence_line_monthly'?",
        ),
        (
            "combinations.yaml",
            "undergrad_inspirational_scholarship]",
            "undergrad_inspirational_scolarship]",
            "unknown program(s) undergrad_inspirational_scolarship; did you mean 'undergrad_inspirational_scholarship'?",
        ),
        (
            "combinations.yaml",
            "document: czkj_2019_19",
            "document: czkj_2019_91",
            "unknown document 'czkj_2019_91' (see documents.yaml); did you mean 'czkj_2019_19'?",
        ),
        (
            "programs/basic_education.yaml",
            "stages: [primary, junior]",
            "stages: [primary, junoir]",
            "unknown stage(s) junoir; did you mean 'junior'?",
        ),
    ],
)
def test_unknown_names_suggest_the_close_known_one(
    rules_copy: Path, file: str, old: str, new: str, hint: str
) -> None:
    edit(rules_copy / file, old, new)
    with pytest.raises(RulesError) as caught:
        load_rules(rules_copy)
    messages = [i.message for i in caught.value.issues]
    assert any(hint in m for m in messages), messages
    lines = {i.line for i in caught.value.issues if hint in i.message}
    assert lines == {line_of(rules_copy / file, new)}


def test_a_name_close_to_nothing_gets_no_suggestion(rules_copy: Path) -> None:
    edit(rules_copy / "levels.yaml", "when: registered_poor", "when: favourite_colour")
    with pytest.raises(RulesError) as caught:
        load_rules(rules_copy)
    assert [i.message for i in caught.value.issues if "favourite_colour" in i.message] == [
        "clause 'special_registered_poor': unknown name 'favourite_colour' in 'favourite_colour'"
    ]
