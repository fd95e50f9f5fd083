"""Agency feeds: batches of register records in, aid outcomes of the people they concern out.

A batch is applied in one transaction with its `feed_batches` row: the row stores the canonical
body hash and the answer, so a replay of the same batch_id and body returns the first answer and
changes nothing, and another body under the same batch_id is a conflict. Records are validated one
by one in `feed_records` (rejected by index and field, the others applied), inserted in bulk (COPY on PostgreSQL), supersede the current record for the same source, person and
status (one probe query and one UPDATE), and are matched to students through the keyed hash of the
number (one query). Under the change-log locks, the students whose agency facts on the evaluation
date differ before and after the batch (a value, not just the record that states it), and matched
students with no determination yet, are re-determined before the transaction ends; the others keep
their determination, whose snapshot still names a record stating the same fact.

Only records inside the rules' coverage are matched (and so counted in `matched_students` and re-determined);
records outside it are stored, rationed per source per day, and tell the agency nothing (feed_entitlement).
The outcomes the agencies read back are in feed_outcomes.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from aidservice.metrics import count_feed_batch
from aidservice.models import AgencyRecord, FeedBatch, Guardian, Student
from aidservice.services import audit
from aidservice.services.actors import Actor
from aidservice.services.applications.semester import flag_after_agency_change
from aidservice.services.bulk import NULL, backend, copy_escape, copy_text, insert_many, set_many, where_in
from aidservice.services.context import Settings
from aidservice.services.determinations.facts_assembly import current_record
from aidservice.services.determinations.store import change_log_head, lock
from aidservice.services.determinations.students import redetermine_students
from aidservice.services.errors import Conflict, DomainError, ValidationFailed
from aidservice.services.registry.births import record_births
from aidservice.services.registry.feed_entitlement import sort_out
from aidservice.services.registry.feed_outcomes import (
    OUTCOMES_MAX,
    check_source,
    decode_cursor,
    encode_cursor,
    outcomes,
)
from aidservice.services.registry.feed_records import ParsedRecord, RecordChecker

MAX_RECORDS = 10_000
BATCH_ID_MAX = 100  # the cause "feed:<source>/<batch_id>" and audit subjects stay within 160 characters
BODY_FIELDS = frozenset({"batch_id", "records"})
BATCH_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]*\Z")


class PayloadTooLarge(DomainError):
    """More records in one batch than the service takes."""

    status = 413
    title = "Payload too large"
    type_suffix = "payload-too-large"


@dataclass(frozen=True, slots=True)
class BatchOutcome:
    """The answer to a batch, and whether it is the stored answer to an earlier identical request."""

    response: dict[str, Any]
    replayed: bool = False


# ---------------------------------------------------------------------------------------- validation


def check_body(body: object) -> tuple[str, list[Any]]:
    """The batch envelope: `{batch_id, records}`; 413 over the record limit, 422 for anything malformed."""
    if not isinstance(body, Mapping):
        raise ValidationFailed({"body": ["must be an object {batch_id, records}"]})
    errors: dict[str, list[str]] = {key: ["unknown field"] for key in body if key not in BODY_FIELDS}
    batch_id, records = body.get("batch_id"), body.get("records")
    if isinstance(records, list) and len(records) > MAX_RECORDS:
        raise PayloadTooLarge(
            f"A batch may carry at most {MAX_RECORDS} records; this one has {len(records)}. Split it into batches."
        )
    if batch_id is None:
        errors["batch_id"] = ["is required"]
    elif (
        not isinstance(batch_id, str)
        or not 1 <= len(batch_id) <= BATCH_ID_MAX
        or not BATCH_ID.match(batch_id)
    ):
        errors["batch_id"] = [
            f"must be 1-{BATCH_ID_MAX} letters, digits or ._:- (starting with a letter or digit)"
        ]
    if records is None:
        errors["records"] = ["is required"]
    elif not isinstance(records, list):
        errors["records"] = ["must be a list of records"]
    if errors:
        raise ValidationFailed(errors)
    return batch_id, records  # type: ignore[return-value]


def body_hash(body: Mapping[str, Any]) -> str:
    """sha256 of the canonical JSON of the body: the same batch sent again hashes the same.

    An integer past Python's limit on digits written out (4,300) cannot be hashed: only a Python caller can
    hand one over (the JSON parser does not), and the batch is refused whole, naming `records`.
    """
    try:
        text = audit.canonical(dict(body))
    except ValueError:
        raise ValidationFailed(
            {"records": ["hold an integer too long to handle; numbers in a record are small"]}
        ) from None
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


# ---------------------------------------------------------------------------------------- applying


def apply_batch(
    session: Session,
    *,
    actor: Actor,
    settings: Settings,
    source: str,
    body: Mapping[str, Any],
    request_id: str | None = None,
) -> BatchOutcome:
    """Apply one agency batch in the caller's transaction (the caller commits once)."""
    vocabulary = settings.rules.vocabulary
    check_source(actor, source, vocabulary)
    batch_id, raw_records = check_body(body)
    digest = body_hash(body)
    lock(session, f"feed:{source}")  # batches of a source apply one at a time
    earlier = _earlier(session, source, batch_id, digest)
    if earlier is not None:
        count_feed_batch(source, "replayed")
        return earlier
    if backend(session) == "postgresql":
        # the batch's probe queries are estimated above jit_above_cost, yet each probe is one index lookup:
        # compiling them (about 20 ms a query) costs more than it saves
        session.execute(text("SET LOCAL jit = off"))
    checker = RecordChecker(settings.rules, source, settings.id_hmac_key, settings.today or date.today())
    checked = checker.check(raw_records)
    sorted_out = sort_out(session, source, checked.records, settings.rules.rules.coverage)
    rejected = sorted([*checked.rejected, *sorted_out.refused], key=lambda r: r.index)
    batch = _batch_row(session, actor, source, batch_id, digest, len(raw_records))
    new_ids = _store_records(session, batch.id, source, sorted_out.stored)
    record_births(session, raw_records, sorted_out.stored, settings.current_date())  # dropout control's ages
    reached = matched_students(session, sorted_out.stored, vocabulary.guardian_statuses)
    # records outside the coverage tell the agency nothing: not counted, no first determination (feed_entitlement)
    students = (
        reached
        if len(sorted_out.entitled) == len(sorted_out.stored)
        else matched_students(session, sorted_out.entitled, vocabulary.guardian_statuses)
    )
    changed = _redetermine_reached(
        session, actor, settings, f"feed:{source}/{batch_id}", reached, new_ids, request_id, students
    )
    response = {
        "batch_id": batch_id,
        "accepted": len(sorted_out.stored),
        "rejected": [r.as_json() for r in rejected],
        "matched_students": len(students),
        "reevaluated": changed,
    }
    batch.accepted, batch.response = len(sorted_out.stored), response
    _audit_batch(session, actor, source, batch_id, digest, response, len(raw_records), request_id)
    return BatchOutcome(response)


def _redetermine_reached(
    session: Session,
    actor: Actor,
    settings: Settings,
    cause: str,
    students: Sequence[int],
    new_ids: Sequence[int],
    request_id: str | None,
    entitled: Sequence[int],
) -> int:
    """Re-determine the reached students whose agency facts changed (or, among the `entitled`, who have no
    determination yet); flag the decisions of those whose level or awards changed. Returns how many changed.

    A record outside the coverage changes a student's facts only by superseding a record of the same source
    about the same person that held on the evaluation date, i.e. someone the source was entitled to reach."""
    if not students:
        return 0
    from aidservice.services.determinations.matches import (  # polars: when a batch comes
        facts_changed,
        undetermined,
    )

    # Read and evaluated without the change-log locks, so batches of different sources overlap here; storing
    # takes them and evaluates again whoever another writer re-determined since `head` (see redetermine_set).
    head = change_log_head(session)
    first = undetermined(session, entitled, settings.school_year) if entitled else []  # a first determination
    affected, matches = facts_changed(
        session, settings.default_as_of(), settings.rules, students, new_ids, include=first
    )
    redone = redetermine_students(
        session,
        actor=actor,
        settings=settings,
        student_pks=affected,
        cause=cause,
        request_id=request_id,
        matches=matches,
        seen_seq=head,
    )
    if redone.changed:
        flag_after_agency_change(session, actor=actor, cause=cause, after_seq=head, request_id=request_id)
    return redone.changed


def _earlier(session: Session, source: str, batch_id: str, digest: str) -> BatchOutcome | None:
    """The stored answer for a replay; a conflict when the batch_id came with another body."""
    row = session.execute(
        select(FeedBatch.body_hash, FeedBatch.response).where(
            FeedBatch.source == source, FeedBatch.batch_id == batch_id
        )
    ).one_or_none()
    if row is None:
        return None
    if row.body_hash != digest:
        raise Conflict(
            f"Batch '{batch_id}' was already received with a different body; send changes under a new batch_id."
        )
    return BatchOutcome(dict(row.response), replayed=True)


def _batch_row(
    session: Session, actor: Actor, source: str, batch_id: str, digest: str, count: int
) -> FeedBatch:
    """The batch row, inserted first so the records can point at it (its answer is set at the end)."""
    batch = FeedBatch(
        source=source,
        batch_id=batch_id,
        body_hash=digest,
        client_id=actor.id,
        record_count=count,
        accepted=0,
        response={},
    )
    try:
        with session.begin_nested():
            session.add(batch)
    except IntegrityError:  # only without the source lock (SQLite ignores FOR UPDATE): a concurrent twin won
        raise Conflict(
            f"Batch '{batch_id}' is being applied by another request; retry to get its answer."
        ) from None
    return batch


RECORD_COLUMNS = (
    "id",
    "source",
    "person_hmac",
    "person_mask",
    "name",
    "status",
    "attributes",
    "valid_from",
    "valid_to",
    "batch_pk",
    "record_index",
    "received_at",
)


def _store_records(
    session: Session, batch_pk: int, source: str, records: Sequence[ParsedRecord]
) -> list[int]:
    """Insert the valid records in bulk; each supersedes the current record for its source, person and status.

    Returns the new records' ids. The current ones are found first, through the person index, then
    one UPDATE links them all: never a per-record round trip, and never a plan that scans every record.
    """
    if not records:
        return []
    if backend(session) == "postgresql":
        pairs = _superseded_pg(session, batch_pk, source, records)
        ids = _insert_records(session, batch_pk, source, records)
        pairs = [(old, ids[position]) for old, position in pairs]
    else:
        current = _current_records(session, source, records)
        ids = _insert_records(session, batch_pk, source, records)
        pairs = [
            (old, new)
            for r, new in zip(records, ids, strict=True)
            for old in current.get((r.person_hmac, r.status), ())
        ]
    if pairs:
        set_many(session, AgencyRecord.__table__, "superseded_by", pairs)
    return ids


SUPERSEDED = text("""
SELECT current.id, k.position - 1
FROM unnest(string_to_array(:people, ','), string_to_array(:statuses, ',')) WITH ORDINALITY AS k(person, status, position)
CROSS JOIN LATERAL (
    SELECT agency_records.id FROM agency_records
    WHERE agency_records.person_hmac = k.person AND agency_records.status = k.status
      AND agency_records.source = :source AND coalesce(agency_records.superseded_by, 0) = 0
    OFFSET 0
) AS current
""")
"""PostgreSQL: (current record, position in the batch) for every record a batch supersedes.

One index probe per record by person (the lateral subquery with OFFSET 0 cannot be flattened), so
the plan stays linear in the batch whatever the statistics say about a table that has just grown.
The lists travel as one text each: binding 10,000-element arrays costs more than the query.
"""


def _superseded_pg(
    session: Session, batch_pk: int, source: str, records: Sequence[ParsedRecord]
) -> list[tuple[int, int]]:
    rows = session.execute(
        SUPERSEDED,
        {
            "people": ",".join(r.person_hmac for r in records),
            "statuses": ",".join(r.status for r in records),
            "source": source,
        },
    )
    return [(old, position) for old, position in rows]


def _current_records(
    session: Session, source: str, records: Sequence[ParsedRecord]
) -> dict[tuple[str, str], list[int]]:
    """Current records of this source about the batch's people, by (person, status)."""
    table = AgencyRecord.__table__
    found: dict[tuple[str, str], list[int]] = {}
    for condition in where_in(session, table.c.person_hmac, sorted({r.person_hmac for r in records})):
        query = select(table.c.id, table.c.person_hmac, table.c.status).where(
            condition, table.c.source == source, current_record(table.c.superseded_by)
        )
        for record_id, person, status in session.execute(query).all():
            found.setdefault((person, status), []).append(record_id)
    return found


def _insert_records(
    session: Session, batch_pk: int, source: str, records: Sequence[ParsedRecord]
) -> list[int]:
    """All valid records in bulk; returns their ids in order (COPY with ids drawn from the sequence on PostgreSQL)."""
    now = datetime.now(UTC)
    if backend(session) == "postgresql":
        ids = list(
            session.execute(
                text(
                    "SELECT nextval(pg_get_serial_sequence('agency_records', 'id')) FROM generate_series(1, :n)"
                ),
                {"n": len(records)},
            )
            .scalars()
            .all()
        )
        tail = f"\t{batch_pk}\t"
        moment = f"\t{now.isoformat()}\n"
        copy_text(
            session,
            "agency_records",
            RECORD_COLUMNS,
            "".join(
                [
                    f"{i}\t{source}\t{r.person_hmac}\t{r.person_mask}\t{copy_escape(r.name)}\t{r.status}\t"
                    f"{copy_escape(_attributes_json(r.attributes))}\t{r.valid_from.isoformat()}\t"
                    f"{NULL if r.valid_to is None else r.valid_to.isoformat()}{tail}{r.index}{moment}"
                    for i, r in zip(ids, records, strict=True)
                ]
            ),
        )
        return ids
    insert_many(
        session,
        AgencyRecord,
        [
            {
                "source": source,
                "person_hmac": r.person_hmac,
                "person_mask": r.person_mask,
                "name": r.name,
                "status": r.status,
                "attributes": r.attributes,
                "valid_from": r.valid_from,
                "valid_to": r.valid_to,
                "batch_pk": batch_pk,
                "record_index": r.index,
                "received_at": now,
            }
            for r in records
        ],
    )
    query = select(AgencyRecord.record_index, AgencyRecord.id).where(AgencyRecord.batch_pk == batch_pk)
    by_index = {index: record_id for index, record_id in session.execute(query)}
    return [by_index[r.index] for r in records]


_ATTRIBUTES_TEXT: dict[tuple[tuple[str, type, Any], ...], str] = {}
"""Attribute JSON texts by content, at most 1,024 shapes per process (_attributes_json)."""


def _attributes_json(attributes: dict[str, Any]) -> str:
    """The stored JSON text of a record's attributes, cached by content (a batch repeats a few shapes)."""
    if not attributes:
        return "{}"
    try:
        key = tuple((name, type(value), value) for name, value in attributes.items())
        text = _ATTRIBUTES_TEXT.get(key)
    except TypeError:  # a list or object inside: not hashable, encoded each time
        return json.dumps(attributes, ensure_ascii=False)
    if text is None:
        text = json.dumps(attributes, ensure_ascii=False)
        if len(_ATTRIBUTES_TEXT) < 1024:
            _ATTRIBUTES_TEXT[key] = text
    return text


MATCHED = text("""
SELECT reached.id FROM unnest(string_to_array(:own, ',')) AS k(person)
CROSS JOIN LATERAL (SELECT students.id FROM students WHERE students.id_hmac = k.person OFFSET 0) AS reached
UNION
SELECT reached.student_pk FROM unnest(string_to_array(:household, ',')) AS k(person)
CROSS JOIN LATERAL (SELECT guardians.student_pk FROM guardians WHERE guardians.id_hmac = k.person OFFSET 0) AS reached
""")
"""PostgreSQL: students reached by a batch, one index probe per person (see SUPERSEDED)."""


def matched_students(
    session: Session, records: Iterable[ParsedRecord], guardian: Collection[str]
) -> list[int]:
    """Students the records reach: by their own number (any status) or a guardian's (statuses of `guardian`:
    household ones, and those giving the student a fact of their own, as `disabled`)."""
    own, household = set(), set()
    for record in records:
        own.add(record.person_hmac)
        if record.status in guardian:
            household.add(record.person_hmac)
    if not own:
        return []
    if backend(session) == "postgresql":
        found = session.execute(
            MATCHED, {"own": ",".join(sorted(own)), "household": ",".join(sorted(household))}
        )
        return sorted(found.scalars())
    found_pks: set[int] = set()
    for condition in where_in(session, Student.id_hmac, sorted(own)):
        found_pks.update(session.execute(select(Student.id).where(condition)).scalars().all())
    for condition in where_in(session, Guardian.id_hmac, sorted(household)):
        found_pks.update(session.execute(select(Guardian.student_pk).where(condition)).scalars().all())
    return sorted(found_pks)


def _audit_batch(
    session: Session,
    actor: Actor,
    source: str,
    batch_id: str,
    digest: str,
    response: Mapping[str, Any],
    count: int,
    request_id: str | None,
) -> None:
    audit.record(
        session,
        actor=actor,
        action="feed.batch",
        subject=f"batch:{source}/{batch_id}",
        summary={
            "records": count,
            "accepted": response["accepted"],
            "rejected": len(response["rejected"]),
            "matched_students": response["matched_students"],
            "reevaluated": response["reevaluated"],
            "body_hash": digest,
        },
        request_id=request_id,
    )
    count_feed_batch(source, "applied", response["accepted"], len(response["rejected"]))


__all__ = [
    "MAX_RECORDS",
    "OUTCOMES_MAX",
    "BatchOutcome",
    "PayloadTooLarge",
    "apply_batch",
    "check_source",
    "decode_cursor",
    "encode_cursor",
    "matched_students",
    "outcomes",
]
