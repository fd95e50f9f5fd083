"""Identity numbers at rest: stored sealed, found by keyed hash, re-sealed by `aid keys rotate`, revealed only to
the school's aid officer (audited), and sealed by migration 0007 from the plain columns it replaces."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from flask_migrate import downgrade, upgrade

from aidservice.crypto import DEV_KEY, CannotOpen, IdVault, parse_keys
from aidservice.extensions import db
from aidservice.models import AuditEvent, Guardian, Student
from aidservice.services.accounts import id_probes
from aidservice.services.accounts.idkeys import ROTATED_ACTION, rotate_batch
from aidservice.services.roster import directory
from tests.world.applications import (
    World,
    service_settings,
    world_fixture,  # noqa: F401 - fixture "world"
)
from tests.world.factories import HMAC_KEY, VAULT, id_number
from tests.world.feeds import committed_app, scratch_database

K2 = "k2:" + base64.b64encode(b"second key, rotated in 2026 ....").decode()
REVEALED = directory.ID_READ_ACTION


def rows(model: Any) -> list[Any]:
    return list(db.session.execute(sa.select(model).order_by(model.id)).scalars())


def students(world: World, n: int) -> list[str]:
    """n students of school S1 with two guardians each; returns their numbers."""
    for i in range(n):
        world.student(f"R{i}", seed=300 + i, guardians=(6000 + 2 * i, 6001 + 2 * i))
    return [id_number(300 + i) for i in range(n)]


# ------------------------------------------------------------------------------------ stored and found


@pytest.mark.databases
def test_numbers_are_stored_sealed_and_found_by_keyed_hash(client: FlaskClient, world: World) -> None:
    numbers = students(world, 2)
    stored = rows(Student)
    assert [VAULT.open_row("student", s) for s in stored] == numbers
    assert all(
        n.encode() not in s.id_cipher and s.id_mask == n[:6] + "*" * 11 + n[-1:]
        for s, n in zip(stored, numbers, strict=True)
    )
    assert {g.id_key_id for g in rows(Guardian)} == {"dev"}
    officer = world.actor("officer")
    settings = service_settings(world.app)
    budget = id_probes.Budget(id_probes.MemoryProbeCounter(), "test-secret")
    assert (
        id_probes.find_by_id_number(
            db.session, actor=officer, settings=settings, budget=budget, id_number=numbers[1]
        )
        == "R1"
    )
    assert (
        id_probes.find_by_id_number(
            db.session,
            actor=world.actor("other_officer"),
            settings=settings,
            budget=budget,
            id_number=numbers[1],
        )
        is None
    )


# ------------------------------------------------------------------------------------------ reveal


@pytest.mark.databases
def test_the_schools_officer_reveals_a_full_number_through_the_api_and_the_read_is_audited(
    client: FlaskClient, world: World
) -> None:
    numbers = students(world, 1)
    assert numbers[0] not in client.get("/api/v1/students/R0", headers=world.headers("officer")).get_data(
        as_text=True
    )
    response = client.post("/api/v1/students/R0/id-number", headers=world.headers("officer"))
    assert response.status_code == 200, response.json
    assert response.json == {"student_id": "R0", "id_number": numbers[0]}
    assert response.headers["Cache-Control"] == "no-store"
    events = db.session.execute(sa.select(AuditEvent).where(AuditEvent.action == REVEALED)).scalars().all()
    assert [(e.subject, e.summary["page"]) for e in events] == [("student:R0", "api")]
    assert numbers[0] not in str(events[0].summary)


@pytest.mark.databases
@pytest.mark.parametrize(
    ("who", "status"),
    [
        ("other_officer", 403),
        ("county_admin", 403),
        ("province_admin", 403),
        ("auditor", 403),
        ("client", 403),
        ("nobody", 401),
    ],
)
def test_nobody_else_reveals_a_full_number_and_nothing_is_recorded(
    client: FlaskClient, world: World, who: str, status: int
) -> None:
    numbers = students(world, 1)
    response = client.post("/api/v1/students/R0/id-number", headers=world.headers(who))
    assert response.status_code == status, response.json
    assert numbers[0] not in response.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count()).where(AuditEvent.action == REVEALED)) == 0


def test_revealing_an_unknown_student_is_404(client: FlaskClient, world: World) -> None:
    response = client.post("/api/v1/students/NOPE/id-number", headers=world.headers("officer"))
    assert response.status_code == 404
    assert response.headers["Content-Type"].startswith("application/problem+json")


# ------------------------------------------------------------------------------------------ rotation


@pytest.fixture
def app_env() -> dict[str, str]:
    """The app runs with the dev key (the rows' key) and a newer current key k2."""
    return {"AID_ID_KEYS": f"dev:{DEV_KEY},{K2}", "AID_ID_KEY_CURRENT": "k2"}


@pytest.mark.databases
def test_rotation_reseals_every_row_under_the_current_key_and_the_old_key_can_go(
    app: Flask, world: World
) -> None:
    numbers = students(world, 5)
    guardians_before = [VAULT.open_row("guardian", g) for g in rows(Guardian)]
    updated_before = [s.updated_at for s in rows(Student)]
    result = app.test_cli_runner().invoke(args=["aid", "keys", "rotate", "--batch", "2"])
    assert result.exit_code == 0, result.output
    assert "students: 5 re-sealed" in result.output and "guardians: 10 re-sealed" in result.output
    assert "students: 2/5 re-sealed under k2" in result.stderr
    db.session.expire_all()
    only_new = IdVault(*parse_keys(K2), hmac_key=HMAC_KEY)  # dev key removed from the keyring
    assert [only_new.open_row("student", s) for s in rows(Student)] == numbers
    assert [only_new.open_row("guardian", g) for g in rows(Guardian)] == guardians_before
    assert [s.updated_at for s in rows(Student)] == updated_before  # re-sealing is not an edit
    event = db.session.execute(sa.select(AuditEvent).where(AuditEvent.action == ROTATED_ACTION)).scalar_one()
    assert event.summary["resealed"] == {"student": 5, "guardian": 10}
    assert event.summary["by_key"] == {"student": {"k2": 5}, "guardian": {"k2": 10}}
    again = app.test_cli_runner().invoke(args=["aid", "keys", "rotate"])
    assert again.exit_code == 0 and "students: 0 re-sealed" in again.output  # idempotent
    status = app.test_cli_runner().invoke(args=["aid", "keys", "status"])
    assert "current key: k2" in status.output and "students: k2: 5" in status.output


@pytest.mark.databases
def test_rotation_resumes_after_a_stop_and_new_writes_use_the_current_key(
    client: FlaskClient, world: World
) -> None:
    students(world, 3)
    vault = IdVault(*parse_keys(f"dev:{DEV_KEY},{K2}", "k2"), hmac_key=HMAC_KEY)
    first = rotate_batch(db.session, vault=vault, kind="student", size=2)  # then "stopped"
    assert (first.resealed, first.skipped) == (2, 0)
    written = client.put(
        "/api/v1/students/R9",
        headers=world.headers("officer"),
        json={  # meanwhile, via the API
            "id_number": id_number(399),
            "name": "王五",
            "school_code": "S1",
            "class_name": "一班",
            "stage": "junior",
            "grade": 2,
            "guardians": [{"id_number": id_number(6999), "name": "王父", "relation": "father"}],
        },
    )
    assert written.status_code == 201, written.json
    assert (
        db.session.execute(sa.select(Student.id_key_id).where(Student.student_id == "R9")).scalar_one()
        == "k2"
    )
    assert (
        db.session.execute(sa.select(Guardian.id_key_id).where(Guardian.name == "王父")).scalar_one() == "k2"
    )
    rest = rotate_batch(db.session, vault=vault, kind="student", after_pk=0, size=100)
    assert (rest.resealed, rest.skipped) == (1, 0)  # only the row the stopped run had not reached
    assert rotate_batch(db.session, vault=vault, kind="student", size=100).last_pk is None


def test_rotation_stops_cleanly_when_a_rows_key_is_missing(app: Flask, world: World) -> None:
    students(world, 1)
    db.session.execute(sa.update(Student).values(id_key_id="gone"))
    db.session.commit()
    result = app.test_cli_runner().invoke(args=["aid", "keys", "rotate"])
    assert result.exit_code == 1
    assert "key id 'gone' is not in the keyring" in result.output
    with pytest.raises(CannotOpen):
        VAULT.open_row("student", rows(Student)[0])


def test_keys_generate_prints_a_usable_line(app: Flask) -> None:
    result = app.test_cli_runner().invoke(args=["aid", "keys", "generate", "--kid", "k2027"])
    assert result.exit_code == 0
    keys, current = parse_keys(result.output.strip())
    assert current == "k2027" and len(keys["k2027"]) == 32
    bad = app.test_cli_runner().invoke(args=["aid", "keys", "generate", "--kid", "a b"])
    assert bad.exit_code == 2


# ------------------------------------------------------------------------------------------ migration 0007


@pytest.fixture
def empty_database(db_url: str, tmp_path: Any) -> Iterator[str]:
    """An unmigrated database on the session's backend."""
    yield from scratch_database(db_url, tmp_path, migrated=False)


@pytest.mark.databases
def test_migration_0007_seals_plain_numbers_and_its_downgrade_opens_them(empty_database: str) -> None:
    plain = {"student": id_number(501), "guardian": id_number(502)}
    application = committed_app(empty_database)
    with application.app_context():
        upgrade(revision="0006")
        with db.engine.begin() as conn:
            stamp = {"at": datetime(2020, 9, 1, tzinfo=UTC)}
            conn.execute(
                sa.text(
                    "INSERT INTO schools (code, name, region_code, city_code, stages, kind, "
                    "inclusive_kindergarten, central_university, created_at, updated_at) VALUES "
                    "('M1', 'm', '320000', '320100', '[\"junior\"]', 'public', false, false, :at, :at)"
                ),
                stamp,
            )
            conn.execute(
                sa.text(
                    "INSERT INTO students (id, student_id, id_number, id_hmac, name, school_code, class_name, stage, "
                    "grade, boarding, rural_hukou, agri_major, arts_performance_major, retired_soldier, salaried, "
                    "created_at, updated_at) VALUES (1, 'M1-1', :n, :h, '甲', 'M1', '', 'junior', 1, false, false, "
                    "false, false, false, false, :at, :at)"
                ),
                {"n": plain["student"], "h": VAULT.hmac(plain["student"]), **stamp},
            )
            conn.execute(
                sa.text(
                    "INSERT INTO guardians (student_pk, id_number, id_hmac, name, relation) "
                    "VALUES (1, :n, :h, '乙', 'father')"
                ),
                {"n": plain["guardian"], "h": VAULT.hmac(plain["guardian"])},
            )
        upgrade()
        with db.engine.connect() as conn:
            for kind, table in (("student", "students"), ("guardian", "guardians")):
                assert "id_number" not in {c["name"] for c in sa.inspect(conn).get_columns(table)}
                row = conn.execute(
                    sa.text(f"SELECT id_cipher, id_key_id, id_hmac, id_mask FROM {table}")
                ).one()
                assert (
                    VAULT.open_row(kind, row) == plain[kind]
                    and row.id_mask == plain[kind][:6] + "*" * 11 + plain[kind][-1:]
                )
        downgrade(revision="0006")
        with db.engine.connect() as conn:
            assert conn.execute(sa.text("SELECT id_number FROM students")).scalar_one() == plain["student"]
            assert conn.execute(sa.text("SELECT id_number FROM guardians")).scalar_one() == plain["guardian"]
        db.engine.dispose()


@pytest.mark.databases
def test_a_row_rewritten_while_its_batch_runs_keeps_the_new_number(app: Flask, world: World) -> None:
    students(world, 2)
    vault = IdVault(*parse_keys(f"dev:{DEV_KEY},{K2}", "k2"), hmac_key=HMAC_KEY)
    fresh = id_number(398)

    class RacingVault(IdVault):
        """Between reading R0 and writing its re-sealed number, the roster gives R0 another number."""

        def open_row(self, kind, row):  # type: ignore[no-untyped-def]
            number = super().open_row(kind, row)
            if kind == "student" and number == id_number(300):
                db.session.execute(
                    sa.update(Student).where(Student.id == row.id).values(**vault.seal("student", fresh))
                )
            return number

    racing = RacingVault(keys=vault.keys, current=vault.current, hmac_key=HMAC_KEY)
    batch = rotate_batch(db.session, vault=racing, kind="student", size=10)
    assert (batch.resealed, batch.skipped) == (1, 1)
    db.session.expire_all()
    assert [vault.open_row("student", s) for s in rows(Student)] == [fresh, id_number(301)]


@pytest.mark.databases
def test_migration_seedgroups_0014_keeps_every_student_and_guardian_and_goes_back(
    empty_database: str,
) -> None:
    """Adding the seed's student columns rebuilds no table: on SQLite a rebuild would cascade to guardians."""
    application = committed_app(empty_database)
    with application.app_context():
        upgrade(revision="0013")
        with db.engine.begin() as conn:
            stamp = {"at": datetime(2020, 9, 1, tzinfo=UTC)}
            conn.execute(
                sa.text(
                    "INSERT INTO schools (code, name, region_code, city_code, stages, kind, "
                    "inclusive_kindergarten, central_university, created_at, updated_at) VALUES "
                    "('M1', 'm', '320100', '320100', '[\"junior\"]', 'public', false, false, :at, :at)"
                ),
                stamp,
            )
            student = {**VAULT.seal("student", id_number(511)), **stamp}
            conn.execute(
                sa.text(
                    "INSERT INTO students (id, student_id, id_cipher, id_key_id, id_hmac, id_mask, name, "
                    "school_code, class_name, stage, grade, boarding, rural_hukou, agri_major, "
                    "arts_performance_major, retired_soldier, salaried, created_at, updated_at) VALUES "
                    "(1, 'M1-1', :id_cipher, :id_key_id, :id_hmac, :id_mask, '甲', 'M1', '', 'junior', 1, "
                    "false, false, false, false, false, false, :at, :at)"
                ),
                student,
            )
            conn.execute(
                sa.text(
                    "INSERT INTO guardians (student_pk, id_cipher, id_key_id, id_hmac, id_mask, name, relation) "
                    "VALUES (1, :id_cipher, :id_key_id, :id_hmac, :id_mask, '乙', 'father')"
                ),
                VAULT.seal("guardian", id_number(512)),
            )
        upgrade()
        with db.engine.connect() as conn:
            assert conn.execute(
                sa.text("SELECT enrolment_state, east_west_cooperation, enrolment_date FROM students")
            ).one() == ("enrolled", False, None)
            assert conn.execute(sa.text("SELECT count(*) FROM guardians")).scalar_one() == 1
            assert conn.execute(sa.text("SELECT count(*) FROM person_births")).scalar_one() == 0
        downgrade(revision="0013")
        with db.engine.connect() as conn:
            assert "enrolment_state" not in {c["name"] for c in sa.inspect(conn).get_columns("students")}
            assert conn.execute(sa.text("SELECT count(*) FROM guardians")).scalar_one() == 1
        db.engine.dispose()


@pytest.mark.databases
def test_migration_lists_0001_backfills_the_tail_digests_and_goes_back(empty_database: str) -> None:
    """The search by the last digits: existing students get their keyed tail digests, nothing else changes."""
    application = committed_app(empty_database)
    number = id_number(521)
    with application.app_context():
        upgrade(revision="whatif1")
        with db.engine.begin() as conn:
            stamp = {"at": datetime(2020, 9, 1, tzinfo=UTC)}
            conn.execute(
                sa.text(
                    "INSERT INTO schools (code, name, region_code, city_code, stages, kind, "
                    "inclusive_kindergarten, central_university, created_at, updated_at) VALUES "
                    "('M1', 'm', '320100', '320100', '[\"junior\"]', 'public', false, false, :at, :at)"
                ),
                stamp,
            )
            sealed = {k: v for k, v in VAULT.seal("student", number).items() if not k.startswith("id_tail")}
            conn.execute(
                sa.text(
                    "INSERT INTO students (id, student_id, id_cipher, id_key_id, id_hmac, id_mask, name, "
                    "school_code, class_name, stage, grade, boarding, rural_hukou, agri_major, "
                    "arts_performance_major, retired_soldier, salaried, created_at, updated_at) VALUES "
                    "(1, 'M1-1', :id_cipher, :id_key_id, :id_hmac, :id_mask, '甲', 'M1', '', 'junior', 1, "
                    "false, false, false, false, false, false, :at, :at)"
                ),
                {**sealed, **stamp},
            )
            conn.execute(
                sa.text(
                    "INSERT INTO guardians (student_pk, id_cipher, id_key_id, id_hmac, id_mask, name, relation) "
                    "VALUES (1, :id_cipher, :id_key_id, :id_hmac, :id_mask, '乙', 'father')"
                ),
                VAULT.seal("guardian", id_number(522)),
            )
        upgrade(revision="lists_0001")
        with db.engine.connect() as conn:
            tails = conn.execute(sa.text("SELECT id_tail4, id_tail6 FROM students")).one()
            assert tuple(tails) == (VAULT.tail_digest(number[-4:]), VAULT.tail_digest(number[-6:]))
            assert (
                number[-4:] not in tails[0]
                and conn.execute(sa.text("SELECT count(*) FROM guardians")).scalar_one() == 1
            )
        downgrade(revision="whatif1")
        with db.engine.connect() as conn:
            assert "id_tail4" not in {c["name"] for c in sa.inspect(conn).get_columns("students")}
            assert conn.execute(sa.text("SELECT count(*) FROM guardians")).scalar_one() == 1
        db.engine.dispose()
