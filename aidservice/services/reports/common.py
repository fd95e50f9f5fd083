"""What every report kind shares: the special groups and stages in report order with their Chinese names (read
from the loaded rule set: `Labels`), reasons and levels, the definition of "aided", and the report structure
(sections, columns, charts) the renderers write. The scope a report covers is `scope`; the time the data is read at and the SQL for "current at that
time" are `reading`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from aidservice.i18n_reports import AIDED_DEFINITION_CN as AIDED_DEFINITION_CN
from aidservice.i18n_reports import AIDED_DEFINITION_EN

TOTAL_NAME = "合计"
"""The name of a report's total row (stage `all`)."""


@dataclass(frozen=True)
class Labels:
    """The rule set's special groups and stages in report order, with the names reports print.

    Groups are the rules' `special_groups` (rules/sources.yaml); stages the values of the `stage` fact with
    their labels (rules/facts.yaml); the stage `all` is the total row.
    """

    groups: tuple[str, ...]
    group_names: dict[str, str]
    stages: tuple[str, ...]
    stage_names: dict[str, str]

    @staticmethod
    def of(rules: Any) -> Labels:
        stage = rules.facts["stage"]
        return Labels(
            groups=rules.vocabulary.group_statuses,
            group_names=dict(rules.vocabulary.group_labels),
            stages=tuple(stage.values),
            stage_names={**{v: stage.label_of(v) for v in stage.values}, "all": TOTAL_NAME},
        )

    def stage_name(self, stage: str) -> str:
        return self.stage_names.get(stage, stage)


AID_KINDS = ("grant", "waiver", "scholarship")
"""Kinds of award that count as aid: money paid or fees waived. A loan is a ceiling, not aid paid."""
REASONS = (
    "no_application",
    "in_review",
    "rejected",
    "quota_shortfall",
    "data_conflict",
    "no_award",
    "unmatched",
)
REASON_NAMES = {
    "no_application": "未申请",
    "in_review": "审核中",
    "rejected": "未通过认定",
    "quota_shortfall": "名额不足未获资助",
    "data_conflict": "数据不一致",
    "no_award": "已认定但无适用资助项目",
    "unmatched": "未匹配到在校学生",
}
LEVEL_NAMES = {"special": "特别困难", "difficult": "困难", "general": "一般困难", "none": "不困难"}
LEVEL_KEYS = ("special", "difficult", "general", "none")


# --------------------------------------------------------------------------------------- structure


@dataclass(frozen=True, slots=True)
class Column:
    """One column: its key (JSON, CSV header row 1), its Chinese heading and its type."""

    key: str
    heading: str
    type: str = "text"  # text | int | money | rate | date | code (a code beside its label: JSON only)
    width: int = 12
    labels: str = ""  # kind | rule_status | source | item: a code shown by its label in files and pages (JSON: the code)


@dataclass(slots=True)
class Section:
    """A table of the report; `rows` yields tuples in column order (a callable when streamed from the database)."""

    key: str
    title: str
    columns: Sequence[Column]
    rows: Sequence[Sequence[Any]] | Callable[[], Iterable[Sequence[Any]]]
    note: str = ""

    @property
    def shown(self) -> list[int]:
        """The columns a reader sees on a page and in the CSV and XLSX files: the codes beside their labels stay in
        the JSON only."""
        return [i for i, c in enumerate(self.columns) if c.type != "code"]

    def iter_rows(self) -> Iterator[Sequence[Any]]:
        """The rows; a streamed section runs its query again each time."""
        source = self.rows() if callable(self.rows) else self.rows
        yield from source


@dataclass(frozen=True, slots=True)
class Bar:
    label: str
    value: float
    text: str


@dataclass(frozen=True, slots=True)
class Chart:
    """A horizontal bar chart the HTML page draws as inline SVG."""

    title: str
    bars: Sequence[Bar]
    unit: str = ""
    scale_max: float | None = None  # fixed maximum (1.0 for rates); None = the largest bar


@dataclass(slots=True)
class Report:
    """A generated report: metadata that makes it reproducible, its sections and its charts."""

    kind: str
    title: str
    meta: dict[str, Any]
    sections: list[Section]
    charts: list[Chart] = field(default_factory=list)
    empty: bool = False
    message: str = ""


AIDED_DEFINITION = AIDED_DEFINITION_EN  # the JSON's wording; the Chinese report states AIDED_DEFINITION_CN


def rate(part: int, whole: int) -> float | None:
    """part / whole rounded to 4 places; None when there is nothing to cover."""
    return None if not whole else round(part / whole, 4)
