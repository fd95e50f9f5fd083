"""What a batch may learn about the people it names: match information only for records inside the coverage.

`matched_students` in a batch's answer counts the students reached by the batch's *entitled* records only: a
record whose validity overlaps the rules' coverage (`valid_from` on or before its last day, `valid_to`, which
is exclusive, after its first day or open-ended); the status is already one the source may send (feed_records
rejects the others). A record outside the coverage (ended before it began, or starting after it ends) is stored
as sent, but reaches nobody in the answer and triggers no re-determination: it cannot change a determination
the rules can make, so it is no reason to tell the agency that the number belongs to a student. Without this a
batch of numbers under long-ended records was a bulk "is this number enrolled" oracle.

Such records are also rationed: at most STALE_PER_DAY of them per source per UTC day (counted from the stored
records of the source's batches received that day, so every worker sees the same count; batches of a source
apply one at a time under the feed lock). Beyond that each one is rejected by index, naming `valid_to` (or
`valid_from` for a record that starts after the coverage), and the rest of the batch is applied.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from aidservice.engine.model import Coverage
from aidservice.models import AgencyRecord, FeedBatch
from aidservice.services.registry.feed_records import ParsedRecord, Rejection

STALE_PER_DAY = 200
"""Records outside the rules' coverage a source may send per UTC day (a backfill spreads over days)."""


def inside(record: ParsedRecord, coverage: Coverage) -> bool:
    """Whether the record was valid some day of the coverage."""
    return record.valid_from <= coverage.end and (record.valid_to is None or record.valid_to > coverage.start)


@dataclass(frozen=True, slots=True)
class Entitled:
    """A batch's valid records split: those to store, those entitled to match information, the ones refused."""

    stored: list[ParsedRecord]
    entitled: list[ParsedRecord]
    refused: list[Rejection]


def sort_out(
    session: Session,
    source: str,
    records: Sequence[ParsedRecord],
    coverage: Coverage,
    now: datetime | None = None,
) -> Entitled:
    """Split the records; refuse the out-of-coverage ones beyond what is left of today's ration."""
    entitled = [r for r in records if inside(r, coverage)]
    outside = [r for r in records if not inside(r, coverage)]
    if not outside:
        return Entitled(list(records), entitled, [])
    left = max(0, STALE_PER_DAY - sent_today(session, source, coverage, now or datetime.now(UTC)))
    refused = [_refusal(r, coverage) for r in outside[left:]]
    dropped = {r.index for r in outside[left:]}
    return Entitled([r for r in records if r.index not in dropped], entitled, refused)


def sent_today(session: Session, source: str, coverage: Coverage, now: datetime) -> int:
    """Records outside the coverage stored today (UTC) from this source's batches."""
    midnight = datetime.combine(now.astimezone(UTC).date(), time(0), tzinfo=UTC)
    query = (
        select(func.count())
        .select_from(AgencyRecord)
        .join(FeedBatch, FeedBatch.id == AgencyRecord.batch_pk)
        .where(
            FeedBatch.source == source,
            FeedBatch.received_at >= midnight,
            or_(AgencyRecord.valid_to <= coverage.start, AgencyRecord.valid_from > coverage.end),
        )
    )
    return int(session.execute(query).scalar_one())


def _refusal(record: ParsedRecord, coverage: Coverage) -> Rejection:
    field, where = (
        ("valid_from", "starts after") if record.valid_from > coverage.end else ("valid_to", "ended before")
    )
    return Rejection(
        record.index,
        field,
        (
            f"the record {where} the rules' coverage ({_day(coverage.start)} to {_day(coverage.end)}); at most "
            f"{STALE_PER_DAY} such records are accepted per source per day (UTC): send it again tomorrow"
        ),
    )


def _day(day: date) -> str:
    return day.isoformat()


__all__ = ["STALE_PER_DAY", "Entitled", "inside", "sent_today", "sort_out"]
