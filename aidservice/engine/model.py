"""The rule set as typed, immutable data: what the loader builds and the evaluators read."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from fractions import Fraction
from typing import TYPE_CHECKING

from .result import Citation
from .vocabulary import Vocabulary
from .where import Where as Where

if TYPE_CHECKING:
    from .expr import Node

FACT_TYPES = ("bool", "int", "number", "money", "enum")
PARAM_TYPES = ("bool", "int", "number", "money")
STATUSES = ("confirmed", "provisional")
PAYMENTS = ("semesters", "monthly_10", "none")
QUOTA_SORT_KEYS = ("special_group", "level", "per_capita_income", "applied_at")
"""The keys a rule set's `procedure.quota_order` may list (the engine knows how to sort by each)."""


@dataclass(frozen=True, slots=True)
class Document:
    id: str
    title: str
    number: str
    issued: date | None = None
    url: str | None = None
    issuer: str = ""  # the issuing body (发文机关)
    issued_as: str = ""  # the issue date as written: YYYY-MM-DD, or YYYY-MM / YYYY when only that is known


@dataclass(frozen=True, slots=True)
class FactSpec:
    """A fact of the catalogue; numbers are held as integers scaled by `scale`."""

    name: str
    type: str
    label: str
    source: str
    required: bool = False
    values: tuple[str, ...] = ()
    min: Fraction | None = None
    max: Fraction | None = None
    decimals: int = 0
    description: str = ""
    where: Where | None = None
    value_labels: tuple[tuple[str, str], ...] = ()  # enum value -> its label, as the rules name it

    def label_of(self, value: object) -> str:
        """The label of an enum value (小学 for primary), or the value itself when the rules give none."""
        return next((label for v, label in self.value_labels if v == value), str(value))

    @property
    def scale(self) -> int:
        """Internal integer = value × scale (money in fen)."""
        return int(10**self.decimals)  # int ** int is typed Any (a negative power is a float)

    @property
    def numeric(self) -> bool:
        return self.type in ("int", "number", "money")

    @property
    def default(self) -> object:
        """Booleans default to false; anything else missing is unknown."""
        return False if self.type == "bool" else None


@dataclass(frozen=True, slots=True)
class Dated:
    """One value of a parameter over an inclusive date range (None = open)."""

    start: date | None
    end: date | None
    value: object  # internal: scaled int for numbers, bool, or None (no value)
    status: str
    note: str = ""
    basis: tuple[Citation, ...] = ()  # its own citation, when it has one; else the parameter's

    def holds(self, on: date) -> bool:
        return (self.start is None or self.start <= on) and (self.end is None or on <= self.end)


@dataclass(frozen=True, slots=True)
class Parameter:
    name: str
    type: str
    label: str
    status: str
    note: str
    basis: tuple[Citation, ...]
    key: str | None  # the enum fact this parameter is keyed by
    series: dict[str | None, tuple[Dated, ...]]  # key value (None when unkeyed) -> ranges
    decimals: int = 0
    unit: str = ""
    description: str = ""
    where: Where | None = None
    value_labels: tuple[tuple[str, str], ...] = ()  # enum value -> its label, as the rules name it

    def label_of(self, value: object) -> str:
        """The label of an enum value (小学 for primary), or the value itself when the rules give none."""
        return next((label for v, label in self.value_labels if v == value), str(value))

    @property
    def scale(self) -> int:
        return int(10**self.decimals)  # int ** int is typed Any (a negative power is a float)

    def at(self, on: date, key: str | None = None) -> Dated | None:
        """The range in force on `on` for `key`, or None when there is no value that day."""
        for dated in self.series.get(key, ()):
            if dated.holds(on):
                return dated if dated.value is not None else None
        return None


@dataclass(frozen=True, slots=True)
class Derived:
    name: str
    type: str
    label: str
    expr: Node
    decimals: int = 0
    where: Where | None = None


@dataclass(frozen=True, slots=True)
class Clause:
    id: str
    level: str
    label: str
    when: Node
    status: str
    note: str
    basis: tuple[Citation, ...]
    where: Where | None = None


@dataclass(frozen=True, slots=True)
class Effective:
    """An inclusive date range during which a program or amount case applies."""

    start: date | None
    end: date | None

    def holds(self, on: date) -> bool:
        return (self.start is None or self.start <= on) and (self.end is None or on <= self.end)


@dataclass(frozen=True, slots=True)
class AmountCase:
    value: Node
    when: Node | None = None
    label: str = ""
    status: str = "confirmed"
    note: str = ""
    basis: tuple[Citation, ...] = ()
    effective: Effective | None = None
    where: Where | None = None


@dataclass(frozen=True, slots=True)
class Program:
    id: str
    name: str
    kind: str
    when: Node
    amount: tuple[AmountCase, ...]
    status: str
    note: str
    basis: tuple[Citation, ...]
    payment: str = "semesters"
    stages: tuple[str, ...] = ()
    effective: Effective | None = None
    description: str = ""
    where: Where | None = None


@dataclass(frozen=True, slots=True)
class Combination:
    id: str
    exclusive: tuple[str, ...]  # earlier programs win
    status: str
    note: str
    basis: tuple[Citation, ...]
    where: Where | None = None


@dataclass(frozen=True, slots=True)
class Coverage:
    """The inclusive date range the rule set describes (policy §0); outside it the engine refuses to evaluate."""

    start: date
    end: date
    where: Where | None = None

    def holds(self, on: date) -> bool:
        return self.start <= on <= self.end

    def __str__(self) -> str:
        return f"{self.start.isoformat()} to {self.end.isoformat()}"


UNBOUNDED = Coverage(date.min, date.max)
"""The coverage of a published rule set from before rule sets declared one (see loader.load_texts)."""


@dataclass(frozen=True, slots=True)
class Provenance:
    """Status, note and citations of one procedure setting, for `aid rules check` and /api/v1/rules."""

    status: str
    note: str
    basis: tuple[Citation, ...]
    where: Where | None = None


@dataclass(frozen=True, slots=True)
class Procedure:
    """The identification and quota procedure as policy (rules/procedure.yaml, the `procedure:` section).

    `notice_working_days`: length of the public notice (公示) in working days. `quota_order`: the keys a
    capped program's candidates are ranked by (QUOTA_SORT_KEYS; `special_group` always first, 应助尽助).
    `guide_ratios`: stage -> the parameter holding its guide share of enrolment (动态调整资助比例); a stage
    absent here has no guide. `provenance`: setting name -> its status, note and basis.
    """

    notice_working_days: int
    quota_order: tuple[str, ...]
    guide_ratios: dict[str, str] = field(default_factory=dict)
    provenance: dict[str, Provenance] = field(default_factory=dict)
    where: Where | None = None


@dataclass(frozen=True, slots=True)
class Rules:
    """Everything loaded from one rules directory; evaluators compile from this."""

    version: str
    documents: dict[str, Document]
    facts: dict[str, FactSpec]
    parameters: dict[str, Parameter]
    derived: dict[str, Derived]
    clauses: tuple[Clause, ...]  # highest level first, file order within a level
    level_labels: dict[str, str]
    programs: tuple[Program, ...]
    combinations: tuple[Combination, ...]
    coverage: Coverage
    files: dict[str, str] = field(default_factory=dict)  # relative path -> text, for publishing
    vocabulary: Vocabulary = field(default_factory=Vocabulary)  # sources and special groups (sources.yaml)
    procedure: Procedure | None = None  # None only in a published set stored before procedure was policy
