"""The facts a stored determination is made from, assembled set-based from the roster, schools and agency records.

DESIGN.md "Data", read from the rule set's vocabulary (rules/sources.yaml): household statuses count
when the record's person is the student or one of the student's guardians; personal statuses only on the
student's own number; a guardian's personal status with a `guardian` fact gives the student that fact
(`disabled` -> `disabled_parent`); a record's attributes become the facts they are bound to
(`disability_grade`). Only current records (not superseded) valid on the evaluation date
(`valid_from <= date < valid_to`, open ends allowed) count.

Each fact's snapshot is `{value, source, record_ids}`. Roster and school booleans that are false,
and agency statuses nobody reported, are left out: the rules default every boolean to false, so the
snapshot still replays to the same facts, at about half the size (a province stores millions).
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from aidservice.engine import FactsError, RuleSet
from aidservice.engine.facts import convert, to_json
from aidservice.engine.vocabulary import Vocabulary
from aidservice.models import AgencyRecord, Guardian, School, Student
from aidservice.services.bulk import where_in

ROSTER_FACTS = (
    "stage",
    "grade",
    "boarding",
    "rural_hukou",
    "agri_major",
    "arts_performance_major",
    "retired_soldier",
    "salaried",
)
SCHOOL_FACTS = ("city_code", "inclusive_kindergarten", "tuition_fee", "central_university")

ROSTER_COLUMNS = (
    Student.id,
    Student.student_id,
    Student.id_mask,
    Student.id_hmac,
    Student.school_code,
    *(getattr(Student, name) for name in ROSTER_FACTS),
    School.city_code,
    School.inclusive_kindergarten,
    School.tuition_fee_fen,
    School.central_university,
)
"""Columns of a roster row, in this order: the students-join-schools query of both paths reads them."""


@dataclass(frozen=True, slots=True)
class Match:
    """A current, valid agency record that reaches a student, directly or through a guardian."""

    student_pk: int
    record_id: int
    source: str
    status: str
    attributes: Mapping[str, Any]
    via_guardian: bool


@dataclass(slots=True)
class StudentFacts:
    """One student's facts: engine values (internal units) and the snapshot stored with the determination."""

    pk: int
    student_id: str
    id_mask: str  # region and check character: facts never carry the full number
    school_code: str
    values: dict[str, object]
    snapshot: dict[str, dict[str, Any]] = field(default_factory=dict)


def current_record(superseded_by: Any) -> Any:
    """SQL condition: a record nothing superseded.

    Not written `IS NULL`: nearly every record is current, and a planner with stale statistics
    that ANDs the superseded_by index into each lookup reads all of them per probe.
    """
    return func.coalesce(superseded_by, 0) == 0


def valid_on(day: date) -> Any:
    """SQL condition: a current agency record valid on `day` (open ends allowed)."""
    return and_(current_record(AgencyRecord.superseded_by), in_force(day))


def in_force(day: date) -> Any:
    """SQL condition: an agency record's validity covers `day`, current or not."""
    return and_(
        or_(AgencyRecord.valid_from.is_(None), AgencyRecord.valid_from <= day),
        or_(AgencyRecord.valid_to.is_(None), AgencyRecord.valid_to > day),
    )


def roster_rows(session: Session, student_pks: Sequence[int]) -> list[Any]:
    """Students joined with their schools: one query per IN chunk."""
    rows: list[Any] = []
    for condition in where_in(session, Student.id, student_pks):
        rows.extend(
            session.execute(
                select(*ROSTER_COLUMNS)
                .join(School, School.code == Student.school_code)
                .where(condition)
                .order_by(Student.id)
            ).all()
        )
    return rows


def matches_for(
    session: Session, rows: Sequence[Any], day: date, vocabulary: Vocabulary
) -> dict[int, list[Match]]:
    """Agency records reaching these students through their own or their guardians' keyed hashes."""
    people: dict[str, list[tuple[int, bool]]] = defaultdict(list)
    for row in rows:
        people[row.id_hmac].append((row.id, False))
    for condition in where_in(session, Guardian.student_pk, [row.id for row in rows]):
        query = select(Guardian.student_pk, Guardian.id_hmac).where(condition)
        for pk, hmac in session.execute(query).all():
            people[hmac].append((pk, True))
    found: dict[int, list[Match]] = defaultdict(list)
    for condition in where_in(session, AgencyRecord.person_hmac, list(people)):
        query = select(
            AgencyRecord.id,
            AgencyRecord.person_hmac,
            AgencyRecord.source,
            AgencyRecord.status,
            AgencyRecord.attributes,
        ).where(condition, valid_on(day))
        for record_id, hmac, source, status, attributes in session.execute(query).all():
            for pk, via_guardian in people[hmac]:
                if not via_guardian or status in vocabulary.guardian_statuses:
                    found[pk].append(Match(pk, record_id, source, status, attributes or {}, via_guardian))
    return found


def assemble(
    session: Session,
    student_pks: Iterable[int],
    day: date,
    rules: RuleSet,
    declared: Mapping[int, Mapping[str, object]] | None = None,
) -> list[StudentFacts]:
    """Facts of these students on `day` under `rules` (its fact catalogue and vocabulary): one query each for
    students+schools, guardians and agency records."""
    rows = roster_rows(session, sorted(set(student_pks)))
    matches = matches_for(session, rows, day, rules.vocabulary)
    declared = declared or {}
    return [
        build(row, matches.get(row.id, ()), rules.facts, rules.vocabulary, declared.get(row.id))
        for row in rows
    ]


def build(
    row: Any,
    matches: Iterable[Match],
    catalogue: Mapping[str, Any],
    vocabulary: Vocabulary,
    declared: Mapping[str, object] | None = None,
) -> StudentFacts:
    """One student's facts from a roster row (see ROSTER_COLUMNS) and the agency records that reach them."""
    facts = StudentFacts(row.id, row.student_id, row.id_mask, row.school_code, {})
    for name in ROSTER_FACTS:
        _put(facts, catalogue, name, getattr(row, name), "roster")
    city = row.city_code if row.city_code in _enum_values(catalogue, "city_code") else None
    _put(facts, catalogue, "city_code", city, "school")
    _put(facts, catalogue, "inclusive_kindergarten", bool(row.inclusive_kindergarten), "school")
    _put(facts, catalogue, "tuition_fee", row.tuition_fee_fen, "school")
    _put(facts, catalogue, "central_university", bool(row.central_university), "school")
    _agency(facts, catalogue, vocabulary, matches)
    if declared:
        _declared(facts, catalogue, declared)
    return facts


def _enum_values(catalogue: Mapping[str, Any], name: str) -> tuple[str, ...]:
    spec = catalogue.get(name)
    return tuple(spec.values) if spec is not None else ()


def _put(
    facts: StudentFacts,
    catalogue: Mapping[str, Any],
    name: str,
    value: object,
    source: str,
    record_ids: Sequence[int] = (),
) -> None:
    """Set a fact the rule set knows, with its snapshot entry (JSON form of the value); a false roster or
    school boolean is the default and is not recorded."""
    spec = catalogue.get(name)
    if spec is None:
        return
    facts.values[name] = value
    if value is False and source in ("roster", "school"):
        return
    facts.snapshot[name] = {
        "value": _json_value(spec, value),
        "source": source,
        "record_ids": sorted(record_ids),
    }


def _json_value(spec: Any, value: object) -> object:
    """Money as "1250.00" (fast: most snapshots carry a fee); other numbers as the engine renders them."""
    if value is None or spec.type in ("bool", "enum", "int"):
        return value
    if spec.type != "money" or spec.decimals != 2:
        return to_json(spec, value)
    fen = int(value)  # type: ignore[call-overload]
    sign, fen = ("-", -fen) if fen < 0 else ("", fen)
    return f"{sign}{fen // 100}.{fen % 100:02d}"


def _agency(
    facts: StudentFacts, catalogue: Mapping[str, Any], vocabulary: Vocabulary, matches: Iterable[Match]
) -> None:
    """Statuses from agency records: household via the student or a guardian, personal on the student only."""
    for fact, (value, source, ids) in agency_facts(matches, vocabulary, catalogue).items():
        _put(facts, catalogue, fact, value, source, ids)


def agency_facts(
    matches: Iterable[Match], vocabulary: Vocabulary, catalogue: Mapping[str, Any]
) -> dict[str, tuple[object, str, list[int]]]:
    """{fact: (value, source, record ids)} from the records that reach one student (the matching rules).

    A record's attribute bound to a fact (`disability_grade`) counts on the student's own records only; of
    several, the smallest value counts (the most severe disability grade)."""
    found: dict[str, tuple[object, str, list[int]]] = {}
    measured: dict[str, list[tuple[int, int, str]]] = defaultdict(list)
    for match in matches:
        fact = match.status
        status = vocabulary.statuses.get(match.status)
        if status is None:
            continue  # a status the rules do not name (any more) gives no fact
        if match.via_guardian:
            if status.guardian_fact:
                fact = status.guardian_fact
            elif not status.household:
                continue
        else:
            for attribute in status.attributes:
                value = attribute_value(catalogue.get(attribute.fact), match.attributes.get(attribute.name))
                if value is not None:
                    measured[attribute.fact].append((value, match.record_id, match.source))
        _value, _source, ids = found.setdefault(fact, (True, match.source, []))
        ids.append(match.record_id)
    for fact, values in measured.items():
        value, record_id, source = min(values)
        found[fact] = (value, source, [record_id])
    return found


def attribute_value(spec: Any, value: object) -> int | None:
    """An attribute's value as its fact reads it: an integer within the fact's bounds, else none."""
    if spec is None or type(value) is not int:
        return None
    if (spec.min is not None and value < spec.min) or (spec.max is not None and value > spec.max):
        return None
    return value


def _declared(facts: StudentFacts, catalogue: Mapping[str, Any], declared: Mapping[str, object]) -> None:
    """Facts the application declares under the signed commitment; checked like any raw fact."""
    errors: dict[str, list[str]] = {}
    for name, raw in declared.items():
        spec = catalogue.get(name)
        if spec is None:
            errors[name] = ["unknown fact"]
            continue
        try:
            value = None if raw is None else convert(spec, raw)
        except ValueError as exc:
            errors[name] = [str(exc)]
            continue
        _put(facts, catalogue, name, value, "declared")
    if errors:
        raise FactsError(errors)


def snapshot_json(snapshot: Mapping[str, Mapping[str, Any]]) -> str:
    """The snapshot as canonical JSON (sorted keys, no spaces), built fast: what the outcome hash covers.

    Equal to `services.audit.canonical(snapshot)` (a test holds them equal).
    """
    return "{" + ",".join(entry_json(name, snapshot[name]) for name in sorted(snapshot)) + "}"


def entry_json(name: str, entry: Mapping[str, Any]) -> str:
    """One fact's `"name":{"record_ids":[..],"source":"..","value":..}` in canonical form."""
    ids = ",".join(map(str, sorted(entry["record_ids"])))
    return f'"{name}":{{"record_ids":[{ids}],"source":"{entry["source"]}","value":{_scalar(entry["value"])}}}'


_SCALARS: dict[object, str] = {True: "true", False: "false", None: "null"}


def _scalar(value: object) -> str:
    if value is True or value is False or value is None:
        return _SCALARS[value]
    if type(value) is int:
        return str(value)
    return json.dumps(value, ensure_ascii=False)
