"""What a columnar run carries: its constants (`Context`), the students a chunk covers (`Scope`) and its
counts (`RegionResult`, with a dry run's `Diff`)."""

from __future__ import annotations

from collections import Counter as Tally
from dataclasses import dataclass, field
from datetime import date
from typing import Any, TypedDict

from aidservice.engine import LEVELS, RuleSet
from aidservice.services.actors import Actor
from aidservice.services.bulk import in_array
from aidservice.services.determinations.records import Batch


@dataclass(frozen=True, slots=True)
class Context:
    """Everything constant during a run."""

    rules: RuleSet
    batch: Batch
    prefix: str | None
    dry_run: bool
    actor: Actor
    backend: str


@dataclass(frozen=True, slots=True)
class Scope:
    """Which students a chunk covers: a primary-key range (region runs) or a list (feed batches)."""

    lo: int = 0
    hi: int | None = 0  # None: every student from `lo` on
    pks: tuple[int, ...] | None = None
    array: bool = False  # PostgreSQL: the list as one array (SQLite: an IN list, within its parameter limit)

    def on(self, column: Any) -> Any:
        """SQL condition on a student primary key column."""
        if self.pks is None:
            return column >= self.lo if self.hi is None else column.between(self.lo, self.hi)
        if self.array:
            return in_array(column, self.pks)
        return column.in_(self.pks)


class DiffTotals(TypedDict):
    """A dry run's diff as JSON, without its example students (what the what-if summary keeps)."""

    students_changing: int
    facts_only: int
    level_up: int
    level_down: int
    level_moves: dict[str, int]  # "from->to": students
    programs_gained: dict[str, int]
    programs_lost: dict[str, int]
    money_delta: dict[str, str]  # program: yuan, e.g. "-1250.00"


class DiffJson(DiffTotals):
    """A dry run's diff as JSON, with up to EXAMPLES students (student_id, pk, level, gained, lost, delta)."""

    examples: list[dict[str, Any]]


@dataclass(slots=True)
class Diff:
    """What a run would change: level moves, programs gained and lost, money delta by program (fen)."""

    students: int = 0  # students whose level or awards would change
    facts_only: int = 0  # new facts (e.g. a newer agency record), same level and awards
    level_moves: Tally[tuple[str, str]] = field(default_factory=Tally)
    gained: Tally[str] = field(default_factory=Tally)
    lost: Tally[str] = field(default_factory=Tally)
    delta_fen: Tally[str] = field(default_factory=Tally)
    examples: list[dict[str, Any]] = field(default_factory=list)

    @property
    def up(self) -> int:
        return sum(n for (a, b), n in self.level_moves.items() if LEVELS.index(b) > LEVELS.index(a))

    @property
    def down(self) -> int:
        return sum(n for (a, b), n in self.level_moves.items() if LEVELS.index(b) < LEVELS.index(a))

    def totals(self) -> DiffTotals:
        """JSON-ready: counts, moves as 'from->to', money in yuan strings."""
        return {
            "students_changing": self.students,
            "facts_only": self.facts_only,
            "level_up": self.up,
            "level_down": self.down,
            "level_moves": {f"{a}->{b}": n for (a, b), n in sorted(self.level_moves.items())},
            "programs_gained": dict(sorted(self.gained.items())),
            "programs_lost": dict(sorted(self.lost.items())),
            "money_delta": {p: yuan(v) for p, v in sorted(self.delta_fen.items())},
        }

    def as_json(self) -> DiffJson:
        """`totals` and the example students."""
        return {**self.totals(), "examples": self.examples}


@dataclass(slots=True)
class RegionResult:
    """The run's counts; `diff` for a dry run."""

    job_key: str | None
    region: str | None
    as_of: date
    rule_set_version: str
    dry_run: bool
    students: int = 0
    stored: int = 0
    changed: int = 0
    skipped: int = 0  # roster rows the rules cannot read (unknown stage, grade out of range)
    resumed_after: int = 0
    already_done: bool = False
    diff: Diff | None = None

    def counts(self) -> dict[str, int]:
        return {
            "students": self.students,
            "stored": self.stored,
            "changed": self.changed,
            "skipped": self.skipped,
        }


def yuan(fen: int) -> str:
    sign, fen = ("-", -fen) if fen < 0 else ("", fen)
    return f"{sign}{fen // 100}.{fen % 100:02d}"
