"""Report periods, the as-of time and the schedule's due moments (no database)."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from aidservice.services.errors import ValidationFailed
from aidservice.services.reports.archive import due_moments
from aidservice.services.reports.periods import LOCAL, parse_as_of, parse_period

NOW = datetime(2021, 5, 20, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "kind", "start", "end", "year"),
    [
        ("2020-2021-autumn", "semester", date(2020, 9, 1), date(2021, 2, 28), "2020-2021"),
        ("2020-2021-spring", "semester", date(2021, 3, 1), date(2021, 8, 31), "2020-2021"),
        ("2019-2020-autumn", "semester", date(2019, 9, 1), date(2020, 2, 29), "2019-2020"),  # leap year
        ("2020-2021", "school_year", date(2020, 9, 1), date(2021, 8, 31), "2020-2021"),
        ("2020-09-01..2021-01-31", "range", date(2020, 9, 1), date(2021, 1, 31), "2020-2021"),
        ("2021-03-01..2021-03-01", "range", date(2021, 3, 1), date(2021, 3, 1), "2020-2021"),
    ],
)
def test_periods_parse_to_inclusive_days_and_their_school_year(
    text: str, kind: str, start: date, end: date, year: str
) -> None:
    period = parse_period(text)
    assert (period.kind, period.start, period.end, period.school_year) == (kind, start, end, year)
    assert period.as_json()["label"] == text


@pytest.mark.parametrize(
    "text",
    [
        "",
        None,
        "2020",
        "2020-2022",
        "2020-2021-summer",
        "2020-2021-Autumn",
        "autumn",
        "2020-09-01",
        "2020-09-01..",
        "2020-13-01..2021-01-31",
        "2021-01-31..2020-09-01",
        "2020-08-01..2020-09-30",
        "2020/2021",
    ],
)
def test_malformed_periods_are_422_naming_period(text: object) -> None:
    with pytest.raises(ValidationFailed) as caught:
        parse_period(text)
    assert list(caught.value.errors) == ["period"]
    assert "2020-2021-autumn" in caught.value.errors["period"][0]  # says what is expected


def test_a_range_across_two_school_years_is_refused_with_the_reason() -> None:
    with pytest.raises(ValidationFailed) as caught:
        parse_period("2020-08-01..2020-09-30")
    assert "two school years" in caught.value.errors["period"][0]


def test_as_of_naive_is_jiangsu_time_and_the_future_is_refused() -> None:
    assert parse_as_of(None, NOW) is None and parse_as_of("", NOW) is None
    assert parse_as_of("2021-03-01", NOW) == datetime(2021, 2, 28, 16, 0, tzinfo=UTC)
    assert parse_as_of("2021-03-01T08:00:00+08:00", NOW) == datetime(2021, 3, 1, 0, 0, tzinfo=UTC)
    assert parse_as_of("2021-03-01T00:00:00Z", NOW) == datetime(2021, 3, 1, tzinfo=UTC)
    for bad in ("yesterday", "2021-02-30", "2022-01-01"):
        with pytest.raises(ValidationFailed) as caught:
            parse_as_of(bad, NOW)
        assert list(caught.value.errors) == ["as_of"]


def _local(moment: datetime) -> tuple[int, int, int, int]:
    local = moment.astimezone(LOCAL)
    return local.year, local.month, local.day, local.hour


def test_due_moments_mid_semester_are_this_months_report_and_the_last_semester_end() -> None:
    due = due_moments(datetime(2020, 10, 15, 3, 0, tzinfo=UTC))
    assert [(p, _local(m), c) for p, m, c in due] == [
        ("2020-2021-autumn", (2020, 10, 1, 0), "monthly"),
        ("2019-2020-spring", (2020, 9, 1, 0), "semester"),
        ("2019-2020", (2020, 9, 1, 0), "school_year"),
    ]


def test_on_1_march_the_monthly_and_the_semester_report_are_one_report() -> None:
    due = due_moments(datetime(2021, 2, 28, 18, 5, tzinfo=UTC))  # 02:05 on 1 March in Jiangsu
    assert [(p, _local(m), c) for p, m, c in due] == [("2020-2021-autumn", (2021, 3, 1, 0), "monthly")]


def test_on_1_september_the_spring_semester_and_the_school_year_are_due() -> None:
    due = due_moments(datetime(2021, 9, 1, 2, 5, tzinfo=LOCAL))
    assert [(p, _local(m), c) for p, m, c in due] == [
        ("2020-2021-spring", (2021, 9, 1, 0), "monthly"),
        ("2020-2021", (2021, 9, 1, 0), "school_year"),
    ]


def test_in_january_the_autumn_semester_so_far_and_the_spring_semester_end() -> None:
    due = due_moments(datetime(2021, 1, 1, 0, 30, tzinfo=LOCAL))
    assert [(p, _local(m)) for p, m, _c in due] == [
        ("2020-2021-autumn", (2021, 1, 1, 0)),
        ("2019-2020-spring", (2020, 9, 1, 0)),
        ("2019-2020", (2020, 9, 1, 0)),
    ]
