"""Agencies see only their own people (issue 16, item 7).

The locate attempt: an agency client sends the numbers of people it never served (enrolled students, found
elsewhere) under records that ended long before the rules' coverage (2018-09-01 to 2021-08-31), hoping that
`matched_students` says which numbers are enrolled and that the outcomes then list them. It learns nothing:
no match is reported, nobody is re-determined, nothing is listed, and past STALE_PER_DAY such records a day
they are refused by index. Outcomes list only the students a source reached with a record valid in the
outcome's school year, and carry no student number, school code or school name.
"""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from aidservice.extensions import db
from aidservice.identity import mask
from aidservice.models import AgencyRecord, Determination
from aidservice.services.registry.feed_entitlement import STALE_PER_DAY
from tests.timing_support import FAST, work_clock
from tests.world.factories import bearer, id_number, make_client
from tests.world.feeds import person, record, school, student

pytestmark = pytest.mark.databases
CIVIL = "/api/v1/feeds/civil_affairs"
SCHOOL_CODE, SCHOOL_NAME = "3201020001", "玄武区第一中学"


@pytest.fixture
def token(app: Flask) -> str:
    return make_client(db.session, "civil_affairs")


def post_batch(
    client: FlaskClient, token: str, batch_id: str, records: list[dict[str, Any]]
) -> tuple[Any, float]:
    started = work_clock()
    response = client.post(
        f"{CIVIL}/batches", json={"batch_id": batch_id, "records": records}, headers=bearer(token)
    )
    elapsed = work_clock() - started
    assert response.status_code == 200, response.json
    return response.json, elapsed


def items(client: FlaskClient, token: str, source: str = "civil_affairs") -> list[dict[str, Any]]:
    response = client.get(f"/api/v1/feeds/{source}/outcomes", headers=bearer(token))
    assert response.status_code == 200, response.json
    return response.json["items"]


def determinations() -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(Determination)) or 0


def enrolled(count: int) -> list[str]:
    """`count` students of one school, never sent by any agency; their numbers."""
    at = school(stages=("junior",), name=SCHOOL_NAME)
    for i in range(1, count + 1):
        student(f"S{i}", at, seed=i, guardians=[7000 + i])
    return [id_number(i) for i in range(1, count + 1)]


def test_numbers_of_enrolled_students_under_records_ended_before_the_coverage_match_nobody(
    client: FlaskClient, token: str
) -> None:
    numbers = enrolled(3)
    body, elapsed = post_batch(
        client, token, "probe-1", [record(n, "orphan", "2010-01-01", "2015-01-01") for n in numbers]
    )
    assert elapsed < FAST
    assert body["accepted"] == 3 and body["rejected"] == []
    assert body["matched_students"] == 0 and body["reevaluated"] == 0  # nothing about who is enrolled
    assert determinations() == 0  # nobody was determined because of them
    assert items(client, token) == []


def test_a_record_starting_after_the_coverage_matches_nobody_either(client: FlaskClient, token: str) -> None:
    numbers = enrolled(2)
    body, _elapsed = post_batch(
        client, token, "probe-2", [record(n, "orphan", "2030-01-01") for n in numbers]
    )
    assert body["matched_students"] == 0 and body["reevaluated"] == 0 and determinations() == 0
    assert items(client, token) == []


def test_records_outside_the_coverage_beyond_the_daily_ration_are_refused_by_index_naming_valid_to(
    client: FlaskClient, token: str
) -> None:
    enrolled(1)
    stale = [
        record(person(10_000 + i), "subsistence_allowance", "2010-01-01", "2012-01-01")
        for i in range(STALE_PER_DAY + 2)
    ]
    body, elapsed = post_batch(client, token, "probe-3", stale)
    assert elapsed < FAST
    assert body["accepted"] == STALE_PER_DAY
    assert [(r["index"], r["field"]) for r in body["rejected"]] == [
        (STALE_PER_DAY, "valid_to"),
        (STALE_PER_DAY + 1, "valid_to"),
    ]
    assert "per source per day" in body["rejected"][0]["message"]
    body, _elapsed = post_batch(
        client,
        token,
        "probe-4",
        [
            record(
                person(20_000), "subsistence_allowance", "2010-01-01", "2012-01-01"
            ),  # the ration is spent today
            record(person(7001), "subsistence_allowance", "2020-01-01"),  # a current record is unaffected
        ],
    )
    assert [(r["index"], r["field"]) for r in body["rejected"]] == [(0, "valid_to")]
    assert body["accepted"] == 1 and body["matched_students"] == 1
    stored = db.session.scalar(sa.select(sa.func.count()).select_from(AgencyRecord))
    assert stored == STALE_PER_DAY + 1  # the refused records were not stored


def test_the_ration_is_per_source(client: FlaskClient, token: str) -> None:
    enrolled(1)
    stale = [
        record(person(10_000 + i), "subsistence_allowance", "2010-01-01", "2012-01-01")
        for i in range(STALE_PER_DAY)
    ]
    assert post_batch(client, token, "fill", stale)[0]["rejected"] == []
    other = make_client(db.session, "poverty_alleviation")
    response = client.post(
        "/api/v1/feeds/poverty_alleviation/batches",
        headers=bearer(other),
        json={
            "batch_id": "other",
            "records": [record(person(30_000), "registered_poor", "2010-01-01", "2012-01-01")],
        },
    )
    assert response.status_code == 200 and response.json["rejected"] == []


def test_a_student_reached_only_by_another_source_is_not_listed(client: FlaskClient, token: str) -> None:
    enrolled(2)
    veterans = make_client(db.session, "veterans_affairs")
    response = client.post(
        "/api/v1/feeds/veterans_affairs/batches",
        headers=bearer(veterans),
        json={"batch_id": "V-1", "records": [record(id_number(2), "martyr_child")]},
    )
    assert response.status_code == 200 and response.json["matched_students"] == 1
    post_batch(client, token, "C-1", [record(person(7001), "subsistence_allowance")])
    ours = items(client, token)
    assert [i["person"] for i in ours] == [mask(person(7001))]
    assert [i["person"] for i in items(client, veterans, "veterans_affairs")] == [mask(id_number(2))]


def test_a_student_reached_only_by_a_record_outside_the_school_year_is_not_listed(
    client: FlaskClient, token: str
) -> None:
    enrolled(2)
    body, _elapsed = post_batch(
        client,
        token,
        "C-1",
        [
            record(person(7001), "subsistence_allowance", "2019-01-01", "2020-06-01"),  # 2019-2020 only
            record(person(7002), "subsistence_allowance", "2019-01-01", "2020-09-02"),  # one day of 2020-2021
        ],
    )
    assert body["matched_students"] == 2  # inside the coverage: the source did serve these people
    years = db.session.scalars(sa.select(Determination.school_year)).all()
    assert years == ["2020-2021", "2020-2021"]  # both have an outcome in 2020-2021 ...
    listed = items(client, token)
    assert [i["person"] for i in listed] == [mask(person(7002))]  # ... only the one reached in it is listed
    assert listed[0]["school_year"] == "2020-2021"


def test_outcome_items_carry_no_student_number_school_code_or_school_name(
    client: FlaskClient, token: str
) -> None:
    enrolled(1)
    post_batch(client, token, "C-1", [record(person(7001), "subsistence_allowance")])
    (item,) = items(client, token)
    assert set(item) == {
        "person",
        "reference",
        "school_year",
        "level",
        "awards",
        "total",
        "as_of",
        "rule_set_version",
        "seq",
        "changed",
    }
    assert item["reference"] == {"batch_id": "C-1", "index": 0}
    assert all(set(award) == {"program", "amount"} for award in item["awards"])
    text = str(item)
    assert SCHOOL_CODE not in text and SCHOOL_NAME not in text and "S1" not in text
