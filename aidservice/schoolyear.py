"""School years and semesters: autumn starts on 1 September, spring on 1 March of the following year."""

from __future__ import annotations

import re
from datetime import date
from typing import Literal

Semester = Literal["autumn", "spring"]
SCHOOL_YEAR = re.compile(r"^(\d{4})-(\d{4})$")


def parse_school_year(school_year: str) -> tuple[int, int]:
    """'2020-2021' -> (2020, 2021); the second year must follow the first."""
    match = SCHOOL_YEAR.fullmatch(school_year.strip())
    if not match:
        raise ValueError(f"school year must look like 2020-2021, got {school_year!r}")
    first, second = int(match[1]), int(match[2])
    if second != first + 1:
        raise ValueError(f"school year {school_year!r} must span two consecutive years")
    return first, second


def semester_start(school_year: str, semester: Semester) -> date:
    """First day of a semester: autumn 1 September of the first year, spring 1 March of the second."""
    first, second = parse_school_year(school_year)
    if semester == "autumn":
        return date(first, 9, 1)
    if semester == "spring":
        return date(second, 3, 1)
    raise ValueError(f"semester must be 'autumn' or 'spring', got {semester!r}")


def current_semester_start(school_year: str, today: date) -> date:
    """First day of the semester of `school_year` that `today` falls in (clamped to the school year)."""
    spring = semester_start(school_year, "spring")
    return spring if today >= spring else semester_start(school_year, "autumn")


def school_year_span(school_year: str) -> tuple[date, date]:
    """First and last day of a school year: 1 September of the first year to 31 August of the second."""
    first, second = parse_school_year(school_year)
    return date(first, 9, 1), date(second, 8, 31)
