"""POST /api/v1/feeds/{source}/batches: validation by record, idempotent replays, access, matching, audit."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from aidservice.extensions import db
from aidservice.models import AgencyRecord, AuditEvent, FeedBatch
from aidservice.services.registry.feeds import MAX_RECORDS
from tests.world.factories import bearer, id_number, make_client, make_user
from tests.world.feeds import count, current, history, person, record, row_counts, school, student

pytestmark = pytest.mark.databases
URL = "/api/v1/feeds/civil_affairs/batches"


@pytest.fixture
def token(app: Flask) -> str:
    return make_client(db.session, "civil_affairs")


@pytest.fixture
def enrolled(app: Flask) -> list[int]:
    """Two junior students; the first has guardian person(7001)."""
    at = school(stages=("junior",))
    return [student("S1", at, seed=1, guardians=[7001]).id, student("S2", at, seed=2, guardians=[7002]).id]


def post(client: FlaskClient, token: str, body: Any, url: str = URL) -> Any:
    return client.post(url, json=body, headers=bearer(token))


def only_rejection(response: Any) -> dict[str, Any]:
    assert response.status_code == 200, response.json
    (rejection,) = response.json["rejected"]
    return rejection


def test_a_batch_is_applied_matched_and_answered(
    client: FlaskClient, token: str, enrolled: list[int]
) -> None:
    body = {
        "batch_id": "B-1",
        "records": [
            record(person(7001), "subsistence_allowance"),
            record(id_number(2), "orphan"),
            record(person(9999), "subsistence_allowance"),  # nobody enrolled: kept, not matched
        ],
    }
    response = post(client, token, body)
    assert response.status_code == 200, response.json
    assert response.json == {
        "batch_id": "B-1",
        "accepted": 3,
        "rejected": [],
        "matched_students": 2,
        "reevaluated": 2,
    }
    assert count(AgencyRecord) == 3 and count(FeedBatch) == 1
    assert current(enrolled[0]).cause == "feed:civil_affairs/B-1"
    event = db.session.execute(
        sa.select(AuditEvent).where(AuditEvent.subject == "batch:civil_affairs/B-1")
    ).scalar_one()
    assert event.summary["accepted"] == 3 and event.summary["matched_students"] == 2


def test_no_plain_id_number_is_stored_with_records_or_in_the_audit_trail(
    client: FlaskClient, token: str, enrolled: list[int]
) -> None:
    number = person(7001)
    post(client, token, {"batch_id": "B-1", "records": [record(number, "subsistence_allowance")]})
    stored = db.session.execute(sa.select(AgencyRecord)).scalar_one()
    assert stored.person_mask == number[:6] + "*" * 11 + number[-1:]
    assert number not in str([stored.person_hmac, stored.person_mask, stored.attributes])
    summaries = db.session.execute(sa.select(AuditEvent.summary, AuditEvent.subject)).all()
    assert number not in str(summaries)


@pytest.mark.parametrize(
    ("bad", "field", "message"),
    [
        ({"id_number": "320102200803010013"}, "id_number", "check character"),
        ({"id_number": "3201022008030100"}, "id_number", "18 characters"),
        ({"id_number": "320102200802300011"}, "id_number", "birth date"),
        ({"id_number": 320102200803010012}, "id_number", "18-character"),
        ({"status": "registered_poor"}, "status", "not a status civil_affairs sends"),
        ({"status": "millionaire"}, "status", "allowed: subsistence_allowance"),
        ({"valid_from": "2020-05-01", "valid_to": "2020-04-30"}, "valid_to", "after valid_from"),
        ({"valid_from": "2020-05-01", "valid_to": "2020-05-01"}, "valid_to", "after valid_from"),
        ({"valid_from": "2020/05/01"}, "valid_from", "YYYY-MM-DD"),
        ({"valid_from": "20200501"}, "valid_from", "YYYY-MM-DD"),
        ({"valid_from": "2020-02-30"}, "valid_from", "YYYY-MM-DD"),
        ({"valid_to": 20210101}, "valid_to", "YYYY-MM-DD"),
        ({"name": 42}, "name", "string"),
        ({"name": "   "}, "name", "non-empty"),
        ({"name": "名" * 65}, "name", "at most 64"),
        ({"attributes": ["x"]}, "attributes", "object"),
        ({"colour": "red"}, "colour", "unknown field"),
    ],
)
def test_each_bad_record_is_rejected_by_index_and_field_and_only_the_good_ones_apply(
    client: FlaskClient, token: str, enrolled: list[int], bad: dict[str, Any], field: str, message: str
) -> None:
    good = record(person(7001), "subsistence_allowance")
    wrong = {**record(id_number(2), "orphan"), **bad}
    response = post(client, token, {"batch_id": "B-1", "records": [good, wrong]})
    rejection = only_rejection(response)
    assert rejection["index"] == 1 and rejection["field"] == field and message in rejection["message"]
    assert response.json["accepted"] == 1 and response.json["matched_students"] == 1
    assert count(AgencyRecord) == 1 and count(AgencyRecord, AgencyRecord.record_index == 1) == 0


@pytest.mark.parametrize("missing", ["id_number", "name", "status", "valid_from"])
def test_a_missing_field_is_named(client: FlaskClient, token: str, enrolled: list[int], missing: str) -> None:
    wrong = record(id_number(2), "orphan")
    del wrong[missing]
    rejection = only_rejection(post(client, token, {"batch_id": "B-1", "records": [wrong]}))
    assert rejection == {"index": 0, "field": missing, "message": "is required"}
    assert count(AgencyRecord) == 0 and count(FeedBatch) == 1


def test_valid_to_and_attributes_may_be_left_out(
    client: FlaskClient, token: str, enrolled: list[int]
) -> None:
    response = post(
        client,
        token,
        {
            "batch_id": "B-1",
            "records": [
                {"id_number": id_number(2), "name": "某人", "status": "orphan", "valid_from": "2020-01-01"}
            ],
        },
    )
    assert response.json["accepted"] == 1 and response.json["rejected"] == []


def test_a_record_that_is_not_an_object_is_rejected(
    client: FlaskClient, token: str, enrolled: list[int]
) -> None:
    rejection = only_rejection(post(client, token, {"batch_id": "B-1", "records": ["320102200803010012"]}))
    assert rejection == {"index": 0, "field": "record", "message": "must be an object"}


def test_a_duplicate_person_and_status_in_one_batch_is_rejected_naming_the_first(
    client: FlaskClient, token: str, enrolled: list[int]
) -> None:
    records = [
        record(person(7001), "subsistence_allowance"),
        record(id_number(2), "orphan"),
        record(person(7001).lower(), "subsistence_allowance", "2020-03-01"),
    ]
    rejection = only_rejection(post(client, token, {"batch_id": "B-1", "records": records}))
    assert (
        rejection["index"] == 2
        and rejection["field"] == "id_number"
        and "duplicate of record 0" in rejection["message"]
    )
    assert count(AgencyRecord) == 2


@pytest.mark.parametrize(
    ("grade", "ok"), [(1, True), (4, True), (0, False), (5, False), ("2", False), (None, False)]
)
def test_disabled_needs_a_disability_grade_from_1_to_4(
    client: FlaskClient, app: Flask, grade: Any, ok: bool
) -> None:
    token = make_client(db.session, "disabled_persons_federation")
    attributes = {} if grade is None else {"disability_grade": grade}
    body = {"batch_id": "B-1", "records": [{**record(person(7001), "disabled"), "attributes": attributes}]}
    response = post(client, token, body, "/api/v1/feeds/disabled_persons_federation/batches")
    assert response.status_code == 200
    if ok:
        assert response.json["accepted"] == 1
    else:
        assert only_rejection(response)["field"] == "attributes.disability_grade"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"records": []}, "batch_id"),
        ({"batch_id": "B-1"}, "records"),
        ({"batch_id": 7, "records": []}, "batch_id"),
        ({"batch_id": "", "records": []}, "batch_id"),
        ({"batch_id": "x" * 101, "records": []}, "batch_id"),
        ({"batch_id": "B 1", "records": []}, "batch_id"),
        ({"batch_id": "B-1", "records": {"0": {}}}, "records"),
        ({"batch_id": "B-1", "records": [], "extra": 1}, "extra"),
    ],
)
def test_a_malformed_envelope_is_422_naming_the_field_and_changes_nothing(
    client: FlaskClient, token: str, body: dict[str, Any], field: str
) -> None:
    before = row_counts()
    response = post(client, token, body)
    assert response.status_code == 422, response.json
    assert field in response.json["errors"]
    assert row_counts() == before


def test_more_than_the_record_limit_is_413_naming_the_limit(client: FlaskClient, token: str) -> None:
    before = row_counts()
    records = [record(id_number(i), "orphan") for i in range(MAX_RECORDS + 1)]
    response = post(client, token, {"batch_id": "B-big", "records": records})
    assert response.status_code == 413
    assert response.mimetype == "application/problem+json" and "10000" in response.json["detail"]
    assert row_counts() == before


def test_an_unknown_source_is_404(client: FlaskClient, token: str) -> None:
    before = row_counts()
    response = post(client, token, {"batch_id": "B-1", "records": []}, "/api/v1/feeds/tax_office/batches")
    assert response.status_code == 404 and "tax_office" in response.json["detail"]
    assert row_counts() == before


def test_another_sources_endpoint_is_403(client: FlaskClient, token: str) -> None:
    before = row_counts()
    body = {"batch_id": "B-1", "records": [record(person(7001), "registered_poor")]}
    response = post(client, token, body, "/api/v1/feeds/poverty_alleviation/batches")
    assert response.status_code == 403 and "civil_affairs" in response.json["detail"]
    assert row_counts() == before


def test_a_user_token_is_403(client: FlaskClient, app: Flask) -> None:
    _user, token = make_user(db.session, "province_admin", region_code="320000")
    before = row_counts()
    response = post(client, token, {"batch_id": "B-1", "records": []})
    assert response.status_code == 403 and "agency clients" in response.json["detail"]
    assert row_counts() == before


@pytest.mark.parametrize(
    "kwargs",
    [{"expires_at": datetime.now(UTC) - timedelta(minutes=1)}, {"revoked": True}],
    ids=["expired", "revoked"],
)
def test_an_expired_or_revoked_client_token_is_401(
    client: FlaskClient, app: Flask, kwargs: dict[str, Any]
) -> None:
    token = make_client(db.session, "civil_affairs", **kwargs)
    before = row_counts()
    response = post(
        client, token, {"batch_id": "B-1", "records": [record(person(7001), "subsistence_allowance")]}
    )
    assert response.status_code == 401 and response.mimetype == "application/problem+json"
    assert row_counts() == before


def test_no_token_is_401_even_for_an_unknown_source(client: FlaskClient, app: Flask) -> None:
    response = client.post("/api/v1/feeds/tax_office/batches", json={"batch_id": "B-1", "records": []})
    assert response.status_code == 401


def test_a_replay_returns_the_first_answer_and_changes_nothing(
    client: FlaskClient, token: str, enrolled: list[int]
) -> None:
    body = {
        "batch_id": "B-1",
        "records": [record(person(7001), "subsistence_allowance"), record("320102200803010013", "orphan")],
    }
    first = post(client, token, body)
    before = row_counts()
    again = post(
        client, token, {"records": body["records"], "batch_id": "B-1"}
    )  # same content, other key order
    assert again.status_code == 200 and again.json == first.json
    assert row_counts() == before


def test_the_same_batch_id_with_another_body_is_409_and_changes_nothing(
    client: FlaskClient, token: str, enrolled: list[int]
) -> None:
    post(client, token, {"batch_id": "B-1", "records": [record(person(7001), "subsistence_allowance")]})
    before = row_counts()
    response = post(client, token, {"batch_id": "B-1", "records": [record(id_number(2), "orphan")]})
    assert response.status_code == 409 and "B-1" in response.json["detail"]
    assert row_counts() == before


def test_the_same_batch_id_from_another_source_is_another_batch(
    client: FlaskClient, token: str, enrolled: list[int]
) -> None:
    other = make_client(db.session, "poverty_alleviation")
    post(client, token, {"batch_id": "B-1", "records": [record(person(7001), "subsistence_allowance")]})
    response = post(
        client,
        other,
        {"batch_id": "B-1", "records": [record(person(7001), "registered_poor")]},
        "/api/v1/feeds/poverty_alleviation/batches",
    )
    assert response.status_code == 200 and response.json["accepted"] == 1
    assert count(FeedBatch) == 2


def test_a_batch_with_only_rejected_records_is_still_remembered(
    client: FlaskClient, token: str, enrolled: list[int]
) -> None:
    body = {"batch_id": "B-1", "records": [record("320102200803010013", "orphan")]}
    first = post(client, token, body)
    assert first.json["accepted"] == 0 and len(first.json["rejected"]) == 1
    assert post(client, token, body).json == first.json and count(FeedBatch) == 1


def test_reevaluated_counts_only_students_whose_level_or_awards_changed(
    client: FlaskClient, token: str, enrolled: list[int]
) -> None:
    post(client, token, {"batch_id": "B-1", "records": [record(person(7001), "subsistence_allowance")]})
    # the same status again, from another date: new record, same outcome
    response = post(
        client,
        token,
        {"batch_id": "B-2", "records": [record(person(7001), "subsistence_allowance", "2019-06-01")]},
    )
    assert response.json["matched_students"] == 1 and response.json["reevaluated"] == 0


def test_the_endpoint_is_documented(client: FlaskClient) -> None:
    spec = client.get("/api/v1/openapi.json").json
    assert "/api/v1/feeds/{source}/batches" in spec["paths"]
    assert "/api/v1/feeds/{source}/outcomes" in spec["paths"]
    sources = spec["components"]["schemas"]["AgencyStatuses"]["properties"]
    assert list(sources) == [
        "poverty_alleviation",
        "civil_affairs",
        "disabled_persons_federation",
        "veterans_affairs",
    ]
    assert sources["civil_affairs"]["enum"] == [
        "subsistence_allowance",
        "extreme_poverty_support",
        "orphan",
        "de_facto_orphan",
    ]
    assert sources["disabled_persons_federation"]["x-attributes"] == {
        "disabled": [{"name": "disability_grade", "fact": "disability_grade", "required": True}]
    }


@pytest.fixture(params=["per_student", "columnar"])
def path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Both re-determination paths: student by student, and the columnar frame (from one student on)."""
    from aidservice.services.determinations import students as determinations

    if request.param == "columnar":
        monkeypatch.setattr(determinations, "VECTOR_MIN", 1)
    return str(request.param)


def determinations_of(student_pk: int) -> list[tuple[int, str]]:
    return [(d.seq, d.cause) for d in history(student_pk)]


@pytest.mark.parametrize(
    ("again", "changes"),
    [
        (
            record(person(7001), "subsistence_allowance", "2019-06-01"),
            False,
        ),  # re-sent, still valid: same facts
        (
            record(person(7001), "subsistence_allowance", "2019-06-01", "2020-03-01"),
            True,
        ),  # ended before as_of
        (record(person(7001), "subsistence_allowance", "2024-01-01"), True),  # starts after as_of
    ],
)
def test_only_a_record_that_changes_the_students_facts_makes_a_new_determination(
    client: FlaskClient, token: str, enrolled: list[int], path: str, again: dict[str, Any], changes: bool
) -> None:
    post(client, token, {"batch_id": "B-1", "records": [record(person(7001), "subsistence_allowance")]})
    before = determinations_of(enrolled[0])
    response = post(client, token, {"batch_id": "B-2", "records": [again]})
    assert response.status_code == 200, response.json
    # a record starting after the rules' coverage (2024) is no match information (issue 16), yet as a correction
    # of the record that reached the student it still re-determines them
    assert response.json["matched_students"] == (0 if again["valid_from"] == "2024-01-01" else 1)
    after = determinations_of(enrolled[0])
    if not changes:
        assert after == before and response.json["reevaluated"] == 0
        return
    assert after[:-1] == before and after[-1][1] == "feed:civil_affairs/B-2"
    assert "subsistence_allowance" not in current(enrolled[0]).facts
    assert response.json["reevaluated"] == 1


def test_a_second_guardians_household_record_adds_no_fact_and_no_determination(
    client: FlaskClient, token: str, app: Flask, path: str
) -> None:
    pk = student("S9", school(stages=("junior",)), seed=9, guardians=[7091, 7092]).id
    post(client, token, {"batch_id": "B-1", "records": [record(person(7091), "subsistence_allowance")]})
    before = determinations_of(pk)
    response = post(
        client, token, {"batch_id": "B-2", "records": [record(person(7092), "subsistence_allowance")]}
    )
    assert response.json["matched_students"] == 1 and response.json["reevaluated"] == 0
    assert determinations_of(pk) == before and len(before) == 1
    # the fact still stands on the first guardian's record, which the stored determination cites
    (first,) = db.session.scalars(
        sa.select(AgencyRecord.id).where(AgencyRecord.batch_pk == FeedBatch.id, FeedBatch.batch_id == "B-1")
    )
    assert current(pk).facts["subsistence_allowance"]["record_ids"] == [first]


def test_a_new_disability_grade_is_a_changed_fact(client: FlaskClient, app: Flask, path: str) -> None:
    token = make_client(db.session, "disabled_persons_federation")
    url = "/api/v1/feeds/disabled_persons_federation/batches"
    pk = student("S8", school(stages=("junior",)), seed=8).id
    post(
        client,
        token,
        {"batch_id": "D-1", "records": [record(id_number(8), "disabled", disability_grade=3)]},
        url,
    )
    same = post(
        client,
        token,
        {"batch_id": "D-2", "records": [record(id_number(8), "disabled", "2019-01-01", disability_grade=3)]},
        url,
    )
    assert len(history(pk)) == 1 and same.json["matched_students"] == 1
    post(
        client,
        token,
        {"batch_id": "D-3", "records": [record(id_number(8), "disabled", disability_grade=1)]},
        url,
    )
    assert len(history(pk)) == 2 and current(pk).facts["disability_grade"]["value"] == 1
