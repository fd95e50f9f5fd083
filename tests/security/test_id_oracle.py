"""The guessing attack on identity numbers (issue 16, items 1-3): no online oracle, no giveaway mask.

An attacker holds a student's masked number (region and check character) and the grade, and guesses the rest.
Through the web lookup "按身份证号查找": roles that may not look up get 403 and learn nothing; those that may
(a school officer, a county administrator) get 404 for a miss, and after ten misses 429 for the rest of the
Beijing day, even for the right number. Through the API, saving a student with a guessed number: a neutral 409
naming no school, city or student, and after ten such conflicts 429 (imports: test_import_guesses.py). Every try is an audit event holding the
masked number only; an alert line (without the number) is logged when an account is locked.

The budget is counted by the backend the sign-in throttle uses: the database here (both databases), memory and
Redis in the counter's own contract tests.
"""

# ruff: noqa: F811 - the web world's fixtures are imported, then named as parameters
from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
import redis
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from flask_migrate import downgrade, upgrade
from redis.backoff import NoBackoff
from redis.retry import Retry
from sqlalchemy import select

from aidservice.extensions import db
from aidservice.identity import mask
from aidservice.models import AuditEvent, LoginFailure, Student
from aidservice.services.accounts import id_probes
from aidservice.services.actors import Actor
from tests.conftest import TEST_REDIS_URL
from tests.web.conftest import as_user, clock, csrf, world  # noqa: F401 - fixtures of the web world
from tests.world import web as w
from tests.world.factories import VAULT, id_number
from tests.world.feeds import committed_app, scratch_database

pytestmark = pytest.mark.databases

TARGET = "S1-001"  # the student of school A the attacker is after
SCHOOL_WORDS = {
    "S1-001": (w.S1, "玄武", "第一中学", "S1-0", "王小明"),
    "S2-001": (w.S2, "无锡", "梁溪", "实验小学", "S2-0", "赵六"),
}
"""What must not reach an attacker outside the target's school: its code, county, name, student ids, the name."""
FORBIDDEN_ROLES = ("city1", "city2", "province1", "auditor1")
LOOKUP = "/students/lookup"
FAST = 1.0


@pytest.fixture
def app_env(tmp_path: Any) -> dict[str, str]:
    """Count where the sign-in throttle counts in production without Redis: the database."""
    return {"AID_WHATIF_FILE": str(tmp_path / "whatif-last.json"), "AID_LOGIN_THROTTLE": "database"}


def guesses(world: w.World, n: int = 10) -> list[str]:
    """Wrong candidates for TARGET: its region, grade-year birth dates, another sequence; valid numbers."""
    real = world.number(TARGET)
    made = [id_number(700 + 1000 * k, county=real[:6]) for k in range(n + 5)]
    return [g for g in made if g != real][:n]


def lookup_events(actor: str) -> list[AuditEvent]:
    return list(
        db.session.execute(
            select(AuditEvent)
            .where(AuditEvent.action == id_probes.LOOKUP_ACTION, AuditEvent.actor == f"user:{actor}")
            .order_by(AuditEvent.seq)
        ).scalars()
    )


def conflict_events(actor: str) -> list[AuditEvent]:
    return list(
        db.session.execute(
            select(AuditEvent)
            .where(AuditEvent.action == id_probes.CONFLICT_ACTION, AuditEvent.actor == f"user:{actor}")
            .order_by(AuditEvent.seq)
        ).scalars()
    )


def nothing_about(target: str, text: str, number: str) -> None:
    for word in (*SCHOOL_WORDS[target], number):
        assert word not in text, word


def post_lookup(client: FlaskClient, token: str, number: str) -> tuple[int, str, float]:
    started = time.perf_counter()
    response = client.post(LOOKUP, data={"csrf_token": token, "id_number": number})
    return response.status_code, response.get_data(as_text=True), time.perf_counter() - started


# ------------------------------------------------------------------------------------------ web lookup


@pytest.mark.parametrize("username", FORBIDDEN_ROLES)
def test_a_role_that_searches_by_name_gets_403_for_a_lookup_by_full_number_and_it_is_audited(
    as_user: Callable[[str], FlaskClient],
    world: w.World,
    username: str,
) -> None:
    client = as_user(username)
    token = csrf(client, "/")
    number = world.number(TARGET)
    for guess in [*guesses(world, 3), number]:  # the right number too: same answer
        status, html, elapsed = post_lookup(client, token, guess)
        assert status == 403 and elapsed < FAST
        nothing_about(TARGET, html, guess)
    events = lookup_events(username)
    assert [e.summary["outcome"] for e in events] == ["forbidden"] * 4
    assert events[-1].summary["id_number"] == mask(number) and events[-1].subject == "lookup:id_number"
    assert all(number not in str(e.summary) for e in events)
    page = client.get("/students").get_data(as_text=True)
    assert 'action="/students/lookup"' not in page  # the form is not offered


@pytest.mark.parametrize("username", ["officer2", "county1"])
def test_ten_misses_lock_the_lookup_for_the_day_even_for_the_right_number(
    as_user: Callable[[str], FlaskClient],
    world: w.World,
    username: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """officer2 (school B) guesses school A's student; county1 guesses school B's (outside its county)."""
    target = TARGET if username == "officer2" else "S2-001"
    client = as_user(username)
    token = csrf(client, "/students")
    real = world.number(target)
    wrong = [id_number(800 + 1000 * k, county=real[:6]) for k in range(10)]
    with caplog.at_level(logging.WARNING, logger="aidservice"):
        for guess in wrong:
            status, html, elapsed = post_lookup(client, token, guess)
            assert status == 404 and elapsed < FAST
            nothing_about(target, html, guess)
        status, html, elapsed = post_lookup(client, token, real)
    assert status == 429 and elapsed < FAST
    nothing_about(target, html, real)
    assert [e.summary["outcome"] for e in lookup_events(username)] == ["miss"] * 10 + ["refused"]
    assert all(
        e.summary["id_number"].endswith("*" * 11 + e.summary["id_number"][-1])
        for e in lookup_events(username)
    )
    alerts = [r.getMessage() for r in caplog.records if "id lookup alert" in r.getMessage()]
    assert len(alerts) == 1 and not any(real[6:14] in a or guess in a for a in alerts for guess in wrong)


def test_the_locked_officer_cannot_look_up_their_own_student_either_until_beijing_midnight(
    app: Flask,
    as_user: Callable[[str], FlaskClient],
    world: w.World,
) -> None:
    client = as_user("officer1")
    token = csrf(client, "/students")
    for guess in [id_number(900 + 1000 * k, county="320102") for k in range(10)]:
        assert post_lookup(client, token, guess)[0] == 404
    response = client.post(LOOKUP, data={"csrf_token": token, "id_number": world.number("S1-003")})
    assert response.status_code == 429
    retry = int(response.headers["Retry-After"])
    assert 0 < retry <= 24 * 3600 and retry == pytest.approx(
        id_probes.seconds_to_beijing_midnight(datetime.now(UTC)), abs=5
    )
    row = db.session.execute(
        select(LoginFailure).where(
            LoginFailure.key == id_probes.account_key(app.config["SECRET_KEY"], _actor(world, "officer1"))
        )
    ).scalar_one()
    assert row.failures == 10


def test_an_officer_finds_their_own_student_and_the_hit_is_audited_and_costs_nothing(
    as_user: Callable[[str], FlaskClient],
    world: w.World,
) -> None:
    client = as_user("officer1")
    token = csrf(client, "/students")
    for _ in range(12):  # more than the budget: hits are not charged
        response = client.post(LOOKUP, data={"csrf_token": token, "id_number": world.number("S1-003")})
        assert response.status_code == 302 and response.headers["Location"] == "/students/S1-003"
    events = lookup_events("officer1")
    assert len(events) == 12 and {e.subject for e in events} == {"student:S1-003"}
    assert {e.summary["outcome"] for e in events} == {"hit"}


def test_a_county_admin_finds_a_student_of_the_county(
    as_user: Callable[[str], FlaskClient], world: w.World
) -> None:
    client = as_user("county1")
    response = client.post(
        LOOKUP, data={"csrf_token": csrf(client, "/students"), "id_number": world.number(TARGET)}
    )
    assert response.status_code == 302 and response.headers["Location"] == f"/students/{TARGET}"


@pytest.mark.parametrize("username", FORBIDDEN_ROLES)
def test_roles_without_the_lookup_search_by_masked_number(
    as_user: Callable[[str], FlaskClient],
    world: w.World,
    username: str,
) -> None:
    masked = mask(world.number("S2-001"))
    response = as_user(username).get("/students", query_string={"q": masked})
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    expected = username != "city1"  # school B lies outside Nanjing
    assert ("赵六" in html) is expected and world.number("S2-001") not in html


def _actor(world: w.World, username: str) -> Any:
    from aidservice.services.accounts.auth import resolve_token

    return resolve_token(db.session, world.tokens[username])


# ------------------------------------------------------------------------------------------ API: save


def _payload(school: str, number: str) -> dict[str, Any]:
    stage, grade = ("junior", 2) if school == w.S1 else ("primary", 3)
    return {
        "id_number": number,
        "name": "某某",
        "school_code": school,
        "class_name": "",
        "stage": stage,
        "grade": grade,
        "boarding": False,
        "rural_hukou": False,
        "guardians": [],
    }


@pytest.mark.parametrize(
    ("username", "school", "target"),
    [
        ("officer2", w.S2, TARGET),
        ("city2", w.S2, TARGET),
        ("province1", w.S2, TARGET),
        ("county1", w.S1, "S2-001"),
    ],
)
def test_saving_a_student_with_another_schools_number_is_a_neutral_409_then_429(
    app: Flask,
    world: w.World,
    username: str,
    school: str,
    target: str,
) -> None:
    api = app.test_client()
    headers = {"Authorization": f"Bearer {world.tokens[username]}"}
    number = world.number(target)
    before = db.session.scalar(select(sa.func.count()).select_from(Student))
    for n in range(10):
        started = time.perf_counter()
        response = api.put(f"/api/v1/students/PROBE-{n}", json=_payload(school, number), headers=headers)
        assert response.status_code == 409 and time.perf_counter() - started < FAST
        assert response.json["errors"] == {"id_number": ["another student record has this identity number"]}
        nothing_about(target, response.get_data(as_text=True), number)
    fresh = id_number(4321, county=school[:6] if school == w.S1 else "320213")
    locked = api.put("/api/v1/students/PROBE-X", json=_payload(school, fresh), headers=headers)
    assert locked.status_code == 429 and int(locked.headers["Retry-After"]) > 0
    assert db.session.scalar(select(sa.func.count()).select_from(Student)) == before  # nothing stored
    events = conflict_events(username)
    assert len(events) == 10 and {e.summary["id_number"] for e in events} == {mask(number)}
    assert all(number not in str(e.summary) for e in events)


# ------------------------------------------------------------------------------------------ the counter


def _counter(kind: str, request: pytest.FixtureRequest) -> id_probes.ProbeCounter:
    if kind == "memory":
        return id_probes.MemoryProbeCounter()
    if kind == "database":
        return id_probes.DatabaseProbeCounter(lambda: db.session())
    prefix = request.getfixturevalue("redis_prefix")
    return id_probes.RedisProbeCounter(redis.Redis.from_url(TEST_REDIS_URL), prefix=prefix)


@pytest.mark.parametrize("kind", ["memory", "database", "redis"])
def test_the_counter_locks_on_the_tenth_miss_until_beijing_midnight(
    app: Flask,
    kind: str,
    request: pytest.FixtureRequest,
) -> None:
    counter = _counter(kind, request)
    now = datetime(2020, 10, 12, 3, 0, tzinfo=UTC)  # 11:00 in Beijing: 13 hours to midnight
    assert [counter.charge("k", now + timedelta(minutes=i)) for i in range(9)] == [0] * 9
    assert counter.locked_for("k", now) == 0
    locked = counter.charge("k", now + timedelta(minutes=9))
    assert locked == 13 * 3600 - 9 * 60
    assert counter.locked_for("k", now + timedelta(minutes=10)) > 12 * 3600
    assert counter.locked_for("other", now) == 0


@pytest.mark.parametrize("kind", ["memory", "database"])
def test_misses_an_hour_apart_do_not_add_up(app: Flask, kind: str, request: pytest.FixtureRequest) -> None:
    counter = _counter(kind, request)
    now = datetime(2020, 10, 12, 3, 0, tzinfo=UTC)
    for i in range(9):
        counter.charge("k", now + timedelta(minutes=i))
    assert counter.charge("k", now + timedelta(minutes=61)) == 0  # a new hour: the count starts again
    assert counter.locked_for("k", now + timedelta(minutes=62)) == 0


def test_a_redis_outage_refuses_lookups_and_lets_saves_go_on() -> None:
    dead = redis.Redis(
        host="127.0.0.1", port=1, socket_connect_timeout=0.2, socket_timeout=0.2, retry=Retry(NoBackoff(), 0)
    )  # as counter_from_config builds it
    budget = id_probes.Budget(id_probes.RedisProbeCounter(dead, prefix="test-dead:"), "secret")
    officer = Actor("user", "o", id=1, role="school_officer", school_code="S")
    started = time.perf_counter()
    with pytest.raises(id_probes.LookupsUnavailable):
        id_probes.check_not_locked(officer, budget)
    id_probes.check_not_locked(officer, budget, fail_open=True)
    assert time.perf_counter() - started < FAST


def test_the_day_ends_at_midnight_in_beijing() -> None:
    assert id_probes.seconds_to_beijing_midnight(datetime(2020, 10, 12, 15, 59, tzinfo=UTC)) == 60
    assert id_probes.seconds_to_beijing_midnight(datetime(2020, 10, 12, 16, 0, tzinfo=UTC)) == 24 * 3600


# ------------------------------------------------------------------------------------------ migration 0012


@pytest.fixture
def empty_database(db_url: str, tmp_path: Any) -> Iterator[str]:
    """An unmigrated database on the session's backend."""
    yield from scratch_database(db_url, tmp_path, migrated=False)


def old_mask(number: str) -> str:
    return number[:6] + "*" * 8 + number[-4:]


def test_migration_0012_re_masks_every_stored_mask_and_its_downgrade_leaves_them(empty_database: str) -> None:
    student, guardian, person = id_number(611), id_number(612, born=date(1980, 1, 1)), id_number(613)
    application = committed_app(empty_database)
    with application.app_context():
        upgrade(revision="0011")
        at = {"at": datetime(2020, 9, 1, tzinfo=UTC)}
        with db.engine.begin() as conn:
            conn.execute(
                sa.text(
                    "INSERT INTO schools (code, name, region_code, city_code, stages, kind, "
                    "inclusive_kindergarten, central_university, created_at, updated_at) VALUES "
                    "('M1', 'm', '320000', '320100', '[\"junior\"]', 'public', false, false, :at, :at)"
                ),
                at,
            )
            sealed = VAULT.seal("student", student)
            conn.execute(
                sa.text(
                    "INSERT INTO students (id, student_id, id_cipher, id_key_id, id_hmac, id_mask, name, school_code, "
                    "class_name, stage, grade, boarding, rural_hukou, agri_major, arts_performance_major, "
                    "retired_soldier, salaried, created_at, updated_at) VALUES (1, 'M1-1', :c, :k, :h, :m, '甲', 'M1', "
                    "'', 'junior', 1, false, false, false, false, false, false, :at, :at)"
                ),
                {
                    "c": sealed["id_cipher"],
                    "k": sealed["id_key_id"],
                    "h": sealed["id_hmac"],
                    "m": old_mask(student),
                    **at,
                },
            )
            sealed = VAULT.seal("guardian", guardian)
            conn.execute(
                sa.text(
                    "INSERT INTO guardians (student_pk, id_cipher, id_key_id, id_hmac, id_mask, name, relation) "
                    "VALUES (1, :c, :k, :h, :m, '乙', 'father')"
                ),
                {
                    "c": sealed["id_cipher"],
                    "k": sealed["id_key_id"],
                    "h": sealed["id_hmac"],
                    "m": old_mask(guardian),
                },
            )
            conn.execute(
                sa.text(
                    "INSERT INTO feed_batches (id, source, batch_id, body_hash, received_at, record_count, accepted, "
                    "response) VALUES (1, 'civil_affairs', 'B1', :h, :at, 1, 1, '{}')"
                ),
                {"h": "0" * 64, **at},
            )
            conn.execute(
                sa.text(
                    "INSERT INTO agency_records (id, source, person_hmac, person_mask, name, status, attributes, "
                    "batch_pk, record_index, received_at) VALUES (1, 'civil_affairs', :h, :m, '丙', 'orphan', '{}', "
                    "1, 0, :at)"
                ),
                {"h": VAULT.hmac(person), "m": old_mask(person), **at},
            )
        upgrade(revision="0012")
        expected = {"students": mask(student), "guardians": mask(guardian), "agency_records": mask(person)}
        with db.engine.connect() as conn:
            found = {
                "students": conn.execute(sa.text("SELECT id_mask FROM students")).scalar_one(),
                "guardians": conn.execute(sa.text("SELECT id_mask FROM guardians")).scalar_one(),
                "agency_records": conn.execute(
                    sa.text("SELECT person_mask FROM agency_records")
                ).scalar_one(),
            }
            assert found == expected
            assert all(value[6:17] == "*" * 11 for value in found.values())
            opened = conn.execute(sa.text("SELECT id_cipher, id_key_id, id_hmac FROM students")).one()
            assert VAULT.open_row("student", opened) == student  # the sealed number is untouched
        downgrade(revision="0011")
        with db.engine.connect() as conn:
            assert conn.execute(sa.text("SELECT id_mask FROM students")).scalar_one() == mask(student)
        upgrade(revision="0012")  # again: nothing changes
        with db.engine.connect() as conn:
            assert conn.execute(sa.text("SELECT id_mask FROM guardians")).scalar_one() == mask(guardian)
        db.engine.dispose()
