"""The feed's record validation: the fast path accepts exactly what the full checks accept; stored text round-trips."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aidservice.extensions import db
from aidservice.identity import id_hmac
from aidservice.models import AgencyRecord
from aidservice.services.registry.feed_records import CANONICAL_ID, RecordChecker, Rejection
from tests.fuzz.test_loaders_fuzz import (
    ALL_STATUSES,
    DATES,
    ID_NUMBERS,
    JSON,
    JSON_SCALARS,
    NASTY_TEXT,
    _record_fields,
)
from tests.world.factories import bearer, id_number, make_client
from tests.world.feeds import apply, client_actor, person, record
from tests.world.vocabulary import agency_statuses, shipped_rules

TODAY = date(2026, 11, 27)
KEY = "test-hmac-key"
SOURCE_STATUSES = agency_statuses()


def _slow(checker: RecordChecker, index: int, raw: Any) -> tuple[Any, list[Rejection]]:
    problems: list[Rejection] = []
    return checker.record(index, raw, problems), problems


def _nearly_valid(source: str) -> st.SearchStrategy[dict[str, Any]]:
    """A valid record of the source with up to two fields replaced by junk, or left out."""
    statuses = SOURCE_STATUSES[source]
    base = st.builds(
        lambda seed, status, grade, ended: {
            **record(
                person(seed) if seed % 2 else id_number(seed),
                status,
                valid_to="2021-06-30" if ended else None,
            ),
            "attributes": {"disability_grade": grade} if status == "disabled" else {},
        },
        st.integers(min_value=1, max_value=999),
        st.sampled_from(statuses),
        st.integers(min_value=1, max_value=4),
        st.booleans(),
    )
    fields = {
        "id_number": ID_NUMBERS,
        "name": NASTY_TEXT,
        "status": st.sampled_from(ALL_STATUSES) | NASTY_TEXT,
        "valid_from": DATES,
        "valid_to": DATES | st.none(),
        "attributes": st.none()
        | st.fixed_dictionaries({"disability_grade": st.integers(-1, 6) | JSON_SCALARS})
        | st.dictionaries(NASTY_TEXT, JSON, max_size=2)
        | JSON,
        "extra": JSON,
    }
    change = st.lists(st.sampled_from(sorted(fields)), max_size=2, unique=True).flatmap(
        lambda names: st.fixed_dictionaries({name: fields[name] | st.just(DROP) for name in names})
    )
    return st.tuples(base, change).map(
        lambda pair: {k: v for k, v in {**pair[0], **pair[1]}.items() if v is not DROP}
    )


DROP = object()


@settings(
    max_examples=400,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(source=st.sampled_from(sorted(SOURCE_STATUSES)), data=st.data())
def test_the_fast_path_accepts_only_what_the_full_checks_accept_and_parses_it_the_same(
    source: str, data: st.DataObject
) -> None:
    raw = data.draw(st.one_of(_record_fields(source), JSON, _nearly_valid(source)), label="record")
    checker = RecordChecker(shipped_rules(), source, KEY, TODAY)
    fast = checker.valid(3, raw)
    slow, problems = _slow(checker, 3, raw)
    if fast is not None:
        assert problems == [] and slow == fast
    elif slow is not None and not problems:
        # accepted only by the full checks: a number that was not in canonical form (lower-case x, spaces)
        assert not CANONICAL_ID.match(raw["id_number"]), raw


@pytest.mark.parametrize(
    "raw",
    [
        record(id_number(2), "orphan"),
        record(person(7001), "subsistence_allowance", valid_to="2021-06-30"),
        {"id_number": id_number(2), "name": " 某人 ", "status": "orphan", "valid_from": "2020-01-01"},
        {**record(id_number(3), "orphan"), "attributes": {"note": 'a\\b\t"c"'}},
    ],
)
def test_canonical_valid_records_take_the_fast_path(raw: dict[str, Any]) -> None:
    checker = RecordChecker(shipped_rules(), "civil_affairs", KEY, TODAY)
    fast = checker.valid(0, raw)
    assert fast is not None
    assert fast == _slow(checker, 0, raw)[0]
    assert fast.person_mask == raw["id_number"][:6] + "*" * 11 + raw["id_number"][-1:]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"id_number": id_number(2)[:-1] + ("0" if id_number(2)[-1] != "0" else "1")}, "id_number"),
        ({"name": "   "}, "name"),
        ({"name": "x" * 65}, "name"),
        ({"status": "registered_poor"}, "status"),
        ({"valid_from": "2020-02-30"}, "valid_from"),
        ({"valid_to": "2019-12-31"}, "valid_to"),
        ({"valid_to": "2020-01-01"}, "valid_to"),
        ({"attributes": []}, "attributes"),
        ({"extra": 1}, "extra"),
    ],
)
def test_a_record_with_a_problem_never_takes_the_fast_path(change: dict[str, Any], field: str) -> None:
    checker = RecordChecker(shipped_rules(), "civil_affairs", KEY, TODAY)
    raw = {**record(id_number(2), "orphan"), **change}
    assert checker.valid(0, raw) is None
    checked = checker.check([raw])
    assert checked.records == [] and [r.field for r in checked.rejected] == [field]


@pytest.mark.databases
def test_names_with_backslashes_and_attributes_with_tabs_and_newlines_are_stored_as_sent(
    app: Flask, client: FlaskClient
) -> None:
    """What bulk writers escape (COPY's tab, newline, backslash and \\N) is stored as sent. A name is one line
    (tests/security/test_free_text.py refuses tabs and line breaks in it); an attribute's text may hold them."""
    token = make_client(db.session, "civil_affairs")
    texts = ["张\t三", "back\\slash", "two\nlines", "cr\rhere", "\\N", "plain"]
    names = ["张三", "back\\slash", 'quote"d', "\\t", "\\N", "plain"]
    records = [
        {
            **record(person(8000 + i), "subsistence_allowance"),
            "name": name,
            "attributes": {"note": text, "quote": '"\\', "n": i},
        }
        for i, (name, text) in enumerate(zip(names, texts, strict=True))
    ]
    response = client.post(
        "/api/v1/feeds/civil_affairs/batches",
        json={"batch_id": "B-esc", "records": records},
        headers=bearer(token),
    )
    assert response.status_code == 200 and response.json["accepted"] == len(names), response.json
    stored = db.session.execute(
        sa.select(
            AgencyRecord.record_index, AgencyRecord.name, AgencyRecord.attributes, AgencyRecord.valid_to
        ).order_by(AgencyRecord.record_index)
    ).all()
    assert [(i, n, a, t) for i, n, a, t in stored] == [
        (i, name, {"note": text, "quote": '"\\', "n": i}, None)
        for i, (name, text) in enumerate(zip(names, texts, strict=True))
    ]


@pytest.mark.databases
def test_a_batch_transaction_on_postgresql_runs_without_jit(app: Flask) -> None:
    """The probe queries look costly to the planner but are index lookups: JIT compiling them only adds time."""
    actor, _token = client_actor("civil_affairs")
    apply(app, actor, "civil_affairs", "B-jit", [record(person(8100), "subsistence_allowance")])
    if db.engine.dialect.name == "postgresql":
        assert db.session.execute(sa.text("SHOW jit")).scalar_one() == "off"
    assert db.session.execute(sa.select(sa.func.count()).select_from(AgencyRecord)).scalar_one() == 1


def test_the_keyed_hash_of_a_record_is_the_one_students_are_matched_by() -> None:
    number = id_number(5)
    parsed = RecordChecker(shipped_rules(), "civil_affairs", KEY, TODAY).check(
        [record(number, "orphan"), {**record(number.lower(), "de_facto_orphan")}]
    )
    assert [r.person_hmac for r in parsed.records] == [id_hmac(KEY, number)] * 2
