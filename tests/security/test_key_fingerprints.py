"""Keys match the data (issue 16, item 5): the database records key fingerprints, and a process whose keys differ
(a restore with the wrong keys) refuses to start naming the key, instead of matching nothing."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from sqlalchemy.exc import OperationalError

from aidservice import create_app, keycheck
from aidservice.crypto import DEV_KEY, vault_from_config
from aidservice.extensions import db
from aidservice.keysafety import KeysMismatch
from aidservice.models import KeyFingerprint, Student
from config import DEV_HMAC_KEY, REPO_ROOT, TestingConfig
from tests.production_keys import AES_K1, AES_K2, HMAC_KEY
from tests.timing_support import work_clock
from tests.world.factories import id_number, make_school
from tests.world.feeds import scratch_database

pytestmark = pytest.mark.databases
RULES = str(REPO_ROOT / "rules")
KEYS = {"AID_ID_HMAC_KEY": HMAC_KEY, "AID_ID_KEYS": f"k1:{AES_K1}"}


@pytest.fixture
def fresh_url(db_url: str, tmp_path: Path) -> Iterator[str]:
    """A migrated database of its own on the session's backend (the fingerprints of one test stay in it)."""
    yield from scratch_database(db_url, tmp_path)


def build(url: str, **env: str) -> Flask:
    return create_app(TestingConfig.from_env({"DATABASE_URL": url, "AID_RULES_DIR": RULES, **KEYS, **env}))


def fingerprints(app: Flask) -> dict[tuple[str, str], str]:
    with app.app_context():
        rows = db.session.execute(sa.select(KeyFingerprint)).scalars().all()
        found = {(r.kind, r.key_id): r.fingerprint for r in rows}
        db.session.remove()
        db.engine.dispose()
    return found


def seal_students(app: Flask, count: int = 2) -> None:
    """Students written with the app's keys, straight through the vault (as the roster does)."""
    vault = vault_from_config(app.config)
    with app.app_context():
        school = make_school(db.session, "K1", "320102")
        for seed in range(count):
            db.session.add(
                Student(
                    student_id=f"K{seed}",
                    **vault.seal("student", id_number(seed)),
                    name="张三",
                    school_code=school.code,
                    class_name="一班",
                    stage="primary",
                    grade=1,
                )
            )
        db.session.commit()
        db.engine.dispose()


def refusal(url: str, **env: str) -> str:
    started = work_clock()
    with pytest.raises(KeysMismatch) as refused:
        build(url, **env)
    assert work_clock() - started < 5
    return str(refused.value)


def test_the_first_start_records_keyed_fingerprints_never_the_keys(fresh_url: str) -> None:
    app = build(fresh_url)
    recorded = fingerprints(app)
    assert set(recorded) == {("hmac", ""), ("aes", "k1")}
    for value in recorded.values():
        assert len(value) == 64 and HMAC_KEY not in value and AES_K1 not in value
    assert recorded[("hmac", "")] != hashlib.sha256(HMAC_KEY.encode()).hexdigest()  # not a plain hash
    assert fingerprints(build(fresh_url)) == recorded  # the second start matches and records nothing new


def test_matching_keys_start_and_serve(fresh_url: str) -> None:
    seal_students(build(fresh_url))
    app = build(fresh_url)
    assert app.test_client().get("/api/v1/health").status_code == 200


def test_a_different_hmac_key_refuses_to_start_naming_it(fresh_url: str) -> None:
    seal_students(build(fresh_url))
    message = refusal(fresh_url, AID_ID_HMAC_KEY="b" + HMAC_KEY[1:])
    assert message == "AID_ID_HMAC_KEY does not match the key this database's numbers were matched with"


def test_a_different_aes_key_under_the_same_id_refuses_to_start_naming_it(fresh_url: str) -> None:
    build(fresh_url)
    message = refusal(fresh_url, AID_ID_KEYS=f"k1:{AES_K2}")
    assert message.startswith("AID_ID_KEYS key 'k1' does not match")


def test_a_key_id_the_numbers_are_sealed_with_but_missing_from_the_keyring_refuses_naming_it(
    fresh_url: str,
) -> None:
    seal_students(build(fresh_url))
    message = refusal(fresh_url, AID_ID_KEYS=f"k2:{AES_K2}")
    assert message == "AID_ID_KEYS lacks key id 'k1', which stored numbers are sealed with"


def test_a_key_id_no_row_uses_any_more_may_leave_the_keyring_and_is_retired(fresh_url: str) -> None:
    build(fresh_url)  # recorded k1, sealed nothing with it
    app = build(fresh_url, AID_ID_KEYS=f"k2:{AES_K2}")
    assert set(fingerprints(app)) == {("hmac", ""), ("aes", "k2")}


def test_a_database_from_before_fingerprints_is_checked_against_a_stored_number(fresh_url: str) -> None:
    seal_students(build(fresh_url))
    with sa.create_engine(fresh_url).begin() as connection:  # as if written before migration 0013
        connection.execute(sa.delete(KeyFingerprint.__table__))
    assert "AID_ID_HMAC_KEY does not match" in refusal(fresh_url, AID_ID_HMAC_KEY="c" + HMAC_KEY[1:])
    assert "AID_ID_KEYS key 'k1' does not match" in refusal(fresh_url, AID_ID_KEYS=f"k1:{AES_K2}")
    assert "AID_ID_KEYS lacks key id 'k1'" in refusal(fresh_url, AID_ID_KEYS=f"k2:{AES_K2}")
    assert set(fingerprints(build(fresh_url))) == {("hmac", ""), ("aes", "k1")}  # the right keys: recorded


def test_rotation_records_the_new_key_ids_fingerprint(fresh_url: str) -> None:
    seal_students(build(fresh_url))
    app = build(fresh_url, AID_ID_KEYS=f"k1:{AES_K1},k2:{AES_K2}", AID_ID_KEY_CURRENT="k2")
    with app.app_context():
        db.session.execute(sa.delete(KeyFingerprint.__table__).where(KeyFingerprint.key_id == "k2"))
        db.session.commit()
    result = app.test_cli_runner().invoke(args=["aid", "keys", "rotate"])
    assert result.exit_code == 0, result.output
    assert ("aes", "k2") in fingerprints(app)
    assert "lacks key id 'k1'" not in refusal_or_none(fresh_url, AID_ID_KEYS=f"k2:{AES_K2}")  # k1 may go now


def test_a_database_unavailable_at_start_is_checked_at_the_first_request(
    fresh_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    seal_students(build(fresh_url))
    real, calls = keycheck.check_keys, []

    def down_at_start(engine: Any, vault: Any) -> Any:
        calls.append(engine)
        if len(calls) == 1:
            raise OperationalError("SELECT 1", {}, ConnectionRefusedError("down"))
        return real(engine, vault)

    monkeypatch.setattr(keycheck, "check_keys", down_at_start)
    client = build(fresh_url, AID_ID_HMAC_KEY="e" + HMAC_KEY[1:]).test_client()
    for _ in range(2):
        response = client.get("/api/v1/health")
        assert response.status_code == 503
        assert "AID_ID_HMAC_KEY does not match" in response.get_json()["detail"]
    calls.clear()
    assert build(fresh_url).test_client().get("/api/v1/health").status_code == 200  # matching keys: served


def refusal_or_none(url: str, **env: str) -> str:
    try:
        build(url, **env)
    except KeysMismatch as exc:
        return str(exc)
    return ""


def cli(url: str, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    full = {k: v for k, v in os.environ.items() if not k.startswith("AID_")}
    full.update({"AID_ENV": "testing", "DATABASE_URL": url, "AID_RULES_DIR": RULES, **KEYS, **env})
    return subprocess.run(
        [sys.executable, "-m", "flask", "--app", "wsgi", *args],
        cwd=REPO_ROOT,
        env=full,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_the_cli_and_the_worker_refuse_a_mismatched_key_with_one_line(fresh_url: str) -> None:
    seal_students(build(fresh_url))
    for command in (("aid", "keys", "status"), ("aid", "worker", "--burst")):
        done = cli(fresh_url, *command, AID_ID_HMAC_KEY="d" + HMAC_KEY[1:])
        assert done.returncode == 3, done.stderr
        lines = [
            line for line in done.stderr.splitlines() if not line.startswith("{")
        ]  # JSON log lines aside
        assert lines == [
            "aidservice refuses to start: AID_ID_HMAC_KEY does not match the key this database's "
            "numbers were matched with"
        ], done.stderr
        assert "Traceback" not in done.stderr
    matching = cli(fresh_url, "aid", "keys", "check")
    assert matching.returncode == 0, matching.stderr
    assert (
        "matches: AID_ID_HMAC_KEY" in matching.stdout and "matches: AID_ID_KEYS key 'k1'" in matching.stdout
    )


def test_the_development_keys_of_the_test_suite_are_recorded_in_the_session_database(app: Flask) -> None:
    recorded = {(r.kind, r.key_id) for r in db.session.execute(sa.select(KeyFingerprint)).scalars()}
    assert {("hmac", ""), ("aes", "dev")} <= recorded
    assert app.config["AID_ID_HMAC_KEY"] == DEV_HMAC_KEY and DEV_KEY
