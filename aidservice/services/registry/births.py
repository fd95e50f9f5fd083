"""Birth dates of the people agencies list, kept at ingest for the dropout-control report's ages.

An agency record keeps only the keyed hash and the mask of the number, never the number itself, so the birth
date it carries is taken while the batch's plain numbers are at hand and kept by keyed hash
(`person_births`). It is never shown or logged: the report shows ages (and masked numbers) only.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from aidservice.identity import InvalidIdNumber, birth_date, normalise_id_number
from aidservice.models import PersonBirth
from aidservice.services.bulk import backend, where_in

CHUNK = 5000


def record_births(session: Session, raw_records: Sequence[Any], stored: Sequence[Any], today: date) -> int:
    """Keep the birth date of every stored record's person not yet known; returns how many were added.

    `stored` are the batch's accepted records (each with `index` into `raw_records` and `person_hmac`).
    """
    births: dict[str, date] = {}
    for record in stored:
        raw = raw_records[record.index]
        if record.person_hmac in births or not isinstance(raw, Mapping):
            continue
        try:
            births[record.person_hmac] = birth_date(normalise_id_number(raw.get("id_number"), today))
        except (InvalidIdNumber, ValueError, TypeError):
            continue  # the checker accepted it, so this does not happen; a missing age is not worth a failure
    if not births:
        return 0
    for condition in where_in(session, PersonBirth.person_hmac, sorted(births)):
        for (known,) in session.execute(select(PersonBirth.person_hmac).where(condition)):
            births.pop(known, None)
    rows = [{"person_hmac": h, "birth_date": d} for h, d in sorted(births.items())]
    dialect = postgresql if backend(session) == "postgresql" else sqlite
    for start in range(0, len(rows), CHUNK):  # a concurrent batch of another source may add the same person
        session.execute(dialect.insert(PersonBirth).on_conflict_do_nothing(), rows[start : start + CHUNK])
    return len(rows)
