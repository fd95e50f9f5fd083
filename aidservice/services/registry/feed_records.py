"""The records of an agency batch, checked one by one: what is stored, and why the others were rejected.

Each record is an object `{id_number, name, status, valid_from, valid_to, attributes}`. A record that fails
any check is rejected by index and field (`Rejection`), the others go on; nothing here raises for a bad
record. Two paths with one meaning: `RecordChecker.valid` parses a record that passes every check in one go
(a canonical ASCII number, a one-line name, dates in range, plain attributes); anything else goes to `RecordChecker.record`,
which runs the same checks one field at a time and names every problem (a test holds the two equal).

Every size and number is bounded before it is worked on: the ID number is ASCII digits and X only (see
`aidservice.identity`), dates are `YYYY-MM-DD` between 1900-01-01 and 2100-12-31, attributes are a flat
object of at most ATTRIBUTES_MAX keys whose values are strings, booleans, null or finite numbers of bounded
size (NaN and Infinity, which JSON parsers hand over as floats, are rejected; PostgreSQL's JSON type refuses
them). What a source may send comes from the loaded rule set (rules/sources.yaml): its statuses, and the
attributes bound to facts (`disability_grade`), which where present must be a value of their fact (an integer
1-4) and which a status may require. Messages name the field, never the value.
"""

from __future__ import annotations

import hmac
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from typing import Any, NamedTuple

from stdnum.cn import ric

from aidservice.engine import RuleSet
from aidservice.identity import InvalidIdNumber, mask, normalise_id_number
from aidservice.services.plaintext import NOT_IN_NAME, name_problem

NAME_MAX = 64
RECORD_FIELDS = frozenset({"id_number", "name", "status", "valid_from", "valid_to", "attributes"})
UNKNOWN_NAMED_MAX = 8
"""Unknown fields named one by one in a record's rejections; more are one rejection of the whole record."""
FIELD_NAME_MAX = 64
"""Longest key echoed back as a rejection's field (a longer one is named by its length)."""
STATUS_SHOWN_MAX = 40
DATE_MIN, DATE_MAX = date(1900, 1, 1), date(2100, 12, 31)
ATTRIBUTES_MAX = 16
ATTRIBUTE_KEY_MAX = 64
ATTRIBUTE_TEXT_MAX = 256
ATTRIBUTE_NUMBER_MAX = 10**15
"""Integers and decimals in attributes: |value| at most this (exact in every JSON reader, doubles included)."""
ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}\Z")  # [0-9], not \d: ASCII digits only
CANONICAL_ID = re.compile(r"[0-9]{17}[0-9X]\Z")
NON_FINITE = "must be a finite number (NaN and Infinity are not accepted)"
DATE_RANGE = f"must be a date between {DATE_MIN.isoformat()} and {DATE_MAX.isoformat()}"
SCALAR = "must be a string, a number, true, false or null (no lists or objects)"
Attributes = dict[str, str | int | float | bool | None]


@dataclass(frozen=True, slots=True)
class Rejection:
    """Why one record of a batch was not applied."""

    index: int
    field: str
    message: str

    def as_json(self) -> dict[str, Any]:
        return {"index": self.index, "field": self.field, "message": self.message}


class ParsedRecord(NamedTuple):
    """A valid record, ready to insert (the plain number never leaves this object).

    A named tuple, not a frozen dataclass: a batch makes 10,000 of them, and a tuple is made in a
    fifth of the time.
    """

    index: int
    person_hmac: str
    person_mask: str
    name: str
    status: str
    valid_from: date
    valid_to: date | None
    attributes: Attributes


@dataclass(slots=True)
class Checked:
    """A batch's records after validation."""

    records: list[ParsedRecord] = field(default_factory=list)
    rejected: list[Rejection] = field(default_factory=list)


class RecordChecker:
    """Validates one source's records quickly (plain Python; 10,000 records in well under a second)."""

    def __init__(self, rules: RuleSet, source: str, hmac_key: str, today: date) -> None:
        self.source = source
        vocabulary = rules.vocabulary
        found = vocabulary.source(source)
        self.allowed = found.status_names if found is not None else ()
        self.allowed_set = frozenset(self.allowed)
        self.bound = Bound.of(rules)
        self.key = hmac_key.encode("utf-8")
        self.keyed = hmac.new(
            self.key, digestmod="sha256"
        )  # copied per number: cheaper than keying each time
        self.today = today

    def check(self, records: Sequence[Any]) -> Checked:
        """Every record validated; a later duplicate of person and status is rejected, naming the first."""
        out = Checked()
        first: dict[tuple[str, str], int] = {}
        for index, raw in enumerate(records):
            problems: list[Rejection] = []
            parsed = self.valid(index, raw)
            if parsed is None:
                parsed = self.record(index, raw, problems)
            if parsed is not None:
                seen = first.setdefault((parsed.person_hmac, parsed.status), index)
                if seen != index:
                    problems.append(
                        Rejection(index, "id_number", f"duplicate of record {seen}: same person and status")
                    )
            if problems:
                out.rejected.extend(problems)
            elif parsed is not None:
                out.records.append(parsed)
        return out

    def valid(self, index: int, raw: Any) -> ParsedRecord | None:
        """A record that passes every check, parsed in one go; None sends it to `record`, which names the problems.

        Accepts exactly what `record` accepts without problems (a test holds the two paths equal).
        """
        if type(raw) is not dict or not raw.keys() <= RECORD_FIELDS:
            return None
        get = raw.get
        number, name, status = get("id_number"), get("name"), get("status")
        if (
            type(number) is not str
            or not CANONICAL_ID.match(number)
            or not self._plausible(number)
            or type(name) is not str
            or len(name) > NAME_MAX
            or type(status) is not str
            or status not in self.allowed_set
        ):
            return None
        name = name.strip()
        if NOT_IN_NAME.search(name):
            return None
        valid_from, to_text, attributes = _iso_date(get("valid_from")), get("valid_to"), get("attributes")
        valid_to = None if to_text is None else _iso_date(to_text)
        if (
            not name
            or valid_from is None
            or (to_text is not None and (valid_to is None or valid_to <= valid_from))
        ):
            return None
        if attributes is None:
            attributes = {}
        elif type(attributes) is not dict or not _plain_attributes(attributes, self.bound):
            return None
        if not self.bound.required.get(status, frozenset()) <= attributes.keys():
            return None
        return ParsedRecord(
            index, self._hmac(number), mask(number), name, status, valid_from, valid_to, dict(attributes)
        )

    def record(self, index: int, raw: Any, problems: list[Rejection]) -> ParsedRecord | None:
        """One record, or None with its problems appended."""
        if not isinstance(raw, Mapping):
            problems.append(Rejection(index, "record", "must be an object"))
            return None
        problems.extend(_unknown_fields(index, raw))
        number = self._number(index, raw.get("id_number"), problems)
        name = self._name(index, raw.get("name"), problems)
        status = self._status(index, raw.get("status"), problems)
        valid_from = _date(index, "valid_from", raw.get("valid_from"), problems, required=True)
        valid_to = _date(index, "valid_to", raw.get("valid_to"), problems, required=False)
        if valid_from is not None and valid_to is not None and valid_to <= valid_from:
            problems.append(Rejection(index, "valid_to", "must be after valid_from"))
        attributes = _attributes(index, raw.get("attributes"), status, self.bound, problems)
        if (
            problems
            or number is None
            or name is None
            or status is None
            or valid_from is None
            or attributes is None
        ):
            return None
        return ParsedRecord(
            index, self._hmac(number), mask(number), name, status, valid_from, valid_to, attributes
        )

    def _hmac(self, number: str) -> str:
        """The keyed hash records are matched by (a copy of the keyed object: cheaper than keying each time)."""
        digest = self.keyed.copy()
        digest.update(number.encode("ascii"))
        return digest.hexdigest()

    def _number(self, index: int, value: object, problems: list[Rejection]) -> str | None:
        if value is None:
            problems.append(Rejection(index, "id_number", "is required"))
            return None
        if type(value) is str and CANONICAL_ID.match(value) and self._plausible(value):
            return value  # already canonical and valid: what normalise_id_number would return
        try:
            return normalise_id_number(value, self.today)
        except InvalidIdNumber as exc:
            problems.append(Rejection(index, "id_number", str(exc)))
            return None

    def _plausible(self, number: str) -> bool:
        """The checks of `normalise_id_number` on a canonical number, fast; False sends it the slow way for the
        message."""
        birth = _birth_date(number[6:14])
        return (
            birth is not None
            and 1900 <= birth.year
            and birth <= self.today
            and ric.calc_check_digit(number) == number[17]
        )

    def _name(self, index: int, value: object, problems: list[Rejection]) -> str | None:
        if value is None:
            problems.append(Rejection(index, "name", "is required"))
        elif not isinstance(value, str) or not value.strip():
            problems.append(Rejection(index, "name", "must be a non-empty string"))
        elif len(value) > NAME_MAX:
            problems.append(Rejection(index, "name", f"must have at most {NAME_MAX} characters"))
        elif (problem := name_problem(value.strip())) is not None:
            problems.append(Rejection(index, "name", problem))
        else:
            return value.strip()
        return None

    def _status(self, index: int, value: object, problems: list[Rejection]) -> str | None:
        if value is None:
            problems.append(Rejection(index, "status", "is required"))
        elif not isinstance(value, str) or value not in self.allowed:
            shown = (
                value if isinstance(value, str) and len(value) <= STATUS_SHOWN_MAX else type(value).__name__
            )
            problems.append(
                Rejection(
                    index,
                    "status",
                    f"'{shown}' is not a status {self.source} sends; allowed: {', '.join(self.allowed)}",
                )
            )
        else:
            return value
        return None


def _unknown_fields(index: int, raw: Mapping[Any, Any]) -> list[Rejection]:
    """Each unknown field by name (a long name by its length); past UNKNOWN_NAMED_MAX, one rejection for all."""
    unknown = [key for key in raw if key not in RECORD_FIELDS]
    if len(unknown) > UNKNOWN_NAMED_MAX:
        return [
            Rejection(
                index,
                "record",
                f"has {len(unknown)} unknown fields; a record has only {', '.join(sorted(RECORD_FIELDS))}",
            )
        ]
    return [Rejection(index, *_field_name(str(key), "unknown field")) for key in unknown]


def _field_name(key: str, message: str) -> tuple[str, str]:
    """(field, message) for a key sent by the client: the key itself when short, else "record" and its length."""
    if len(key) <= FIELD_NAME_MAX:
        return key, message
    return "record", f"{message} (a name of {len(key)} characters)"


def _date(index: int, name: str, value: object, problems: list[Rejection], *, required: bool) -> date | None:
    if value is None:
        if required:
            problems.append(Rejection(index, name, "is required"))
        return None
    parsed = _parse_iso(value) if isinstance(value, str) and len(value) == 10 else None
    if parsed is None:
        problems.append(Rejection(index, name, "must be a date as YYYY-MM-DD"))
    elif not DATE_MIN <= parsed <= DATE_MAX:
        problems.append(Rejection(index, name, DATE_RANGE))
        return None
    return parsed


@dataclass(frozen=True, slots=True)
class Bound:
    """The attributes the rules bind to facts: each one's bounds (every source's, wherever it comes), and the
    ones each status requires."""

    ranges: Mapping[str, tuple[int | None, int | None]]
    required: Mapping[str, frozenset[str]]

    @staticmethod
    def of(rules: RuleSet) -> Bound:
        ranges: dict[str, tuple[int | None, int | None]] = {}
        required: dict[str, frozenset[str]] = {}
        for status in rules.vocabulary.statuses.values():
            for attribute in status.attributes:
                spec = rules.facts[attribute.fact]
                ranges[attribute.name] = (
                    None if spec.min is None else int(spec.min),
                    None if spec.max is None else int(spec.max),
                )
            required[status.name] = frozenset(a.name for a in status.attributes if a.required)
        return Bound(ranges, required)

    def message(self, name: str, status: str | None = None) -> str:
        low, high = self.ranges[name]
        span = f" {low}-{high}" if low is not None and high is not None else ""
        return f"must be an integer{span}" + (f" for {status}" if status else "")

    def fits(self, name: str, value: object) -> bool:
        low, high = self.ranges[name]
        return type(value) is int and (low is None or low <= value) and (high is None or value <= high)


def _attributes(
    index: int, value: object, status: str | None, bound: Bound, problems: list[Rejection]
) -> Attributes | None:
    """The attributes as stored, or None with every problem appended (by key: `attributes.<key>`)."""
    if value is None:
        value = {}
    if not isinstance(value, dict):
        problems.append(Rejection(index, "attributes", "must be an object"))
        return None
    if len(value) > ATTRIBUTES_MAX:
        problems.append(Rejection(index, "attributes", f"must have at most {ATTRIBUTES_MAX} keys"))
        return None
    found = [
        Rejection(index, *pair)
        for key, item in value.items()
        for pair in _attribute_problems(key, item, bound)
    ]
    for name in sorted(bound.required.get(status or "", frozenset()) - value.keys()):
        found.append(Rejection(index, f"attributes.{name}", bound.message(name, status)))
    problems.extend(found)
    return None if found else dict(value)


def _attribute_problems(key: object, value: object, bound: Bound) -> list[tuple[str, str]]:
    """(field, message) for what is wrong with one attribute; none for a plain one."""
    if not isinstance(key, str) or not key:
        return [("attributes", "keys must be non-empty strings")]
    if len(key) > ATTRIBUTE_KEY_MAX:
        return [("attributes", f"keys must have at most {ATTRIBUTE_KEY_MAX} characters")]
    name = f"attributes.{key}"
    if isinstance(value, float) and not math.isfinite(value):
        return [(name, NON_FINITE)]
    if key in bound.ranges:
        return [] if bound.fits(key, value) else [(name, bound.message(key))]
    if isinstance(value, (dict, list)):
        return [(name, SCALAR)]
    if isinstance(value, str) and len(value) > ATTRIBUTE_TEXT_MAX:
        return [(name, f"must have at most {ATTRIBUTE_TEXT_MAX} characters")]
    if isinstance(value, (int, float)) and not isinstance(value, bool) and abs(value) > ATTRIBUTE_NUMBER_MAX:
        return [(name, f"must be a number between -{ATTRIBUTE_NUMBER_MAX} and {ATTRIBUTE_NUMBER_MAX}")]
    if value is not None and not isinstance(value, (str, int, float, bool)):
        return [(name, SCALAR)]
    return []


def _plain_attributes(attributes: dict[Any, Any], bound: Bound) -> bool:
    """Whether `_attribute_problems` finds nothing, decided fast for the common shapes ({}, a grade, short text)."""
    if len(attributes) > ATTRIBUTES_MAX:
        return False
    for key, value in attributes.items():
        kind = type(value)
        if kind is str and len(value) <= ATTRIBUTE_TEXT_MAX and key not in bound.ranges:
            continue
        if _attribute_problems(key, value, bound):
            return False
    return True


def _iso_date(value: object) -> date | None:
    """A YYYY-MM-DD text in range as a date, or None for anything else (what `_date` accepts)."""
    if type(value) is not str or len(value) != 10:
        return None
    parsed = _parse_iso(value)
    return parsed if parsed is not None and DATE_MIN <= parsed <= DATE_MAX else None


@lru_cache(maxsize=4096)
def _parse_iso(value: str) -> date | None:
    """Cached: a batch repeats a few thousand dates."""
    if not ISO_DATE.match(value):
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        return None


@lru_cache(maxsize=65536)
def _birth_date(digits: str) -> date | None:
    """YYYYMMDD as a date, or None; cached (a batch holds a few thousand distinct birth dates)."""
    try:
        return date(int(digits[:4]), int(digits[4:6]), int(digits[6:]))
    except ValueError:
        return None


__all__ = ["CANONICAL_ID", "NAME_MAX", "Checked", "ParsedRecord", "RecordChecker", "Rejection"]
