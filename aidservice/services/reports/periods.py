"""Report periods (a semester, a school year or a date range within one school year) and the as-of time."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone

from aidservice.schoolyear import parse_school_year
from aidservice.services.errors import ValidationFailed

LOCAL = timezone(timedelta(hours=8), "Asia/Shanghai")
"""Jiangsu time (no daylight saving): naive as-of times and the schedule's due moments are read in it."""
SEMESTERS = ("autumn", "spring")
SEMESTER_NAMES = {"autumn": "秋季学期", "spring": "春季学期"}
_SEMESTER = re.compile(r"^(\d{4}-\d{4})-(autumn|spring)$")
_YEAR = re.compile(r"^\d{4}-\d{4}$")
_RANGE = re.compile(r"^(\d{4}-\d{2}-\d{2})\.\.(\d{4}-\d{2}-\d{2})$")
FORMAT_HELP = "a semester (2020-2021-autumn, 2020-2021-spring), a school year (2020-2021) or a date range (2020-09-01..2021-01-31)"


@dataclass(frozen=True, slots=True)
class Period:
    """A report period: first and last day (inclusive) and the school year whose decisions it reads."""

    label: str
    kind: str  # semester | school_year | range
    start: date
    end: date
    school_year: str

    @property
    def name(self) -> str:
        """The period in Chinese, for headings."""
        if self.kind == "semester":
            year, semester = self.label.rsplit("-", 1)
            return f"{year}学年{SEMESTER_NAMES[semester]}"
        if self.kind == "school_year":
            return f"{self.label}学年"
        return f"{self.start.isoformat()}至{self.end.isoformat()}"

    def semester_of(self, day: date) -> str:
        """The semester label a day of this period's school year falls in."""
        return f"{self.school_year}-{'spring' if day >= spring_start(self.school_year) else 'autumn'}"

    def as_json(self) -> dict[str, str]:
        """What a report says about its period."""
        return {
            "label": self.label,
            "kind": self.kind,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "school_year": self.school_year,
            "name": self.name,
        }


def year_bounds(school_year: str) -> tuple[date, date]:
    """First and last day of a school year: 1 September to 31 August."""
    first, second = parse_school_year(school_year)
    return date(first, 9, 1), date(second, 8, 31)


def spring_start(school_year: str) -> date:
    """1 March of the school year's second calendar year."""
    return date(parse_school_year(school_year)[1], 3, 1)


def school_year_of(day: date) -> str:
    """The school year a day belongs to."""
    first = day.year if day.month >= 9 else day.year - 1
    return f"{first}-{first + 1}"


def parse_period(text: object) -> Period:
    """Parse a period or raise ValidationFailed naming `period`."""
    raw = str(text or "").strip()
    try:
        return _parse(raw)
    except ValueError as exc:
        raise ValidationFailed({"period": [f"{exc}; expected {FORMAT_HELP}"]}) from None


def _parse(raw: str) -> Period:
    if not raw:
        raise ValueError("period is required")
    if match := _SEMESTER.fullmatch(raw):
        year, semester = match[1], match[2]
        first, last = year_bounds(year)
        spring = spring_start(year)
        start, end = (first, spring - timedelta(days=1)) if semester == "autumn" else (spring, last)
        return Period(raw, "semester", start, end, year)
    if _YEAR.fullmatch(raw):
        first, last = year_bounds(raw)
        return Period(raw, "school_year", first, last, raw)
    if match := _RANGE.fullmatch(raw):
        try:
            start, end = date.fromisoformat(match[1]), date.fromisoformat(match[2])
        except ValueError:
            raise ValueError(f"{raw!r} has an impossible date") from None
        if end < start:
            raise ValueError(f"{raw!r} ends before it starts")
        year = school_year_of(start)
        if school_year_of(end) != year:
            raise ValueError(
                f"{raw!r} spans two school years (1 September to 31 August); report each year apart"
            )
        return Period(raw, "range", start, end, year)
    raise ValueError(f"{raw!r} is not a period")


def parse_as_of(text: object, now: datetime) -> datetime | None:
    """An ISO date or datetime (naive = Jiangsu time) as an aware UTC time; None when absent; never in the future."""
    raw = str(text or "").strip()
    if not raw:
        return None
    try:
        moment = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise ValidationFailed(
            {"as_of": ["must be an ISO 8601 date or date and time, e.g. 2021-03-01T00:00:00+08:00"]}
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=LOCAL)
    moment = moment.astimezone(UTC)
    if moment > now:
        raise ValidationFailed(
            {"as_of": ["must not be in the future: a report is read from recorded history"]}
        )
    return moment


def utc_text(moment: datetime) -> str:
    """An aware time as ISO 8601 in UTC with microseconds (what reports and the archive record)."""
    return moment.astimezone(UTC).isoformat(timespec="microseconds")
