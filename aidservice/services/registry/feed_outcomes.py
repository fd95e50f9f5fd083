"""Agency outcomes: the determinations of the students a source reached, in change order, and only what it needs.

Who is listed. A determination is listed to a source when the source sent a record that reaches the student
(the student's own number, or a guardian's for the household statuses and disability) and that record was
valid in the determination's school year: `valid_from` on or before 31 August of its second year and
`valid_to` (exclusive) after 1 September of its first year, or open-ended. A record that ended before the school
year began, or a student reached only by another source, lists nothing. The school-year bounds are computed in
SQL from the `YYYY-YYYY` text of the determination (a date cast on PostgreSQL; ISO text on SQLite compares as
the dates it stores).

What an item says. The school year, level, awards (program and amount), total, evaluation date, rule-set
version, `seq` and `changed`, and how the agency can match it back to what it sent: `person`, the masked
number of the record, and `reference: {batch_id, index}`, the batch and position of that record (the
student's own record first, else the latest guardian record, valid in that school year). No student number,
school code or school name: an agency learns that one of its people is aided and how, not where they study
(the demo's student numbers carry the city code).

Paging. `seq` is assigned under the change-log lock held to commit, so paging by it has no gaps and no repeats
even while batches land. A page walks the next determinations by seq and probes each for the source's records
(cost in proportion to the page where the source's people are not rare); only when the walk (WALK_WINDOWS:
50 × limit, at most 10,000 determinations) holds too few of them does it take the rest from the set of everyone
the source reached, which costs what that set costs.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Date,
    Row,
    Select,
    String,
    and_,
    cast,
    exists,
    func,
    literal,
    or_,
    select,
)
from sqlalchemy.orm import Session, aliased

from aidservice.engine.vocabulary import Vocabulary
from aidservice.models import AgencyRecord, Determination, FeedBatch, Guardian, Student
from aidservice.services.actors import Actor
from aidservice.services.bulk import backend, in_array
from aidservice.services.errors import Forbidden, NotFound, ValidationFailed

OUTCOMES_MAX = 1000


def check_source(actor: Actor, source: str, vocabulary: Vocabulary) -> None:
    """An agency source of the rules (404) and the caller's own (403)."""
    if source not in vocabulary.agency_ids:
        raise NotFound(f"No agency source '{source}'; sources are {', '.join(vocabulary.agency_ids)}.")
    if actor.kind != "client" or actor.source != source:
        raise Forbidden(f"This endpoint is for the '{source}' agency's clients only.")


def encode_cursor(seq: int) -> str:
    """Opaque to clients: base64 of 'seq:N'."""
    return base64.urlsafe_b64encode(f"seq:{seq}".encode("ascii")).decode("ascii").rstrip("=")


def decode_cursor(cursor: str | None) -> int:
    """The last seq a client has seen (0 from the start); 422 for anything this service did not issue."""
    if cursor is None or cursor == "":
        return 0
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("ascii")
        kind, _, value = text.partition(":")
        if kind != "seq" or not value.isdigit() or len(value) > 18:
            raise ValueError(text)
        return int(value)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise ValidationFailed(
            {"cursor": ["is not a cursor this service issued; start without one"]}
        ) from None


# ---------------------------------------------------------------------------------------- valid in the year


@dataclass(frozen=True, slots=True)
class YearBounds:
    """Builds "record valid in the school year" for a school-year column, on the session's database."""

    on_pg: bool

    def _day(self, school_year: ColumnElement[Any], part: int, month_day: str) -> ColumnElement[Any]:
        year = func.substr(school_year, 1 if part == 0 else 6, 4, type_=String)
        text = year.concat(month_day)
        return cast(text, Date) if self.on_pg else text

    def valid(self, record: Any, school_year: ColumnElement[Any]) -> ColumnElement[bool]:
        """`record` (the AgencyRecord entity or an alias) was valid some day of `school_year`."""
        start, end = self._day(school_year, 0, "-09-01"), self._day(school_year, 1, "-08-31")
        return and_(record.valid_from <= end, or_(record.valid_to.is_(None), record.valid_to > start))


def valid_in_year(valid_from: date, valid_to: date | None, school_year: str) -> bool:
    """The same test in Python, for the records of one page."""
    first = int(school_year[:4])
    return valid_from <= date(first + 1, 8, 31) and (valid_to is None or valid_to > date(first, 9, 1))


# ---------------------------------------------------------------------------------------- who is listed


def _reached_by(
    source: str, guardian: Sequence[str], among: Sequence[int] | None = None, arrays: bool = False
) -> Select[Any]:
    """(student_pk, via, rid, person, valid_from, valid_to, batch_pk, record_index) for every record of this
    source that reaches a student, or only one of the students `among` (a PostgreSQL array semi-join with
    `arrays`, else an IN list). `via` is 0 for the student's own number, 1 for a guardian's (statuses of
    `guardian` only: those that reach a student through a guardian)."""
    columns = (
        AgencyRecord.id.label("rid"),
        AgencyRecord.person_mask.label("person"),
        AgencyRecord.valid_from,
        AgencyRecord.valid_to,
        AgencyRecord.batch_pk,
        AgencyRecord.record_index,
    )
    own = (
        select(Student.id.label("student_pk"), literal(0).label("via"), *columns)
        .join(AgencyRecord, AgencyRecord.person_hmac == Student.id_hmac)
        .where(AgencyRecord.source == source)
    )
    guardians = (
        select(Guardian.student_pk.label("student_pk"), literal(1).label("via"), *columns)
        .join(AgencyRecord, AgencyRecord.person_hmac == Guardian.id_hmac)
        .where(AgencyRecord.source == source, AgencyRecord.status.in_(guardian))
    )
    if among is not None:
        own = own.where(in_array(Student.id, among) if arrays else Student.id.in_(among))
        guardians = guardians.where(
            in_array(Guardian.student_pk, among) if arrays else Guardian.student_pk.in_(among)
        )
    return own.union_all(guardians)


def _reaches(
    source: str, guardian: Sequence[str], bounds: YearBounds, school_year: ColumnElement[Any]
) -> ColumnElement[bool]:
    """Whether this source sent a record valid in `school_year` about the student of the row (`Student` in the
    enclosing query).

    Two correlated EXISTS under an OR, each with an OFFSET 0: PostgreSQL then keeps both as per-row index
    probes. Without the OFFSET it turns the first into a hashed subplan, which reads every record of the
    source first; an EXISTS outside an OR it would flatten into a semi-join with everyone the source reached.
    """
    record = aliased(AgencyRecord)
    own = select(AgencyRecord.id).where(
        AgencyRecord.person_hmac == Student.id_hmac,
        AgencyRecord.source == source,
        bounds.valid(AgencyRecord, school_year),
    )
    household = (
        select(record.id)
        .join(Guardian, record.person_hmac == Guardian.id_hmac)
        .where(
            Guardian.student_pk == Student.id,
            record.source == source,
            record.status.in_(guardian),
            bounds.valid(record, school_year),
        )
    )
    return or_(own.offset(0).exists(), household.offset(0).exists())


DETERMINATION_OUTCOME = (
    Determination.seq,
    Determination.student_pk,
    Determination.school_year,
    Determination.level,
    Determination.awards,
    Determination.total_fen,
    Determination.as_of,
    Determination.rule_set_version,
    Determination.changed,
)
"""What an outcome shows; the facts and explanation of a determination (its large columns) stay behind."""
WALK_WINDOWS = ((10, 2_500), (40, 7_500))
"""Determinations a page walks, in two windows of (multiple of the limit, at most this many rows), before it
takes the rest from the set of everyone the source reached (a probe costs ~20 µs: 10,000 rows ≈ that set)."""


def outcomes(
    session: Session,
    *,
    actor: Actor,
    source: str,
    vocabulary: Vocabulary,
    cursor: str | None = None,
    limit: int = 100,
) -> dict[str, Any]:
    """Determinations of the students this source reached in their school year, in change order after the cursor."""
    check_source(actor, source, vocabulary)
    guardian = sorted(vocabulary.guardian_statuses)
    bounds = YearBounds(backend(session) == "postgresql")
    start = after = decode_cursor(cursor)
    limit = max(1, min(limit, OUTCOMES_MAX))
    rows: list[Row[Any]] = []
    for multiple, most in WALK_WINDOWS:
        window = min(multiple * limit, most)
        found, walked, last = _walk(session, source, guardian, bounds, after, limit - len(rows), window)
        rows += found
        if len(rows) >= limit or walked < window:  # the page is full, or the change log ends here
            break
        after = last
    else:
        rows += _from_reached_set(session, source, guardian, bounds, after, limit - len(rows))
    matches = _matches(session, source, guardian, rows)
    items = [_outcome(row, matches.get((row.student_pk, row.school_year))) for row in rows]
    return {"items": items, "next_cursor": encode_cursor(rows[-1].seq if rows else start)}


def _walk(
    session: Session,
    source: str,
    guardian: Sequence[str],
    bounds: YearBounds,
    after: int,
    wanted: int,
    window: int,
) -> tuple[list[Row[Any]], int, int]:
    """The first `wanted` determinations of the source's people among the `window` after seq `after`, how many
    determinations the window held and its last seq, all from one statement (one snapshot: a later statement
    could see rows commit inside a window this one saw end)."""
    taken = (
        select(*DETERMINATION_OUTCOME)
        .where(Determination.seq > after)
        .order_by(Determination.seq)
        .limit(window)
        .subquery()
    )
    # window functions run before a LIMIT of their own level: counted one level up, over the window only
    span = select(
        taken, func.count().over().label("walked"), func.max(taken.c.seq).over().label("last")
    ).subquery()
    # OFFSET 0 keeps the probes inside: flattened, the filter and the output would each evaluate them
    probed = (
        select(span, _reaches(source, guardian, bounds, span.c.school_year).label("reached"))
        .join(Student, Student.id == span.c.student_pk)
        .order_by(span.c.seq)
        .offset(0)
        .subquery()
    )
    found = session.execute(
        select(probed)
        .where(or_(probed.c.reached, probed.c.seq == probed.c.last))
        .order_by(probed.c.seq)
        .limit(wanted + 1)
    ).all()
    if not found:
        return [], 0, after
    reached = [row for row in found if row.reached][:wanted]
    # the window's last row closes the answer unless the page filled first
    return reached, found[-1].walked, found[-1].last


def _from_reached_set(
    session: Session, source: str, guardian: Sequence[str], bounds: YearBounds, after: int, wanted: int
) -> list[Row[Any]]:
    """The next determinations of the source's people after seq `after`, from the whole set it reached."""
    reached = _reached_by(source, guardian).subquery()
    return list(
        session.execute(
            select(*DETERMINATION_OUTCOME)
            .where(
                Determination.seq > after,
                exists().where(
                    reached.c.student_pk == Determination.student_pk,
                    bounds.valid(reached.c, Determination.school_year),
                ),
            )
            .order_by(Determination.seq)
            .limit(wanted)
        ).all()
    )


# ---------------------------------------------------------------------------------------- what an item says


@dataclass(frozen=True, slots=True)
class Match:
    """The record a student was reached through in a school year: masked number, batch and position."""

    person: str
    batch_id: str
    index: int


def _matches(
    session: Session, source: str, guardian: Sequence[str], rows: Sequence[Row[Any]]
) -> dict[tuple[int, str], Match]:
    """For each (student, school year) of the page, the record it was matched through: the student's own record
    valid in the year, else the latest guardian record valid in it.

    The page's students (at most OUTCOMES_MAX) go into both branches of the union, so each is an index probe
    rather than a filter on everyone the source reached."""
    years: dict[int, set[str]] = {}
    for row in rows:
        years.setdefault(row.student_pk, set()).add(row.school_year)
    if not years:
        return {}
    on_pg = backend(session) == "postgresql"
    best: dict[tuple[int, str], tuple[tuple[int, int], Any]] = {}
    for found in session.execute(_reached_by(source, guardian, among=sorted(years), arrays=on_pg)):
        for year in years[found.student_pk]:
            if not valid_in_year(found.valid_from, found.valid_to, year):
                continue
            rank, key = (-found.via, found.rid), (found.student_pk, year)
            if key not in best or rank > best[key][0]:
                best[key] = (rank, found)
    batch_ids = dict(
        session.execute(
            select(FeedBatch.id, FeedBatch.batch_id).where(
                FeedBatch.id.in_({f.batch_pk for _r, f in best.values()})
            )
        ).all()
    )
    return {
        key: Match(f.person, batch_ids.get(f.batch_pk, ""), f.record_index) for key, (_r, f) in best.items()
    }


def _outcome(row: Row[Any], match: Match | None) -> dict[str, Any]:
    return {
        "person": match.person if match else "",
        "reference": {"batch_id": match.batch_id if match else "", "index": match.index if match else -1},
        "school_year": row.school_year,
        "level": row.level,
        "awards": [{"program": a["program"], "amount": a["amount"]} for a in row.awards],
        "total": _yuan(row.total_fen),
        "as_of": row.as_of.isoformat(),
        "rule_set_version": row.rule_set_version,
        "seq": row.seq,
        "changed": row.changed,
    }


def _yuan(fen: int) -> str:
    return f"{fen // 100}.{fen % 100:02d}"


__all__ = [
    "OUTCOMES_MAX",
    "YearBounds",
    "check_source",
    "decode_cursor",
    "encode_cursor",
    "outcomes",
    "valid_in_year",
]
