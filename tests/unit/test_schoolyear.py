"""School-year arithmetic behind the CLI's default evaluation date."""

from __future__ import annotations

from datetime import date

import pytest

from aidservice.schoolyear import current_semester_start, parse_school_year, semester_start


def test_semesters_of_2020_2021() -> None:
    assert semester_start("2020-2021", "autumn") == date(2020, 9, 1)
    assert semester_start("2020-2021", "spring") == date(2021, 3, 1)


@pytest.mark.parametrize(
    ("today", "expected"),
    [
        (date(2020, 9, 1), date(2020, 9, 1)),
        (date(2020, 12, 31), date(2020, 9, 1)),
        (date(2021, 2, 28), date(2020, 9, 1)),
        (date(2021, 3, 1), date(2021, 3, 1)),
        (date(2021, 8, 31), date(2021, 3, 1)),
        (date(2019, 5, 1), date(2020, 9, 1)),  # before the school year: its first semester
        (date(2026, 11, 27), date(2021, 3, 1)),  # after it: its last semester
    ],
)
def test_current_semester_start(today: date, expected: date) -> None:
    assert current_semester_start("2020-2021", today) == expected


@pytest.mark.parametrize("bad", ["2020", "2020-2022", "2021-2020", "20-21", "2020/2021", ""])
def test_malformed_school_years_are_rejected(bad: str) -> None:
    with pytest.raises(ValueError, match="school year"):
        parse_school_year(bad)


def test_unknown_semester_is_rejected() -> None:
    with pytest.raises(ValueError, match="semester"):
        semester_start("2020-2021", "summer")  # type: ignore[arg-type]
