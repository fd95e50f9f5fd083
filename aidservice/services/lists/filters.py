"""The one filter of a list: parsed from a query string and checked here, used by page, API and export.

`parse(kind, args, rules)` gives a `ListFilter` or raises ValidationFailed naming each bad field with a Chinese
message (the API answers problem+json with it; the pages show it beside the field). Sorting is by a key of
`SORT_KEYS[kind]` only: the key picks a column from a fixed table, nothing of the query reaches SQL as text.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from typing import Literal

from aidservice.engine.result import LEVELS
from aidservice.engine.ruleset import RuleSet
from aidservice.models.application import STATES
from aidservice.services.errors import ValidationFailed

Kind = Literal["students", "applications"]
QUERY_MAX = 64
CLASS_MAX = 64
SCHOOL_MAX = 32
PAGE_MAX = 100_000
PER_PAGE = 50
PER_PAGE_MAX = 200
GRADE_MAX = 12
SORT_KEYS: dict[str, tuple[str, ...]] = {
    "students": ("student_id", "name", "school", "class_name", "stage", "grade", "level", "state"),
    "applications": (
        "id",
        "student_id",
        "name",
        "school",
        "region",
        "class_name",
        "grade",
        "state",
        "level",
        "conflicts",
        "submitted_at",
    ),
}
DEFAULT_SORT = {"students": "student_id", "applications": "id"}
DEFAULT_DESC = {"students": False, "applications": True}  # applications: newest first, as before
ID_LIKE = re.compile(r"^\d{17}[\dXx]$")
DIGITS = re.compile(r"^\d+$")
REGION_CODE = re.compile(r"^\d{6}$")
KNOWN = (
    "q",
    "region",
    "school",
    "state",
    "level",
    "group",
    "stage",
    "grade",
    "class_name",
    "sort",
    "order",
    "page",
    "per_page",
)


@dataclass(frozen=True, slots=True)
class ListFilter:
    """What a list shows: search text, filters, sort and page. Empty or None: not filtered on."""

    kind: Kind
    q: str = ""
    region: str | None = None  # a city's or county's code: its schools (within the caller's scope, always)
    school: str | None = None
    state: str | None = None
    level: str | None = None
    group: str | None = None  # a special group's status (rules' special_groups)
    stage: str | None = None
    grade: int | None = None
    class_name: str | None = None
    sort: str = ""
    desc: bool | None = None  # None: the list's default order (applications: newest first)
    page: int = 1
    per_page: int = PER_PAGE

    def __post_init__(self) -> None:
        if self.desc is None:
            object.__setattr__(self, "desc", DEFAULT_DESC[self.kind])

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.per_page

    def args(self, **changes: object) -> dict[str, str]:
        """The query string of this filter (with changes): for page links, sort headers and downloads."""
        changed = replace(self, **changes)  # type: ignore[arg-type]
        out: dict[str, str] = {}
        for f in fields(changed):
            value = getattr(changed, f.name)
            if f.name in ("kind", "desc", "per_page") or value in (None, ""):
                continue
            if f.name == "page" and value == 1:
                continue
            out[f.name] = str(value)
        if changed.desc != DEFAULT_DESC[changed.kind] or changed.sort:
            out["order"] = "desc" if changed.desc else "asc"
        if changed.per_page != PER_PAGE:
            out["per_page"] = str(changed.per_page)
        return out

    def download(self, fmt: str) -> dict[str, str]:
        """The query string of this filter's file (every page): the screen's filter with `format`."""
        return {**self.args(page=1), "format": fmt}

    def sorted_by(self, key: str) -> dict[str, str]:
        """The query string sorting by `key`: ascending first, then the other way when it is the sort already."""
        current = self.sort or DEFAULT_SORT[self.kind]
        desc = not self.desc if key == current else False
        return self.args(sort=key, desc=desc, page=1)


def parse(kind: Kind, args: Mapping[str, str | None], rules: RuleSet) -> ListFilter:
    """The filter of a query string; ValidationFailed naming every bad field (Chinese messages)."""
    errors: dict[str, list[str]] = {}

    def text(name: str, limit: int) -> str:
        value = (args.get(name) or "").strip()
        if len(value) > limit:
            errors.setdefault(name, []).append(f"最多 {limit} 个字符")
            return ""
        return value

    def one_of(name: str, allowed: tuple[str, ...] | list[str], message: str) -> str | None:
        value = text(name, 64) or None
        if value is not None and value not in allowed:
            errors.setdefault(name, []).append(message)
            return None
        return value

    def number(name: str, low: int, high: int, default: int | None) -> int | None:
        raw = text(name, 8)
        if not raw:
            return default
        if not DIGITS.fullmatch(raw) or not low <= int(raw) <= high:
            errors.setdefault(name, []).append(f"应为 {low} 到 {high} 之间的整数")
            return default
        return int(raw)

    q = text("q", QUERY_MAX)
    if ID_LIKE.fullmatch(q):  # a full number never travels in a URL: the audited lookup takes it
        errors.setdefault("q", []).append("请使用“按身份证号查找”，列表搜索只接受身份证号后4位或后6位。")
        q = ""
    stage_spec = rules.facts.get("stage")
    stages = list(stage_spec.values) if stage_spec is not None else []
    groups = [g.status for g in rules.vocabulary.groups]
    sort = one_of("sort", SORT_KEYS[kind], "不支持按该列排序") or ""
    region = text("region", 6) or None
    if region is not None and not REGION_CODE.fullmatch(region):
        errors.setdefault("region", []).append("应为6位行政区划代码")
        region = None
    order = one_of("order", ("asc", "desc"), "排序方向应为 asc 或 desc")
    result = ListFilter(
        kind=kind,
        q=q,
        region=region,
        school=text("school", SCHOOL_MAX) or None,
        state=one_of("state", STATES, "没有这个申请状态"),
        level=one_of("level", LEVELS, "没有这个认定等级"),
        group=one_of("group", groups, "没有这个特殊群体"),
        stage=one_of("stage", stages, "没有这个学段"),
        grade=number("grade", 1, GRADE_MAX, None),
        class_name=text("class_name", CLASS_MAX) or None,
        sort=sort,
        desc=DEFAULT_DESC[kind] if order is None else order == "desc",
        page=number("page", 1, PAGE_MAX, 1) or 1,
        per_page=number("per_page", 1, PER_PAGE_MAX, PER_PAGE) or PER_PAGE,
    )
    if errors:
        raise ValidationFailed(errors)
    return result
