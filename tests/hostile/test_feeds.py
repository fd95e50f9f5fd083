"""Hostile agency feed records and identity numbers (issue 15, item 4; item 1's bounds for feed records).

Each probe is one record among good ones: the bad record is rejected by index and field, fast, stores
nothing, the good ones are stored and counted, and replaying the batch returns the first answer. NaN and
Infinity are sent as JSON text tokens (the JSON parser hands them over as Python floats), on both databases.
"""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from aidservice.extensions import db
from aidservice.models import AgencyRecord, FeedBatch, Guardian, Student
from aidservice.services.accounts import id_probes
from aidservice.services.accounts.auth import resolve_token
from aidservice.services.errors import ValidationFailed
from tests.log_scan_support import render
from tests.timing_support import FAST, work_clock
from tests.world.factories import bearer, id_number, make_client, make_user
from tests.world.feeds import (
    apply,
    client_actor,
    count,
    person,
    record,
    row_counts,
    school,
    settings_for,
    student,
)

pytestmark = pytest.mark.databases

ARABIC_INDIC = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")
FULL_WIDTH = str.maketrans("0123456789", "０１２３４５６７８９")


def arabic_indic(number: str) -> str:
    return number.translate(ARABIC_INDIC)


def full_width(number: str) -> str:
    return number.translate(FULL_WIDTH)


ODD_DIGITS: dict[str, Callable[[str], str]] = {
    "arabic-indic": arabic_indic,
    "arabic-indic-ascii-check": lambda n: arabic_indic(n[:17]) + n[17],  # passed the old checks, then a 500
    "full-width": full_width,  # python-stdnum quietly mapped these to ASCII: accepted before
    "one-superscript": lambda n: n[:6] + "²" + n[7:],  # str.isdigit() but not int(): a 500 before
}


# ------------------------------------------------------------------------------------------------ helpers


def url(source: str) -> str:
    return f"/api/v1/feeds/{source}/batches"


def post_text(client: FlaskClient, token: str, source: str, text: str) -> tuple[Any, float]:
    """POST a raw JSON text (NaN and Infinity stay tokens); the response and the seconds it took."""
    started = work_clock()
    response = client.post(url(source), data=text, content_type="application/json", headers=bearer(token))
    return response, work_clock() - started


def body_text(batch_id: str, records: list[Any]) -> str:
    """json.dumps writes float nan/inf as the tokens NaN, Infinity, -Infinity: what a hostile client sends."""
    return json.dumps({"batch_id": batch_id, "records": records}, ensure_ascii=False)


def stored_indexes() -> list[int]:
    return sorted(db.session.execute(sa.select(AgencyRecord.record_index)).scalars())


def assert_rejected_alone(
    response: Any, elapsed: float, index: int, field: str, total: int
) -> dict[str, Any]:
    """200; only record `index` rejected, naming `field`; the others accepted and stored; within FAST."""
    assert response.status_code == 200, response.get_data(as_text=True)[:2000]
    assert elapsed < FAST, elapsed
    answer = response.get_json()
    assert {r["index"] for r in answer["rejected"]} == {index}, answer
    assert field in {r["field"] for r in answer["rejected"]}, answer
    assert answer["accepted"] == total - 1, answer
    assert stored_indexes() == [i for i in range(total) if i != index]
    return answer


def assert_replay_is_the_first_answer(
    client: FlaskClient, token: str, source: str, text: str, first: dict[str, Any]
) -> None:
    before = row_counts()
    again, elapsed = post_text(client, token, source, text)
    assert again.status_code == 200 and again.get_json() == first and elapsed < FAST
    assert row_counts() == before


@pytest.fixture
def civil(app: Flask) -> str:
    """A civil_affairs client's token, with one enrolled student (seed 1) whose guardian is person(7001)."""
    at = school(stages=("junior",))
    student("S1", at, seed=1, guardians=[7001])
    return make_client(db.session, "civil_affairs")


@pytest.fixture
def disabled_federation(app: Flask) -> str:
    return make_client(db.session, "disabled_persons_federation")


def good(seed: int) -> dict[str, Any]:
    return record(person(seed), "subsistence_allowance")


def probe_batch(bad: dict[str, Any]) -> list[dict[str, Any]]:
    """Good, bad, good: the bad record is index 1."""
    return [good(7001), bad, good(7003)]


# ------------------------------------------------------------------------------------ ID numbers in feeds


@pytest.mark.parametrize("kind", sorted(ODD_DIGITS))
def test_an_id_number_in_unicode_digits_is_rejected_by_index_and_the_rest_applies(
    client: FlaskClient, civil: str, kind: str
) -> None:
    bad = record(ODD_DIGITS[kind](id_number(2)), "orphan")
    text = body_text(f"B-{kind}", probe_batch(bad))
    response, elapsed = post_text(client, civil, "civil_affairs", text)
    answer = assert_rejected_alone(response, elapsed, 1, "id_number", 3)
    assert "ASCII digits" in answer["rejected"][0]["message"]
    assert answer["matched_students"] == 1  # the guardian's record reached S1
    assert_replay_is_the_first_answer(client, civil, "civil_affairs", text, answer)


# ------------------------------------------------------------------------------- NaN and Infinity anywhere


NON_FINITE = {"NaN": float("nan"), "Infinity": float("inf"), "-Infinity": float("-inf")}
PLACES: dict[str, Callable[[dict[str, Any], float], None]] = {
    "id_number": lambda r, v: r.update(id_number=v),
    "name": lambda r, v: r.update(name=v),
    "status": lambda r, v: r.update(status=v),
    "valid_from": lambda r, v: r.update(valid_from=v),
    "valid_to": lambda r, v: r.update(valid_to=v),
    "attributes": lambda r, v: r.update(attributes=v),
    "attributes.note": lambda r, v: r.update(attributes={"note": v}),
    "attributes.disability_grade": lambda r, v: r.update(attributes={"disability_grade": v}),
}


@pytest.mark.parametrize("token_text", sorted(NON_FINITE))
@pytest.mark.parametrize("place", sorted(PLACES))
def test_nan_or_infinity_in_a_record_is_rejected_by_index_naming_the_field(
    client: FlaskClient, civil: str, place: str, token_text: str
) -> None:
    bad = record(id_number(2), "orphan")
    PLACES[place](bad, NON_FINITE[token_text])
    text = body_text("B-nan", probe_batch(bad))
    assert token_text in text  # sent as the bare token, not a string
    response, elapsed = post_text(client, civil, "civil_affairs", text)
    answer = assert_rejected_alone(response, elapsed, 1, place, 3)
    assert_replay_is_the_first_answer(client, civil, "civil_affairs", text, answer)


@pytest.mark.parametrize("token_text", sorted(NON_FINITE))
def test_nan_or_infinity_as_a_disabled_persons_grade_is_rejected_naming_the_grade(
    client: FlaskClient, disabled_federation: str, token_text: str
) -> None:
    records = [
        record(person(7001), "disabled", disability_grade=2),
        record(person(7002), "disabled", disability_grade=NON_FINITE[token_text]),
    ]
    response, elapsed = post_text(
        client, disabled_federation, "disabled_persons_federation", body_text("B-grade", records)
    )
    answer = assert_rejected_alone(response, elapsed, 1, "attributes.disability_grade", 2)
    assert answer["rejected"][0]["message"].startswith("must be a finite number")


def test_a_5000_digit_disability_grade_is_rejected_by_index_naming_the_grade(
    client: FlaskClient, disabled_federation: str
) -> None:
    records = [
        record(person(7001), "disabled", disability_grade=2),
        record(person(7002), "disabled", disability_grade="GRADE"),
    ]
    text = body_text("B-5000", records).replace('"GRADE"', "9" * 5000)
    response, elapsed = post_text(client, disabled_federation, "disabled_persons_federation", text)
    answer = assert_rejected_alone(response, elapsed, 1, "attributes.disability_grade", 2)
    assert_replay_is_the_first_answer(
        client, disabled_federation, "disabled_persons_federation", text, answer
    )


@pytest.mark.parametrize(
    "grade",
    [float("inf"), 10**4000, -(10**40), 1e40, True, 2.0, "2", 0, 5],
    ids=["inf", "4001-digits", "minus-41-digits", "1e40", "true", "2.0", "text", "0", "5"],
)
def test_a_disability_grade_that_is_not_an_integer_1_to_4_is_rejected_by_the_service(
    app: Flask, grade: Any
) -> None:
    """What any parser (or a Python caller) may hand the service: rejected per record, fast, nothing stored."""
    actor, _token = client_actor("disabled_persons_federation")
    records = [record(person(7001), "disabled", disability_grade=2), record(person(7002), "disabled")]
    records[1]["attributes"] = {"disability_grade": grade}
    started = work_clock()
    outcome = apply(app, actor, "disabled_persons_federation", "B-svc", records)
    assert work_clock() - started < FAST
    assert [(r["index"], r["field"]) for r in outcome.response["rejected"]] == [
        (1, "attributes.disability_grade")
    ]
    assert stored_indexes() == [0]


def test_an_integer_too_long_to_write_out_is_a_422_naming_records_from_the_service(app: Flask) -> None:
    """Past Python's 4,300-digit limit an integer cannot even be hashed as text: a Python caller's batch is refused
    whole, naming `records`, and nothing is stored (through HTTP the JSON parser never hands such an integer on)."""
    actor, _token = client_actor("disabled_persons_federation")
    records = [
        record(person(7001), "disabled", disability_grade=2),
        record(person(7002), "disabled", disability_grade=10**5000),
    ]
    started = work_clock()
    with pytest.raises(ValidationFailed) as refused:
        apply(app, actor, "disabled_persons_federation", "B-long", records)
    assert work_clock() - started < FAST
    assert set(refused.value.errors) == {"records"}
    assert count(AgencyRecord) == 0 and count(FeedBatch) == 0


# ---------------------------------------------------------------------------------------- validity dates


RANGE_MESSAGE = "must be a date between 1900-01-01 and 2100-12-31"
OUT_OF_RANGE = [
    "0001-01-01",
    "1899-12-31",
    "2101-01-01",
    "9999-12-31",
    "+10000-01-01",
    "-0001-01-01",
    "12345678901234567890-01-01",
    "٢٠٢٠-٠١-٠١",
    "２０２０-０１-０１",
    "2020-01-01\n",
]


@pytest.mark.parametrize("value", OUT_OF_RANGE)
@pytest.mark.parametrize("field", ["valid_from", "valid_to"])
def test_a_validity_date_outside_1900_to_2100_is_rejected_by_index_naming_the_field(
    client: FlaskClient, civil: str, field: str, value: str
) -> None:
    bad = {**record(id_number(2), "orphan", valid_from="1990-01-01"), field: value}
    text = body_text("B-date", probe_batch(bad))
    response, elapsed = post_text(client, civil, "civil_affairs", text)
    answer = assert_rejected_alone(response, elapsed, 1, field, 3)
    (rejection,) = answer["rejected"]  # out of range, not also "before valid_from"
    in_format = value[:4].isascii() and value[:4].isdigit() and len(value) == 10
    assert rejection["message"] == (RANGE_MESSAGE if in_format else "must be a date as YYYY-MM-DD"), rejection
    assert_replay_is_the_first_answer(client, civil, "civil_affairs", text, answer)


@pytest.mark.parametrize(("valid_from", "valid_to"), [("1900-01-01", "2100-12-31"), ("2020-01-01", None)])
def test_validity_dates_at_the_bounds_are_accepted(
    client: FlaskClient, civil: str, valid_from: str, valid_to: str | None
) -> None:
    response, elapsed = post_text(
        client,
        civil,
        "civil_affairs",
        body_text("B-edge", [record(id_number(2), "orphan", valid_from=valid_from, valid_to=valid_to)]),
    )
    assert response.status_code == 200 and response.get_json()["accepted"] == 1 and elapsed < FAST


def test_a_valid_to_before_valid_from_is_rejected_naming_valid_to(client: FlaskClient, civil: str) -> None:
    bad = record(id_number(2), "orphan", valid_from="2020-05-01", valid_to="1950-01-01")
    response, elapsed = post_text(client, civil, "civil_affairs", body_text("B-order", probe_batch(bad)))
    answer = assert_rejected_alone(response, elapsed, 1, "valid_to", 3)
    assert answer["rejected"][0]["message"] == "must be after valid_from"


# ----------------------------------------------------------------------------------- attribute bounds


ATTRIBUTES: dict[str, tuple[Any, str]] = {
    "too-many-keys": ({f"k{i}": i for i in range(17)}, "attributes"),
    "long-key": ({"k" * 65: 1}, "attributes"),
    "empty-key": ({"": 1}, "attributes"),
    "long-text": ({"note": "x" * 257}, "attributes.note"),
    "list-value": ({"note": [1, 2]}, "attributes.note"),
    "object-value": ({"note": {"deep": {"deeper": 1}}}, "attributes.note"),
    "huge-integer": ({"n": 10**16}, "attributes.n"),
    "huge-decimal": ({"n": -1e300}, "attributes.n"),
    "grade-as-text": ({"disability_grade": "2"}, "attributes.disability_grade"),
    "attributes-as-list": (["x"], "attributes"),
}


@pytest.mark.parametrize("probe", sorted(ATTRIBUTES))
def test_attributes_past_their_bounds_are_rejected_by_index_naming_the_field(
    client: FlaskClient, civil: str, probe: str
) -> None:
    attributes, field = ATTRIBUTES[probe]
    bad = {**record(id_number(2), "orphan"), "attributes": attributes}
    text = body_text("B-attr", probe_batch(bad))
    response, elapsed = post_text(client, civil, "civil_affairs", text)
    answer = assert_rejected_alone(response, elapsed, 1, field, 3)
    assert all(
        len(r["field"]) <= 80 and len(r["message"]) <= 200 for r in answer["rejected"]
    )  # nothing echoed whole
    assert_replay_is_the_first_answer(client, civil, "civil_affairs", text, answer)


def test_plain_attributes_at_their_bounds_are_stored_as_sent(client: FlaskClient, civil: str) -> None:
    attributes = {
        "note": "备" * 256,
        "flag": True,
        "none": None,
        "n": 10**15,
        "x": -0.5,
        **{f"k{i}": i for i in range(11)},
    }
    assert len(attributes) == 16
    response, elapsed = post_text(
        client,
        civil,
        "civil_affairs",
        body_text("B-plain", [{**record(id_number(2), "orphan"), "attributes": attributes}]),
    )
    assert response.status_code == 200 and response.get_json()["accepted"] == 1 and elapsed < FAST
    assert db.session.execute(sa.select(AgencyRecord.attributes)).scalar_one() == attributes


def test_a_record_with_hundreds_of_unknown_fields_is_one_rejection_naming_the_record(
    client: FlaskClient, civil: str
) -> None:
    bad = {**record(id_number(2), "orphan"), **{f"x{i}": i for i in range(900)}, "y" * 10_000: 1}
    response, elapsed = post_text(client, civil, "civil_affairs", body_text("B-wide", probe_batch(bad)))
    answer = assert_rejected_alone(response, elapsed, 1, "record", 3)
    assert len(answer["rejected"]) == 1 and "901 unknown fields" in answer["rejected"][0]["message"]


def test_a_record_with_thousands_of_fields_is_refused_with_the_whole_body(
    client: FlaskClient, civil: str
) -> None:
    """Past the JSON bound of 1,000 keys per object the body is not read at all (aidservice/jsonbody.py)."""
    before = row_counts()
    bad = {**record(id_number(2), "orphan"), **{f"x{i}": i for i in range(5000)}}
    response, elapsed = post_text(client, civil, "civil_affairs", body_text("B-wider", probe_batch(bad)))
    assert response.status_code == 400 and elapsed < FAST
    assert response.get_json()["errors"] == {"body": ["an object with more than 1000 keys"]}
    assert row_counts() == before


def test_a_long_status_is_not_echoed_back(client: FlaskClient, civil: str) -> None:
    bad = record(id_number(2), "s" * 100_000)
    response, elapsed = post_text(client, civil, "civil_affairs", body_text("B-status", probe_batch(bad)))
    answer = assert_rejected_alone(response, elapsed, 1, "status", 3)
    assert len(answer["rejected"][0]["message"]) < 200


# ---------------------------------------------------------------------------------------- a mixed batch


def test_a_batch_mixing_every_probe_with_good_records_applies_and_counts_the_good_ones(
    client: FlaskClient, civil: str
) -> None:
    nan, inf = float("nan"), float("inf")
    bad = [
        record(arabic_indic(id_number(2)), "orphan"),
        record(full_width(id_number(3)), "orphan"),
        {**record(id_number(4), "orphan"), "name": nan},
        {**record(id_number(5), "orphan"), "attributes": {"note": inf, "more": {"deep": -inf}}},
        record(id_number(6), "orphan", valid_from="0001-01-01"),
        record(id_number(7), "orphan", valid_to="9999-12-31"),
        record(id_number(8), "orphan", valid_from="+10000-01-01"),
    ]
    goods = [good(7001), record(id_number(9), "orphan"), good(7010)]
    records = [goods[0], *bad[:4], goods[1], *bad[4:], goods[2]]
    text = body_text("B-mix", records)
    started = work_clock()
    response = client.post(
        url("civil_affairs"), data=text, content_type="application/json", headers=bearer(civil)
    )
    elapsed = work_clock() - started
    assert response.status_code == 200, response.get_data(as_text=True)[:2000]
    answer = response.get_json()
    good_indexes = [0, 5, 9]
    assert answer["accepted"] == 3 and elapsed < FAST
    assert {r["index"] for r in answer["rejected"]} == set(range(10)) - set(good_indexes)
    assert {(r["index"], r["field"]) for r in answer["rejected"]} >= {
        (1, "id_number"),
        (2, "id_number"),
        (3, "name"),
        (4, "attributes.note"),
        (4, "attributes.more"),
        (6, "valid_from"),
        (7, "valid_to"),
        (8, "valid_from"),
    }
    assert stored_indexes() == good_indexes
    assert_replay_is_the_first_answer(client, civil, "civil_affairs", text, answer)
    other = client.post(
        url("civil_affairs"),
        data=body_text("B-mix", goods),
        content_type="application/json",
        headers=bearer(civil),
    )
    assert other.status_code == 409 and stored_indexes() == good_indexes


# ------------------------------------------------------------------------------------------------- logs


def test_nothing_from_a_hostile_record_reaches_a_log_record(
    client: FlaskClient, civil: str, caplog: pytest.LogCaptureFixture
) -> None:
    secrets = [
        "敌意姓名",
        "HOSTILE-VALUE-7f3a",
        person(7020),
        arabic_indic(person(7021)),
        full_width(person(7022)),
    ]
    records = [
        {
            **record(person(7020), "subsistence_allowance"),
            "name": secrets[0],
            "attributes": {"note": secrets[1], "bad": float("nan")},
        },
        record(secrets[3], "subsistence_allowance"),
        {**record(secrets[4], "orphan"), "name": secrets[0], "extra": secrets[1]},
        {
            **record(person(7023), "orphan"),
            "status": secrets[1],
            "attributes": {"disability_grade": secrets[1]},
        },
        record(person(7024), "subsistence_allowance", valid_from=secrets[1]),
    ]
    with caplog.at_level(logging.DEBUG):
        response, _elapsed = post_text(client, civil, "civil_affairs", body_text("B-log", records))
        replay, _elapsed = post_text(client, civil, "civil_affairs", body_text("B-log", records))
    assert response.status_code == 200 and replay.status_code == 200
    assert caplog.records  # the access lines at least
    for logged in caplog.records:
        text = render(logged)
        assert not [s for s in secrets if s in text], text


# ------------------------------------------------------------------------- ID numbers everywhere else


@pytest.fixture
def officer(app: Flask) -> str:
    school("S1", stages=("junior",))
    _user, token = make_user(db.session, "school_officer", school_code="S1")
    db.session.commit()
    return token


def student_body(number: str, guardian: str) -> dict[str, Any]:
    return {
        "id_number": number,
        "name": "李四",
        "school_code": "S1",
        "class_name": "初一(2)班",
        "stage": "junior",
        "grade": 1,
        "guardians": [{"id_number": guardian, "name": "李父", "relation": "father"}],
    }


@pytest.mark.parametrize("kind", sorted(ODD_DIGITS))
@pytest.mark.parametrize("field", ["id_number", "guardians.0.id_number"])
def test_put_student_with_an_id_number_in_unicode_digits_is_a_422_naming_the_field(
    client: FlaskClient, officer: str, field: str, kind: str
) -> None:
    number, guardian = id_number(101), person(201)
    if field == "id_number":
        number = ODD_DIGITS[kind](number)
    else:
        guardian = ODD_DIGITS[kind](guardian)
    started = work_clock()
    response = client.put("/api/v1/students/P1", json=student_body(number, guardian), headers=bearer(officer))
    assert work_clock() - started < FAST
    assert response.status_code == 422 and response.mimetype == "application/problem+json", response.json
    assert set(response.json["errors"]) == {field} and "ASCII digits" in response.json["errors"][field][0]
    assert count(Student) == 0 and count(Guardian) == 0


@pytest.mark.parametrize("kind", sorted(ODD_DIGITS))
def test_an_import_row_with_an_id_number_in_unicode_digits_is_rejected_by_row(
    client: FlaskClient, officer: str, kind: str
) -> None:
    header = "student_id,id_number,name,class_name,stage,grade,guardian1_id_number,guardian1_name,guardian1_relation"
    rows = [
        f"I1,{id_number(401)},学生,一班,junior,1,{person(5401)},父亲,father",
        f"I2,{ODD_DIGITS[kind](id_number(402))},学生,一班,junior,1,{person(5402)},父亲,father",
        f"I3,{id_number(403)},学生,一班,junior,1,{ODD_DIGITS[kind](person(5403))},父亲,father",
    ]
    content = "\r\n".join([header, *rows]).encode("utf-8")
    started = work_clock()
    response = client.post(
        "/api/v1/students/import?partial=true",
        data={"file": (io.BytesIO(content), "roster.csv")},
        headers=bearer(officer),
        content_type="multipart/form-data",
    )
    assert work_clock() - started < FAST * 3  # an import re-determines the students it writes
    assert response.status_code == 200, response.get_data(as_text=True)[:2000]
    assert [(r["row"], r["field"]) for r in response.json["rejected"]] == [
        (3, "id_number"),
        (4, "guardian1_id_number"),
    ]
    assert response.json["created"] == 1
    assert db.session.execute(sa.select(Student.student_id)).scalars().all() == ["I1"]


@pytest.mark.parametrize("kind", sorted(ODD_DIGITS))
def test_a_lookup_by_an_id_number_in_unicode_digits_is_a_422_naming_id_number(app: Flask, kind: str) -> None:
    school("S1", stages=("junior",))
    _user, token = make_user(db.session, "school_officer", school_code="S1")  # a role that may look up
    budget = id_probes.Budget(id_probes.MemoryProbeCounter(), "test-secret")
    with pytest.raises(ValidationFailed) as refused:
        id_probes.find_by_id_number(
            db.session,
            actor=resolve_token(db.session, token),
            settings=settings_for(app),
            budget=budget,
            id_number=ODD_DIGITS[kind](id_number(101)),
        )
    assert set(refused.value.errors) == {"id_number"}
