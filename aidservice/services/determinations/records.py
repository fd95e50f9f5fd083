"""What a determination is: value types, stored JSON, and the hashes that decide and prove what was stored.

Determinations are each student's level and awards for a school year, stored immutably, superseded never
updated. A new determination is stored only when its level, awards (program and amount) or facts differ
from the student's current one (`outcome_hash`), so re-running changes nothing when nothing changed.
`content_hash` covers everything stored (`content`), so anyone can recompute it from a stored row.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Any

from aidservice.models import Determination
from aidservice.services import audit
from aidservice.services.determinations.facts_assembly import StudentFacts, snapshot_json

if TYPE_CHECKING:
    from aidservice.engine import Award, Reason, Result

AwardKey = tuple[tuple[str, str | None], ...]
"""(program, amount as "1250.00" or None), sorted: what `changed` compares."""


@dataclass(slots=True)
class Candidate:
    """A determination about to be stored unless it reproduces the current one."""

    student: StudentFacts
    level: str
    awards: list[dict[str, Any]]
    award_key: AwardKey
    total_fen: int
    explanation: dict[str, Any]
    awards_text: str
    explanation_text: str
    facts_text: str
    outcome_hash: str


@dataclass(frozen=True, slots=True)
class Previous:
    """The current determination a candidate would supersede (its award key is read only when needed)."""

    id: int
    level: str
    outcome_hash: str | None
    award_key: AwardKey | None = None


@dataclass(frozen=True, slots=True)
class Batch:
    """What is stored together: the evaluation context and the cause."""

    school_year: str
    as_of: date
    rule_set_version: str
    cause: str


@dataclass(slots=True)
class Stored:
    """Determinations written in one call: their sequence numbers and content hashes, in seq order."""

    seqs: list[int] = field(default_factory=list)
    hashes: list[str] = field(default_factory=list)
    changed: int = 0

    @property
    def digest(self) -> str:
        """One hash over the batch's content hashes, for its audit event."""
        return hashlib.sha256("".join(self.hashes).encode("ascii")).hexdigest()


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _canonical(value: Any) -> str:
    return audit.canonical(value)


class Renderer:
    """Awards and explanations as stored JSON, cached: most students share a handful of award lists."""

    def __init__(self) -> None:
        self._awards: dict[tuple[Award, ...], tuple[list[dict[str, Any]], str, AwardKey, str]] = {}
        self._explanations: dict[tuple[tuple[Reason, ...], tuple[str, ...]], tuple[dict[str, Any], str]] = {}

    def awards(self, awards: Sequence[Award]) -> tuple[list[dict[str, Any]], str, AwardKey, str]:
        """(stored awards, their canonical text, the award key, the key's canonical text)."""
        key = tuple(awards)
        hit = self._awards.get(key)
        if hit is None:
            stored = [_award_json(a) for a in awards]
            award_key = tuple(sorted((a["program"], a["amount"]) for a in stored))
            hit = (stored, _canonical(stored), award_key, _canonical([list(k) for k in award_key]))
            self._awards[key] = hit
        return hit

    def explanation(self, reasons: Sequence[Reason], missing: Sequence[str]) -> tuple[dict[str, Any], str]:
        """(stored explanation {reasons, missing}, its canonical text)."""
        key = (tuple(reasons), tuple(missing))
        hit = self._explanations.get(key)
        if hit is None:
            value = {"reasons": [_reason_json(r) for r in reasons], "missing": list(missing)}
            hit = (value, _canonical(value))
            self._explanations[key] = hit
        return hit

    def candidate(self, student: StudentFacts, result: Result) -> Candidate:
        """The determination this evaluation result would store."""
        awards, awards_text, award_key, key_text = self.awards(result.awards)
        explanation, explanation_text = self.explanation(result.reasons, result.missing)
        facts_text = snapshot_json(student.snapshot)
        return Candidate(
            student,
            result.level,
            awards,
            award_key,
            result.total_fen,
            explanation,
            awards_text,
            explanation_text,
            facts_text,
            outcome_hash(result.level, key_text, facts_text),
        )


def _award_json(award: Award) -> dict[str, Any]:
    amount = award.amount
    return {
        "program": award.program,
        "name": award.name,
        "kind": award.kind,
        "amount": None if amount is None else str(amount),
        "basis": award.basis,
        "status": award.status,
        "missing": list(award.missing),
    }


def _reason_json(reason: Reason) -> dict[str, Any]:
    return {
        "clause": reason.clause,
        "level": reason.level,
        "label": reason.label,
        "status": reason.status,
        "basis": reason.basis,
    }


def outcome_hash(level: str, award_key_text: str, facts_text: str) -> str:
    """sha256 of canonical {awards: [[program, amount]...], facts, level}: what decides whether to store."""
    return sha256(f'{{"awards":{award_key_text},"facts":{facts_text},"level":{json.dumps(level)}}}')


def content_text(candidate: Candidate, batch: Batch) -> str:
    """Canonical JSON of the determination's content, built from the parts' canonical texts.

    Equal to `canonical(content(row))` of the stored row (a test holds them equal), so anyone can
    recompute `content_hash` from what was stored.
    """
    return (
        f'{{"as_of":"{batch.as_of.isoformat()}","awards":{candidate.awards_text},'
        f'"explanation":{candidate.explanation_text},"facts":{candidate.facts_text},'
        f'"level":{json.dumps(candidate.level)},"rule_set_version":{json.dumps(batch.rule_set_version)},'
        f'"school_year":{json.dumps(batch.school_year)},"student_pk":{candidate.student.pk},'
        f'"total_fen":{candidate.total_fen}}}'
    )


def content(row: Determination) -> dict[str, Any]:
    """What `content_hash` covers, read back from a stored determination."""
    return {
        "as_of": row.as_of.isoformat(),
        "awards": row.awards,
        "explanation": row.explanation,
        "facts": row.facts,
        "level": row.level,
        "rule_set_version": row.rule_set_version,
        "school_year": row.school_year,
        "student_pk": row.student_pk,
        "total_fen": row.total_fen,
    }


def content_hash_of(row: Determination) -> str:
    """Recompute a stored determination's content hash (it must equal `row.content_hash`)."""
    return sha256(_canonical(content(row)))


def award_key_of(awards: Iterable[Mapping[str, Any]]) -> AwardKey:
    """The award key of stored awards."""
    return tuple(sorted((a["program"], a["amount"]) for a in awards))
