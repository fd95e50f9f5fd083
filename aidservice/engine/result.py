"""Evaluation results: what the engine tells its callers about one student."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

LEVELS: tuple[str, ...] = ("none", "general", "difficult", "special")
"""Identification levels, lowest first; the index is the level's rank."""

KINDS: tuple[str, ...] = ("grant", "waiver", "scholarship", "loan")
COUNTED_KINDS: frozenset[str] = frozenset({"grant", "waiver", "scholarship"})
"""Kinds whose amounts make up `total`; loans are ceilings, not money paid."""


def fen_to_yuan(fen: int | None) -> Decimal | None:
    """Turn integer fen into exact yuan with two places."""
    if fen is None:
        return None
    return Decimal(fen).scaleb(-2)


@dataclass(frozen=True, slots=True)
class Citation:
    """A policy basis: document and clause."""

    document: str
    number: str
    title: str
    clause: str

    def __str__(self) -> str:
        """`教财〔2018〕16号 第六条`; a document without a number ("无文号") by its title: `《…》 第29项`."""
        name = self.number if self.number and self.number != "无文号" else f"《{self.title}》"
        return f"{name} {self.clause}".strip()


@dataclass(frozen=True, slots=True)
class Reason:
    """A clause that fired: the student's level is explained by these."""

    clause: str
    level: str
    label: str
    status: str
    basis: str


@dataclass(frozen=True, slots=True)
class Award:
    """One program awarded; `amount` is None when a fact it needs is unknown."""

    program: str
    name: str
    kind: str
    amount_fen: int | None
    basis: str
    status: str
    missing: tuple[str, ...] = ()

    @property
    def amount(self) -> Decimal | None:
        return fen_to_yuan(self.amount_fen)


@dataclass(frozen=True, slots=True)
class TraceEntry:
    """One rule item evaluated, with what it read and what it decided."""

    item: str  # "clause:special_orphan", "program:preschool_aid", "amount:preschool_aid#0", ...
    label: str
    result: object  # True / False / None (unknown) for conditions, amount in fen for amounts
    facts: dict[str, object]  # fact (and derived) values read, None = unknown
    parameters: list[dict[str, object]]  # {name, key, value, from, to, status, basis}
    missing: tuple[str, ...] = ()
    status: str = "confirmed"
    basis: str = ""
    note: str = ""


@dataclass(slots=True)
class Result:
    """The engine's answer for one student on one date."""

    rule_set_version: str
    as_of: date
    level: str
    reasons: list[Reason]
    awards: list[Award]
    missing: list[str] = field(default_factory=list)
    trace: list[TraceEntry] | None = None

    @property
    def total_fen(self) -> int:
        return sum(a.amount_fen for a in self.awards if a.kind in COUNTED_KINDS and a.amount_fen is not None)

    @property
    def total(self) -> Decimal:
        return Decimal(self.total_fen).scaleb(-2)
