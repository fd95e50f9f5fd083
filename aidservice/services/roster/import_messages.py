"""The import's answer in Chinese: each row problem's message, and the refusal that lists them all, bounded.

The checks the import shares with the one-student API (`roster_schema`, `roster_common`, marshmallow) say what is
wrong in English; the import's officers read Chinese, so each message is put into Chinese here, by its exact
text or its pattern, with the rules' labels for enum values (学段 小学, not `primary`). A message no entry knows
is kept as it is. The refusal carries every problem up to `MAX_REPORTED` (and their total), as the `errors` map
(`rows.<row>.<field>`) and as a list naming row, field and the column's Chinese header.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from aidservice.i18n_marker import N_
from aidservice.services.errors import ValidationFailed
from aidservice.services.roster.import_columns import HeaderNames
from aidservice.services.roster.roster_upsert import RowError

MAX_REPORTED = 500
"""Problems an answer lists; the total is always given."""
CONFLICT = N_("另一条学生记录已使用此身份证号")
"""The Chinese row message of a number held by another record (the guard counts rows by it)."""

EXACT: dict[str, str] = {
    "Missing data for required field.": N_("必填，不能为空"),
    "Not a valid integer.": N_("应为整数"),
    "Not a valid boolean.": N_("应为“是”或“否”"),
    "Not a valid date.": N_("不是有效日期（应为 2020-09-01 格式）"),
    "Not a valid string.": N_("应为文本"),
    "Not a valid list.": N_("格式不正确"),
    "Field may not be null.": N_("不能为空"),
    "Unknown field.": N_("无法识别的字段"),
    "is too large": N_("数值过大"),
    "1-32 letters, digits, - or _": N_("应为 1 至 32 位字母、数字、- 或 _"),
    "must contain only the ASCII digits 0-9 and X (no full-width or other non-ASCII characters)": (
        N_("只能包含半角数字 0-9 和 X（不能有全角或其他字符）")
    ),
    "must be an 18-character resident identity number": N_("应为 18 位居民身份证号"),
    "must have 18 characters": N_("应为 18 位"),
    "must be 17 digits followed by a digit or X": N_("应为 17 位数字加 1 位数字或 X"),
    "birth date is not a valid date": N_("出生日期不是有效日期"),
    "birth date is not plausible": N_("出生日期不合理"),
    "check character does not match (GB 11643 MOD 11-2)": N_("校验位不正确（请核对号码）"),
    "must not contain the character U+0000": N_("含有不可见的控制字符"),
    "is the student's own number": N_("与学生本人的身份证号相同"),
    "is listed twice": N_("同一学生的监护人重复"),
    "belongs to a school outside your scope": N_("该学号的学生属于您管理范围以外的学校"),
    "only vocational (中职) students are in the east–west cooperation plan": N_(
        "只有中职学生可以是东西协作计划学生"
    ),
    "is required for an east–west cooperation student": N_("东西协作计划学生必须填写"),
    "is given only for an east–west cooperation student": N_("仅东西协作计划学生填写"),
    "another student record has this identity number": CONFLICT,
    "has a value but no column header": N_("该列有数据但没有列名"),
    "appears twice": N_("列名重复"),
    "unknown column": N_("无法识别的列名"),
    "missing column": N_("缺少此必填列"),
}


class Labeller:
    """(fact, value) -> the rules' label of the value (the value itself when the fact gives none); a fact's labels."""

    def __init__(self, facts: Mapping[str, Any]) -> None:
        self.facts = facts

    def __call__(self, fact: str, value: str) -> str:
        spec = self.facts.get(fact)
        return spec.label_of(value) if spec is not None else value

    def choices(self, fact: str) -> str:
        spec = self.facts.get(fact)
        return "、".join(spec.label_of(v) for v in spec.values) if spec is not None and spec.values else ""


def _enum(match: re.Match[str], field: str, label: Labeller) -> str:
    allowed = label.choices(field)
    return f"“{label(field, match[1])}”不是允许的值" + (f"（可选：{allowed}）" if allowed else "")


PATTERNS: tuple[tuple[re.Pattern[str], Callable[[re.Match[str], str, Labeller], str]], ...] = (
    (re.compile(r"^'(.*)' is not one of .*$"), _enum),
    (
        re.compile(r"^the school does not offer (\S+) \(it offers (.*)\)$"),
        lambda m, _f, label: (
            f"该学校没有{label('stage', m[1])}学段（开设："
            + "、".join(label("stage", s.strip()) for s in m[2].split(","))
            + "）"
        ),
    ),
    (re.compile(r"^must be between (\S+) and (\S+)$"), lambda m, _f, _l: f"应在 {m[1]} 至 {m[2]} 之间"),
    (
        re.compile(r"^Length must be between (\d+) and (\d+)\.$"),
        lambda m, _f, _l: f"长度应为 {m[1]} 至 {m[2]} 个字符",
    ),
    (re.compile(r"^Longer than maximum length (\d+)\.$"), lambda m, _f, _l: f"不能超过 {m[1]} 个字符"),
    (re.compile(r"^Shorter than minimum length (\d+)\.$"), lambda m, _f, _l: f"至少 {m[1]} 个字符"),
    (re.compile(r"^repeats row (\d+)$"), lambda m, _f, _l: f"学号与第 {m[1]} 行重复"),
    (re.compile(r"^repeats the number on row (\d+)$"), lambda m, _f, _l: f"身份证号与第 {m[1]} 行重复"),
    (re.compile(r"^unknown school (.*)$"), lambda m, _f, _l: f"学校代码 {m[1]} 不存在"),
    (re.compile(r"^school (.*) is outside your scope$"), lambda m, _f, _l: f"学校 {m[1]} 不在您的管理范围内"),
    (
        re.compile(r"^is required when the enrolment state is (.*)$"),
        lambda m, _f, label: f"学籍状态为“{label('enrolment_state', m[1])}”时必须填写",
    ),
    (re.compile(r"^Must be one of: .*\.$"), lambda _m, _f, _l: "不是允许的值"),
)


def labeller(facts: Mapping[str, Any]) -> Labeller:
    """The rules' labels of enum values, for the messages."""
    return Labeller(facts)


def chinese(message: str, field: str, label: Labeller) -> str:
    """The message in Chinese; as it is when no entry knows it (already Chinese, or new)."""
    if message in EXACT:
        return EXACT[message]
    base = field.split("_", 1)[1] if field.startswith("guardian") and "_" in field else field
    for pattern, make in PATTERNS:
        match = pattern.match(message)
        if match:
            return make(match, base, label)
    return message


def in_chinese(errors: Sequence[RowError], facts: Mapping[str, Any]) -> list[RowError]:
    """Every problem with its message in Chinese, in row order (header problems first)."""
    label = labeller(facts)
    return [RowError(e.row, e.field, chinese(e.message, e.field, label)) for e in errors]


def refusal(errors: Sequence[RowError], total_rows: int, names: HeaderNames) -> ValidationFailed:
    """The all-or-nothing answer in Chinese: every problem (up to MAX_REPORTED), nothing written."""
    ordered = sorted(errors, key=lambda e: e.row)
    shown = ordered[:MAX_REPORTED]
    messages: dict[str, list[str]] = {}
    for error in shown:
        messages.setdefault(f"rows.{error.row}.{error.field}", []).append(error.message)
    bad_rows = len({e.row for e in errors if e.row > 1})
    header = any(e.row == 1 for e in errors)
    parts = []
    if header:
        parts.append("表头（第 1 行）有问题")
    if bad_rows:
        parts.append(f"{total_rows} 行数据中有 {bad_rows} 行有错误")
    detail = "；".join(parts) + f"，共 {len(errors)} 处错误，未写入任何数据。"
    if len(errors) > len(shown):
        detail += f"此处列出前 {len(shown)} 处。"
    refused = ValidationFailed(messages, detail)
    refused.extra = {
        "total_errors": len(errors),
        "rows": [
            {"row": e.row, "field": e.field, "column": names.label(e.field), "message": e.message}
            for e in shown
        ],
    }
    return refused


def message_lines(errors: Mapping[str, Sequence[str]], names: HeaderNames) -> dict[int, list[str]]:
    """`rows.<row>.<field>` messages as one Chinese line each per row: "学段：“x”不是允许的值"."""
    lines: dict[int, list[str]] = {}
    for key, messages in errors.items():
        parts = key.split(".", 2)
        if parts[0] != "rows" or len(parts) != 3 or not parts[1].isdigit():
            continue
        column = names.label(parts[2])
        lines.setdefault(int(parts[1]), []).extend(f"{column}：{m}" for m in messages)
    return lines
