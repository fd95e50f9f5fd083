"""The import's columns, one table for the template, the header mapping, the messages and the error sheet.

Each column has its payload key (the English header the import always took) and the Chinese header officers
write. A column backed by a fact of the rules (学段, 年级, 寄宿生, 学籍状态 …) takes its header from the fact's
label, and an enum column its allowed values from the fact's value labels: nothing of the rules' vocabulary is
copied here. Guardians are `guardianN_id_number|name|relation`, in Chinese 监护人N身份证号|姓名|与学生关系.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from aidservice.i18n import RELATIONS

GUARDIAN_KEY = re.compile(r"^guardian([1-9])_(id_number|name|relation)$")
GUARDIAN_HEADER = re.compile(r"^监护人([1-9])(身份证号|姓名|与学生关系)$")
GUARDIAN_PARTS = {"id_number": "身份证号", "name": "姓名", "relation": "与学生关系"}
ERROR_COLUMN = "错误说明"
"""The first column of the error sheet; the import skips a column so headed, so the sheet can come back."""
TEMPLATE_GUARDIANS = 2
"""Guardian column groups the template carries (an officer may add 监护人3… up to six)."""

# (key, header when no fact of the rules labels it, required, what the instruction sheet says)
_STUDENT_COLUMNS: tuple[tuple[str, str, bool, str], ...] = (
    ("student_id", "学号", True, "学校内唯一的学生编号（字母、数字、- 或 _，最多 32 位）"),
    ("id_number", "身份证号", True, "18 位居民身份证号，末位可为 X；请设为文本格式以免丢失位数"),
    ("name", "姓名", True, "学生姓名"),
    ("school_code", "学校代码", False, "学校代码；学校资助专员可留空（默认本校）"),
    ("class_name", "班级", False, "班级名称，可留空"),
    ("stage", "学段", True, ""),
    ("grade", "年级", True, ""),
    ("boarding", "寄宿生", False, ""),
    ("rural_hukou", "农村户籍", False, ""),
    ("agri_major", "涉农专业", False, ""),
    ("arts_performance_major", "艺术表演类专业", False, ""),
    ("retired_soldier", "退役士兵学生", False, ""),
    ("salaried", "有固定工资收入", False, ""),
    ("east_west_cooperation", "东西协作计划学生", False, ""),
    ("east_west_origin", "东西协作生源地区", False, "东西协作计划学生必填，其他学生留空"),
    ("enrolment_state", "学籍状态", False, "留空即在读"),
    ("enrolment_date", "学籍状态日期", False, "学籍状态不是在读时必填，格式 2020-09-01"),
)
BOOL_KEYS = frozenset(
    {
        "boarding",
        "rural_hukou",
        "agri_major",
        "arts_performance_major",
        "retired_soldier",
        "salaried",
        "east_west_cooperation",
    }
)
ENUM_KEYS = frozenset({"stage", "east_west_origin", "enrolment_state"})
YES, NO = "是", "否"
EXAMPLE = {
    "student_id": "S2020001",
    "id_number": "320102201003070017",
    "name": "张三",
    "school_code": "32010201",
    "class_name": "三年级1班",
    "grade": 3,
    "guardian1_id_number": "320102198001010016",
    "guardian1_name": "张建国",
}


@dataclass(frozen=True, slots=True)
class Column:
    """One column of the import: payload key, Chinese header, required or not, allowed labels, a note."""

    key: str
    header: str
    required: bool
    choices: tuple[str, ...] = ()  # the labels a drop-down offers (enum values, 是/否, relations)
    note: str = ""


def columns(facts: Mapping[str, Any], guardians: int = TEMPLATE_GUARDIANS) -> list[Column]:
    """The import's columns in the order officers expect, headers and choices read from the rules."""
    out: list[Column] = []
    for key, fallback, required, note in _STUDENT_COLUMNS:
        spec = facts.get(key)
        header = _header(spec, fallback)
        choices: tuple[str, ...] = ()
        if key in ENUM_KEYS and spec is not None:
            choices = tuple(spec.label_of(value) for value in spec.values)
        elif key in BOOL_KEYS:
            choices = (YES, NO)
        if key == "grade" and spec is not None and spec.min is not None and spec.max is not None:
            note = f"整数 {spec.min} 至 {spec.max}"
        out.append(Column(key, header, required, choices, note))
    for n in range(1, guardians + 1):
        out.extend(guardian_columns(n))
    return out


def _header(spec: Any, fallback: str) -> str:
    """A fact's label without its parenthesised scope (涉农专业（中职） -> 涉农专业), else the fallback."""
    if spec is None or not getattr(spec, "label", ""):
        return fallback
    return re.sub(r"（[^）]*）$", "", spec.label).strip() or fallback


def guardian_columns(n: int) -> list[Column]:
    """The three columns of guardian N (required once any of them is given)."""
    return [
        Column(f"guardian{n}_id_number", f"监护人{n}身份证号", False, (), "18 位居民身份证号"),
        Column(f"guardian{n}_name", f"监护人{n}姓名", False, (), "监护人姓名"),
        Column(
            f"guardian{n}_relation", f"监护人{n}与学生关系", False, tuple(RELATIONS.values()), "与学生的关系"
        ),
    ]


@dataclass(frozen=True, slots=True)
class HeaderNames:
    """Header text -> payload key, for English keys and Chinese headers alike; and each key's Chinese header."""

    keys: dict[str, str]
    labels: dict[str, str]

    def key_of(self, cell: str) -> str | None:
        """The payload key of a header cell (case and spaces ignored for English), or None when unknown."""
        text = cell.strip()
        lowered = text.lower()
        if GUARDIAN_KEY.fullmatch(lowered):
            return lowered
        match = GUARDIAN_HEADER.fullmatch(text)
        if match:
            part = next(k for k, v in GUARDIAN_PARTS.items() if v == match[2])
            return f"guardian{match[1]}_{part}"
        return self.keys.get(lowered) or self.keys.get(text)

    def label(self, key: str) -> str:
        """The Chinese header of a payload key (guardian2_name -> 监护人2姓名); unknown keys as they are."""
        match = GUARDIAN_KEY.fullmatch(key)
        if match:
            return f"监护人{match[1]}{GUARDIAN_PARTS[match[2]]}"
        return self.labels.get(key, key)


def header_names(facts: Mapping[str, Any]) -> HeaderNames:
    """The mapping the import reads headers with, built from the same table as the template."""
    keys: dict[str, str] = {}
    labels: dict[str, str] = {}
    for column in columns(facts, guardians=0):
        keys[column.key] = column.key
        keys[column.header] = column.key
        spec = facts.get(column.key)
        full: str = spec.label if spec is not None else ""
        if full:
            keys[full] = column.key  # the full label (涉农专业（中职）) is taken too
        labels[column.key] = column.header
    return HeaderNames(keys, labels)


def relation_value(raw: object) -> object:
    """A relation cell as stored: 父亲 -> father (the labels officers see); other text as written."""
    if not isinstance(raw, str):
        return raw
    text = raw.strip()
    for value, label in RELATIONS.items():
        if text == label:
            return value
    return text


def example_row(facts: Mapping[str, Any], table: Sequence[Column]) -> list[object]:
    """One filled-in row for the instruction sheet: the first value label of each enum, 否 for flags."""
    row: list[object] = []
    for column in table:
        if column.key in EXAMPLE:
            row.append(EXAMPLE[column.key])
        elif column.key == "stage":
            spec = facts.get("stage")
            row.append(spec.label_of("primary") if spec is not None else "")
        elif column.key in BOOL_KEYS:
            row.append(NO)
        elif column.key.endswith("_relation") and column.key.startswith("guardian1"):
            row.append(RELATIONS["father"])
        else:
            row.append("")
    return row
