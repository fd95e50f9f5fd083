"""Engine test fixtures: a small rules tree written to disk, and the real rule set."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from aidservice.engine import RuleSet, load_rules

REPO = Path(__file__).resolve().parents[3]

MINI_TEXT = {
    "coverage.yaml": """\
        coverage: {from: 2017-09-01, to: 2021-08-31}
        """,
    "procedure.yaml": """\
        procedure:
          notice_working_days: {value: 5, status: confirmed}
          quota_order: {value: [special_group, level, per_capita_income, applied_at], status: confirmed}
        """,
    "documents.yaml": """\
        documents:
          doc_a:
            title: 测试文件
            number: 测试〔2020〕1号
        """,
    "facts.yaml": """\
        facts:
          stage: {type: enum, values: [primary, junior], required: true, source: roster}
          grade: {type: int, min: 1, max: 9, required: true, source: roster}
          city_code: {type: enum, values: ["320100", "320300"], source: school}
          income: {type: money, min: 0, source: application}
          orphan: {type: bool, source: civil_affairs}
          fee: {type: money, min: 0, source: school}
        derived:
          line:
            type: money
            formula: line_monthly[city_code] * 12
        """,
    "sources.yaml": """\
        sources:
          civil_affairs:
            label: 民政部门
            statuses:
              orphan: {reaches: person}
        special_groups:
          - {status: orphan, label: 孤儿}
        """,
    "parameters/p.yaml": """\
        parameters:
          line_monthly:
            type: money
            key: city_code
            status: provisional
            note: regional default
            values:
              "320100": {2018-01-01: 900}
              "320300": {2018-01-01: 650}
          grant:
            type: money
            status: confirmed
            basis: {document: doc_a, clause: 第一条}
            values:
              2007-09-01: 1000
              2019-01-01: 1250
          bonus:
            type: money
            status: provisional
            note: one year only
            values:
              - {from: 2020-01-01, to: 2020-12-31, value: 500}
        """,
    "levels.yaml": """\
        levels:
          special:
            clauses:
              - {id: s_orphan, when: orphan, status: confirmed}
          difficult:
            clauses:
              - {id: d_income, when: income < 1.5 * line, status: provisional, note: chosen here}
          general:
            clauses:
              - {id: g_income, when: income < 2.5 * line, status: provisional, note: chosen here}
        """,
    "programs/a.yaml": """\
        programs:
          living:
            name: 生活补助
            kind: grant
            when: level >= 'general'
            status: confirmed
            amount: grant
          waiver:
            name: 免学费
            kind: waiver
            when: orphan
            status: confirmed
            amount: fee
          covid:
            name: 疫情补助
            kind: grant
            when: orphan
            effective: {from: 2020-01-01, to: 2020-12-31}
            status: confirmed
            amount: bonus
        """,
    "combinations.yaml": """\
        combinations:
          - id: one_of_two
            exclusive: [waiver, living]
            status: confirmed
        """,
}


MINI = {rel: textwrap.dedent(text) for rel, text in MINI_TEXT.items()}


def write_rules(root: Path, files: dict[str, str]) -> Path:
    """Write a rules tree from {relative path: text}; text is dedented."""
    for rel, text in files.items():
        path = root / "rules" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")
    return root / "rules"


@pytest.fixture
def mini_dir(tmp_path: Path) -> Path:
    return write_rules(tmp_path, MINI)


@pytest.fixture
def mini(mini_dir: Path) -> RuleSet:
    return load_rules(mini_dir)


@pytest.fixture(scope="session")
def policy() -> RuleSet:
    """The real 2020 Jiangsu rule set."""
    return load_rules(REPO / "rules")
