"""An import is a batch of identity-number guesses (issue 16): charged as one, in every way an import runs.

officer2 (school B) imports files holding school A's students' numbers. A row refused because another record
holds its number answers one guess, so each costs one of the ten an hour (services.id_probes), and a file whose
taken rows would spend what is left answers none of them: 429, no row listed, nothing of the file written (a
partial import's good rows neither), the account locked. The same through the API, the web form, and the
background job (`?async=true`, the form's background box, large uploads), whose result would otherwise list
every row of a 50,000-row file. Counted in the database here (both databases); Redis down lets imports go on.
"""

# ruff: noqa: F811 - the web world's fixtures are imported, then named as parameters
from __future__ import annotations

import io
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import redis
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from redis.backoff import NoBackoff
from redis.retry import Retry
from sqlalchemy import select

from aidservice.extensions import db
from aidservice.models import AuditEvent, Student
from aidservice.services.accounts import id_probes
from aidservice.services.actors import Actor
from aidservice.services.roster import import_guard
from aidservice.wiring import settings
from tests.conftest import TEST_REDIS_URL
from tests.timing_support import FAST, work_clock
from tests.web.conftest import as_user, clock, csrf, world  # noqa: F401 - fixtures of the web world
from tests.world import web as w

pytestmark = pytest.mark.databases

HEADER = "student_id,id_number,name,class_name,stage,grade,boarding,rural_hukou"
SCHOOL_A = ("S1-001", "S1-002", "S1-003", "S1-004", "S1-005")
IMPORT = "/api/v1/students/import"


@pytest.fixture
def app_env(tmp_path: Any) -> dict[str, str]:
    """Count where the sign-in throttle counts in production without Redis: the database."""
    return {"AID_WHATIF_FILE": str(tmp_path / "whatif-last.json"), "AID_LOGIN_THROTTLE": "database"}


def roster(taken: list[str], start: int, good: int = 0) -> bytes:
    """Rows with the taken numbers, then `good` rows of new students with numbers nobody holds."""
    rows = [f"PROBE-{start + i},{n},某某,三(2)班,primary,3,否,否" for i, n in enumerate(taken)]
    rows += [
        f"NEW-{start + i},{w.id_number(9000 + start + i, county='320104')},新生,三(2)班,primary,3,否,否"
        for i in range(good)
    ]
    return "\r\n".join([HEADER, *rows, ""]).encode("utf-8")


def taken_numbers(world: w.World) -> list[str]:
    return [world.number(s) for s in SCHOOL_A]


def api_import(app: Flask, world: w.World, content: bytes, query: str = "") -> Any:
    started = work_clock()
    response = app.test_client().post(
        IMPORT + query,
        data={"file": (io.BytesIO(content), "r.csv")},
        headers={"Authorization": f"Bearer {world.tokens['officer2']}"},
        content_type="multipart/form-data",
    )
    assert work_clock() - started < FAST
    return response


def students() -> int:
    return db.session.scalar(select(sa.func.count()).select_from(Student)) or 0


def conflict_events() -> list[dict[str, Any]]:
    return [
        e.summary
        for e in db.session.execute(
            select(AuditEvent)
            .where(AuditEvent.action == id_probes.CONFLICT_ACTION, AuditEvent.actor == "user:officer2")
            .order_by(AuditEvent.seq)
        ).scalars()
    ]


def assert_names_no_number(body: str, numbers: list[str]) -> None:
    for number in numbers:
        assert number not in body


def test_an_import_lists_taken_rows_only_while_they_stay_under_the_budget(app: Flask, world: w.World) -> None:
    taken, before = taken_numbers(world), students()
    first = api_import(app, world, roster(taken, 0))  # 5 taken, 10 left: counted, not named (nothing written)
    assert first.status_code == 422 and list(first.json["errors"]) == ["file"]
    assert first.json["errors"]["file"][0].startswith("有 5 行的身份证号已被另一条学生记录使用")
    second = api_import(
        app, world, roster(taken, 10)
    )  # 5 taken, 5 left: the fifth would lock, so none answered
    assert (
        second.status_code == 429 and not second.json.get("errors") and int(second.headers["Retry-After"]) > 0
    )
    assert "rows." not in second.get_data(as_text=True)
    third = api_import(app, world, roster(taken[:1], 20))
    assert third.status_code == 429
    assert students() == before
    assert [(e["count"], e.get("refused", False), e["channel"]) for e in conflict_events()] == [
        (5, False, "api import"),
        (5, True, "api import"),
    ]
    assert_names_no_number(str(conflict_events()), taken)


def test_a_refused_file_of_candidates_does_not_say_which_one_is_enrolled(app: Flask, world: w.World) -> None:
    """The elimination attack: 200 candidates for S1-001's number, one of them right, one bad grade to be sure
    the file is refused: the answer counts one taken number and names no row of it."""
    real = world.number("S1-001")
    candidates = [w.id_number(20_000 + k, county=real[:6]) for k in range(199)]
    candidates.insert(137, real)
    content = roster(candidates, 0).replace(b",primary,3,", b",primary,99,", 1)
    response = api_import(app, world, content)
    assert response.status_code == 422
    errors = response.json["errors"]
    assert errors["file"][0].startswith("有 1 行的身份证号") and set(errors) == {"file", "rows.2.grade"}
    assert real not in response.get_data(as_text=True) and "139" not in str(errors)


def test_a_file_of_more_guesses_than_the_budget_answers_none_and_locks(app: Flask, world: w.World) -> None:
    taken = [*taken_numbers(world), world.number("S2-001")]
    for n in range(4):  # four misses of the lookup already spent: 6 left, and the file holds 6 taken numbers
        budget = id_probes.Budget(
            id_probes.DatabaseProbeCounter(lambda: db.session()), app.config["SECRET_KEY"]
        )
        id_probes.charge_conflict(
            db.session, actor=officer2(world), budget=budget, masked=None, channel=f"t{n}"
        )
    db.session.commit()
    response = api_import(app, world, roster(taken, 0))
    assert response.status_code == 429 and "rows." not in response.get_data(as_text=True)
    assert conflict_events()[-1] == {
        "outcome": "conflict",
        "channel": "api import",
        "count": 6,
        "refused": True,
    }


def test_a_partial_import_that_would_reach_the_lock_writes_none_of_its_good_rows(
    app: Flask,
    world: w.World,
) -> None:
    taken, before = taken_numbers(world), students()
    first = api_import(app, world, roster(taken[:3], 0, good=2), query="?partial=true")  # 3 of 10: answered
    assert first.status_code == 200 and first.json["created"] == 2
    assert [r["row"] for r in first.json["rejected"]] == [2, 3, 4]
    assert students() == before + 2
    second = api_import(
        app, world, roster(taken, 10, good=2), query="?partial=true"
    )  # 5 taken, 7 left: answered
    assert second.status_code == 200 and second.json["created"] == 2
    third = api_import(app, world, roster(taken[:2], 20, good=3), query="?partial=true")  # 2 taken, 2 left
    assert third.status_code == 429 and "rows." not in third.get_data(as_text=True)
    assert students() == before + 4  # the third file's three good rows were not written


def test_a_background_import_of_guesses_is_charged_and_refused_like_a_synchronous_one(
    app: Flask,
    world: w.World,
) -> None:
    taken, before = taken_numbers(world), students()
    first = api_import(app, world, roster(taken, 0), query="?async=true")
    assert first.status_code == 202 and first.json["state"] == "failed"
    assert (
        list(first.json["result"]["errors"]) == ["file"]
        and "有 5 行" in first.json["result"]["errors"]["file"][0]
    )
    second = api_import(app, world, roster(taken, 10), query="?async=true")
    assert second.status_code == 202 and second.json["state"] == "failed"
    assert second.json["result"] is None and "Too many lookups" in second.json["error"]
    assert "rows." not in second.get_data(as_text=True)
    assert api_import(app, world, roster(taken, 20), query="?async=true").status_code == 429  # before any job
    assert students() == before
    assert [(e["count"], e.get("refused", False), e["channel"]) for e in conflict_events()] == [
        (5, False, "background import"),
        (5, True, "background import"),
    ]


def test_the_web_import_form_answers_429_for_the_file_that_would_reach_the_lock(
    as_user: Callable[[str], FlaskClient],
    world: w.World,
) -> None:
    client, taken, before = as_user("officer2"), taken_numbers(world), students()

    def post(content: bytes, background: bool = False) -> Any:
        data = {"csrf_token": csrf(client, "/students/import"), "file": (io.BytesIO(content), "r.csv")}
        if background:
            data["background"] = "y"
        return client.post("/students/import", data=data, content_type="multipart/form-data")

    first = post(roster(taken, 0))
    assert first.status_code == 422 and "有 5 行的身份证号已被另一条学生记录使用" in first.get_data(
        as_text=True
    )
    second = post(roster(taken, 10))
    assert second.status_code == 429
    assert post(roster(taken[:1], 20), background=True).status_code == 429
    assert students() == before
    assert [e["channel"] for e in conflict_events()] == ["web import", "web import"]


def officer2(world: w.World) -> Actor:
    user_id = db.session.scalar(sa.text("SELECT id FROM users WHERE username = 'officer2'"))
    return Actor("user", "officer2", id=user_id, role="school_officer", school_code=w.USERS["officer2"][1])


def test_with_redis_down_an_import_goes_on_and_its_taken_rows_are_audited_not_charged(
    app: Flask,
    world: w.World,
) -> None:
    dead = redis.Redis(
        host="127.0.0.1", port=1, socket_connect_timeout=0.2, socket_timeout=0.2, retry=Retry(NoBackoff(), 0)
    )
    budget = id_probes.Budget(id_probes.RedisProbeCounter(dead, prefix="test-dead:"), "secret")
    taken = [*taken_numbers(world), world.number("S2-001")]
    with app.test_request_context():
        result = import_guard.import_charged(
            db.session,
            actor=officer2(world),
            settings=settings(),
            budget=budget,
            channel="api import",
            filename="r.csv",
            data=roster(taken, 0, good=1),
            partial=True,
            max_rows=100,
        )
        db.session.commit()  # the audit trail is appended at commit
    assert result.created == 1 and len(result.rejected) == 6  # listed: nothing could say what was left
    assert conflict_events()[-1] == {"outcome": "conflict", "channel": "api import", "count": 6}


# ------------------------------------------------------------------------------------------ what is left


def _counter(kind: str, request: pytest.FixtureRequest) -> id_probes.ProbeCounter:
    if kind == "memory":
        return id_probes.MemoryProbeCounter()
    if kind == "database":
        return id_probes.DatabaseProbeCounter(lambda: db.session())
    return id_probes.RedisProbeCounter(
        redis.Redis.from_url(TEST_REDIS_URL), prefix=request.getfixturevalue("redis_prefix")
    )


@pytest.mark.parametrize("kind", ["memory", "database", "redis"])
def test_the_counter_tells_how_many_misses_are_left_before_the_lock(
    app: Flask,
    kind: str,
    request: pytest.FixtureRequest,
) -> None:
    counter = _counter(kind, request)
    now = datetime(2020, 10, 12, 3, 0, tzinfo=UTC)
    assert counter.left("k", now) == 10
    for i in range(3):
        counter.charge("k", now + timedelta(minutes=i))
    assert counter.left("k", now + timedelta(minutes=3)) == 7
    for i in range(7):
        counter.charge("k", now + timedelta(minutes=4 + i))
    assert counter.left("k", now + timedelta(minutes=20)) == 0  # locked until midnight in Beijing
    assert counter.left("other", now) == 10
    if kind != "redis":  # Redis keeps its own clock; the others are told the time
        assert counter.left("k", now + timedelta(hours=14)) == 10  # the next Beijing day
