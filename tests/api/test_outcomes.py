"""GET /api/v1/feeds/{source}/outcomes: the people a source sent, in change order, paged without gaps or repeats."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from aidservice.extensions import db
from aidservice.identity import mask
from aidservice.models import Determination
from aidservice.services.actors import Actor
from aidservice.services.determinations.students import redetermine_students
from aidservice.services.registry.feeds import encode_cursor
from tests.world.factories import bearer, id_number, make_client
from tests.world.feeds import (
    committed_app,
    person,
    record,
    school,
    scratch_database,
    settings_for,
    student,
)

pytestmark = pytest.mark.databases
URL = "/api/v1/feeds/civil_affairs/outcomes"
BATCHES = "/api/v1/feeds/civil_affairs/batches"


@pytest.fixture
def token(app: Flask) -> str:
    return make_client(db.session, "civil_affairs")


def page(client: FlaskClient, token: str, cursor: str | None = None, limit: int = 100, url: str = URL) -> Any:
    query: dict[str, Any] = {"limit": limit}
    if cursor is not None:
        query["cursor"] = cursor
    response = client.get(url, query_string=query, headers=bearer(token))
    assert response.status_code == 200, response.json
    return response.json


def send(client: FlaskClient, token: str, batch_id: str, records: list[dict[str, Any]]) -> Any:
    response = client.post(BATCHES, json={"batch_id": batch_id, "records": records}, headers=bearer(token))
    assert response.status_code == 200, response.json
    return response.json


def test_outcomes_list_the_students_the_source_sent_with_the_matched_person_masked(
    client: FlaskClient, token: str
) -> None:
    at = school(stages=("junior",))
    student("S1", at, seed=1, guardians=[7001])
    student("S2", at, seed=2, guardians=[7002])
    student("S3", at, seed=3, guardians=[7003])  # never sent: never listed
    send(
        client, token, "B-1", [record(person(7001), "subsistence_allowance"), record(id_number(2), "orphan")]
    )
    body = page(client, token)
    assert [i["reference"] for i in body["items"]] == [
        {"batch_id": "B-1", "index": 0},
        {"batch_id": "B-1", "index": 1},
    ]
    first = body["items"][0]
    assert first["person"] == person(7001)[:6] + "*" * 11 + person(7001)[-1:]
    assert body["items"][1]["person"] == id_number(2)[:6] + "*" * 11 + id_number(2)[-1:]
    assert first == first | {
        "school_year": "2020-2021",
        "level": "special",
        "awards": [{"program": "compulsory_living_subsidy", "amount": "2000.00"}],
        "total": "2000.00",
        "as_of": "2021-03-01",
        "changed": True,  # the API evaluates as of the current semester (spring)
    }
    assert first["rule_set_version"].startswith("sha256:") and first["seq"] < body["items"][1]["seq"]
    assert id_number(1) not in str(body) and person(7001) not in str(body)
    assert (
        "student_id" not in first and "school_code" not in first and "3201020001" not in str(body)
    )  # issue 16


def test_other_sources_see_only_their_own_people(client: FlaskClient, token: str) -> None:
    at = school(stages=("junior",))
    student("S1", at, seed=1, guardians=[7001])
    student("S2", at, seed=2, guardians=[7002])
    send(client, token, "B-1", [record(person(7001), "subsistence_allowance")])
    veterans = make_client(db.session, "veterans_affairs")
    response = client.post(
        "/api/v1/feeds/veterans_affairs/batches",
        headers=bearer(veterans),
        json={
            "batch_id": "V-1",
            "records": [record(id_number(2), "martyr_child"), record(person(7001), "martyr_child")],
        },
    )
    assert response.json["matched_students"] == 1  # a guardian's martyr_child status reaches no one
    ours = page(client, veterans, url="/api/v1/feeds/veterans_affairs/outcomes")
    assert [i["reference"]["batch_id"] for i in ours["items"]] == ["V-1"]
    assert [i["person"] for i in ours["items"]] == [mask(id_number(2))]
    assert [i["reference"]["batch_id"] for i in page(client, token)["items"]] == ["B-1"]


def test_later_determinations_of_a_student_follow_in_change_order(client: FlaskClient, token: str) -> None:
    at = school(stages=("junior",))
    s = student("S1", at, seed=1, guardians=[7001])
    send(client, token, "B-1", [record(person(7001), "subsistence_allowance")])
    first = page(client, token)
    send(client, token, "B-2", [record(person(7001), "subsistence_allowance", "2020-01-01", "2020-06-01")])
    later = page(client, token, first["next_cursor"])
    assert [(i["level"], i["changed"]) for i in later["items"]] == [("none", True)]
    s.boarding = True  # a roster change re-determines the student: still listed, the source sent them once
    db.session.flush()
    redetermine_students(
        db.session,
        actor=Actor.system(),
        settings=settings_for(client.application),
        student_pks=[s.id],
        cause="roster",
    )
    last = page(client, token, later["next_cursor"])
    assert [(i["level"], i["changed"]) for i in last["items"]] == [("none", False)]
    assert page(client, token, last["next_cursor"])["items"] == []


def test_pages_resume_after_the_cursor_with_no_gaps_or_repeats_while_batches_land(
    client: FlaskClient, token: str
) -> None:
    at = school(stages=("junior",))
    for i in range(1, 13):
        student(f"S{i:02d}", at, seed=i, guardians=[7000 + i])
    seen: list[int] = []
    cursor = None
    for n in range(1, 13):
        send(client, token, f"B-{n}", [record(person(7000 + n), "subsistence_allowance")])
        if n % 3 == 0:  # a reader that polls now and then, two items a page
            while True:
                body = page(client, token, cursor, limit=2)
                seen.extend(i["seq"] for i in body["items"])
                cursor = body["next_cursor"]
                if not body["items"]:
                    break
    everything = db.session.scalars(sa.select(Determination.seq).order_by(Determination.seq)).all()
    assert seen == everything and len(set(seen)) == 12


def test_pages_cross_long_runs_of_other_peoples_determinations_without_gaps_or_repeats(
    client: FlaskClient, token: str
) -> None:
    """A page walks 10 × limit determinations, then 40 × limit more, then takes the rest from everyone the
    source reached (services/registry/feeds.py): with limit 1 and 60 determinations of people the source never sent
    between its own, every path runs, and paging still lists exactly the source's people, in order, once."""
    at = school(stages=("junior",))
    ours = [student(f"S{i}", at, seed=i, guardians=[7000 + i]) for i in range(1, 4)]
    others = [student(f"X{i:02d}", at, seed=100 + i) for i in range(1, 61)]
    send(client, token, "B-1", [record(person(7001), "subsistence_allowance")])
    settings = settings_for(client.application)
    redetermine_students(
        db.session,
        actor=Actor.system(),
        settings=settings,
        student_pks=[o.id for o in others[:5]],
        cause="roster",
    )
    send(client, token, "B-2", [record(person(7002), "subsistence_allowance")])
    redetermine_students(
        db.session,
        actor=Actor.system(),
        settings=settings,
        student_pks=[o.id for o in others[5:]],
        cause="roster",
    )
    send(client, token, "B-3", [record(id_number(3), "orphan")])
    mine = {s.id for s in ours}
    expected = db.session.scalars(
        sa.select(Determination.seq).where(Determination.student_pk.in_(mine)).order_by(Determination.seq)
    ).all()
    assert (
        len(expected) == 3 and db.session.scalar(sa.select(sa.func.count()).select_from(Determination)) == 63
    )
    for limit in (1, 2, 100):
        seen: list[int] = []
        cursor = None
        while True:
            body = page(client, token, cursor, limit=limit)
            seen.extend(i["seq"] for i in body["items"])
            cursor = body["next_cursor"]
            if not body["items"]:
                break
        assert seen == expected, limit
    whole = page(client, token)["items"]
    assert [(i["reference"]["batch_id"], i["person"][-1:]) for i in whole] == [
        ("B-1", person(7001)[-1:]),
        ("B-2", person(7002)[-1:]),
        ("B-3", id_number(3)[-1:]),
    ]


def test_limit_is_bounded_and_a_bad_cursor_is_422(client: FlaskClient, token: str) -> None:
    for limit in (0, 1001):
        response = client.get(URL, query_string={"limit": limit}, headers=bearer(token))
        assert response.status_code == 422 and "limit" in response.json["errors"]
    for cursor in ("not-a-cursor", "c2VxOi0x", encode_cursor(5)[:-1] + "!", "c2VxOg"):
        response = client.get(URL, query_string={"cursor": cursor}, headers=bearer(token))
        assert response.status_code == 422 and "cursor" in response.json["errors"], cursor


def test_outcomes_are_for_the_sources_own_clients(client: FlaskClient, token: str) -> None:
    assert client.get("/api/v1/feeds/poverty_alleviation/outcomes", headers=bearer(token)).status_code == 403
    assert client.get("/api/v1/feeds/tax_office/outcomes", headers=bearer(token)).status_code == 404
    assert client.get(URL).status_code == 401


# ------------------------------------------------------------------ real concurrency: committed batches


@pytest.fixture
def scratch_url(db_url: str, tmp_path: Path) -> Iterator[str]:
    yield from scratch_database(db_url, tmp_path)


def test_a_reader_paging_while_other_requests_commit_batches_sees_every_change_once(scratch_url: str) -> None:
    app = committed_app(scratch_url)
    writers = 1 if scratch_url.startswith("sqlite") else 3  # SQLite has one writer at a time anyway
    with app.app_context():
        at = school(stages=("junior",))
        for i in range(1, 61):
            student(f"S{i:02d}", at, seed=i, guardians=[7000 + i])
        tokens = [make_client(db.session, "civil_affairs") for _ in range(writers)]
        db.session.commit()
    errors: list[BaseException] = []

    def write(w: int) -> None:
        try:
            with app.test_client() as own:
                for n in range(w, 60, writers):
                    response = own.post(
                        BATCHES,
                        headers=bearer(tokens[w]),
                        json={
                            "batch_id": f"B-{n}",
                            "records": [record(person(7001 + n), "subsistence_allowance")],
                        },
                    )
                    assert response.status_code == 200, response.json
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(w,)) for w in range(writers)]
    for thread in threads:
        thread.start()
    seen: list[int] = []
    cursor = None
    with app.test_client() as reader:
        while True:
            done = not any(t.is_alive() for t in threads)
            body = page(reader, tokens[0], cursor, limit=5)
            seen.extend(i["seq"] for i in body["items"])
            cursor = body["next_cursor"]
            if done and not body["items"]:
                break
    for thread in threads:
        thread.join()
    assert not errors, errors
    with app.app_context():
        everything = db.session.scalars(sa.select(Determination.seq).order_by(Determination.seq)).all()
        db.engine.dispose()
    assert len(everything) == 60
    assert seen == everything  # in order, nothing skipped, nothing twice
