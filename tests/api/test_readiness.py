"""Liveness and readiness (/health/live, /health/ready and their /api/v1/health twins) on every database backend."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from flask_migrate import downgrade, upgrade
from sqlalchemy import text, update

from aidservice import keycheck
from aidservice.extensions import db
from aidservice.keysafety import HMAC_KIND
from aidservice.migrations import migration_heads
from aidservice.models import KeyFingerprint
from aidservice.services.accounts.keyprints import hmac_mismatch
from aidservice.services.health import database_checks
from aidservice.wiring import id_vault
from tests.conftest import TEST_REDIS_URL
from tests.world.feeds import committed_app, scratch_database

PROBES = ("/health/live", "/api/v1/health/live")
READY = ("/health/ready", "/api/v1/health/ready")


def failing(client: FlaskClient) -> dict[str, str]:
    """The failing checks /health/ready names (name -> reason), after checking both readiness paths agree."""
    bodies = []
    for path in READY:
        response = client.get(path)
        assert response.status_code == 503, path
        assert response.mimetype == "application/problem+json" and response.headers["Retry-After"] == "5"
        bodies.append(response.get_json())
    body = bodies[0]
    assert body["status"] == 503 and body["type"].endswith("/not-ready")
    assert {k: v for k, v in bodies[1].items() if k != "request_id"} == {
        k: v for k, v in body.items() if k != "request_id"
    }
    reasons = {check["name"]: check["reason"] for check in body["checks"] if not check["ok"]}
    assert {name: [reason] for name, reason in reasons.items()} == body["errors"]
    return reasons


def assert_live(client: FlaskClient) -> None:
    for path in PROBES:
        response = client.get(path)
        assert (response.status_code, response.get_json()) == (200, {"status": "live"}), path


@pytest.fixture
def empty_database(db_url: str, tmp_path: Any) -> Iterator[str]:
    """An unmigrated database on the session's backend."""
    yield from scratch_database(db_url, tmp_path, migrated=False)


@pytest.mark.databases
def test_ready_is_200_with_every_check_when_all_is_well(app: Flask, client: FlaskClient) -> None:
    for path in READY:
        response = client.get(path)
        assert response.status_code == 200, response.get_json()
        body = response.get_json()
        assert body["status"] == "ready"
        assert body["rule_set_version"] == app.extensions["aid_rules"].version
        assert [(c["name"], c["ok"]) for c in body["checks"]] == [
            ("database", True),
            ("migrations", True),
            ("keys", True),
            ("rules", True),
        ]
        assert response.headers["Cache-Control"] == "no-store"
    assert_live(client)


@pytest.mark.databases
def test_ready_is_503_on_an_empty_unmigrated_database(empty_database: str) -> None:
    client = committed_app(empty_database).test_client()
    reasons = failing(client)
    assert set(reasons) == {"migrations", "keys"}
    assert "not migrated" in reasons["migrations"]
    assert_live(client)
    legacy = client.get("/api/v1/health")
    assert legacy.status_code == 503 and legacy.get_json()["status"] == "degraded"
    assert legacy.get_json()["database"] == "ok"


@pytest.mark.databases
def test_ready_is_503_one_revision_behind_the_head_and_200_once_upgraded(empty_database: str) -> None:
    application = committed_app(empty_database)
    with application.app_context():
        upgrade()
        downgrade(revision="-1")
    client = application.test_client()
    reasons = failing(client)
    assert set(reasons) == {"migrations", "keys"}
    assert "not at the head" in reasons["migrations"] and "aid db upgrade" in reasons["migrations"]
    assert_live(client)
    with application.app_context():
        upgrade()
        db.engine.dispose()
    assert client.get("/health/ready").status_code == 200


@pytest.mark.databases
def test_ready_is_503_naming_the_variable_when_the_key_fingerprints_differ(
    app: Flask, client: FlaskClient
) -> None:
    changed = db.session.execute(
        update(KeyFingerprint).where(KeyFingerprint.kind == HMAC_KIND).values(fingerprint="ab" * 32)
    )
    assert changed.rowcount == 1
    db.session.commit()  # a savepoint of the test's transaction: the probe's rollback keeps it
    reasons = failing(client)
    assert list(reasons) == ["keys"]
    assert "AID_ID_HMAC_KEY does not match" in reasons["keys"]
    text = client.get("/health/ready").get_data(as_text=True)
    assert app.config["AID_ID_HMAC_KEY"] not in text and "ab" * 32 not in text
    assert_live(client)


def test_ready_is_503_when_the_configured_redis_does_not_answer(app_factory: Callable[..., Flask]) -> None:
    client = app_factory(AID_REDIS_URL="redis://127.0.0.1:1/0").test_client()
    assert failing(client) == {"redis": "Redis does not answer"}
    assert_live(client)


def test_ready_checks_redis_when_it_is_configured_and_answers(
    app_factory: Callable[..., Flask], redis_prefix: str
) -> None:
    client = app_factory(AID_REDIS_URL=TEST_REDIS_URL, AID_REDIS_PREFIX=redis_prefix).test_client()
    response = client.get("/health/ready")
    assert response.status_code == 200
    assert {"name": "redis", "ok": True, "reason": ""} in response.get_json()["checks"]


def test_ready_is_503_and_live_200_when_the_database_does_not_answer(
    app_factory: Callable[..., Flask],
) -> None:
    client = app_factory("postgresql+psycopg://postgres@127.0.0.1:1/none?connect_timeout=1").test_client()
    reasons = failing(client)
    assert reasons["database"] == "the database does not answer"
    assert set(reasons) == {"database", "migrations", "keys"}
    assert_live(client)


def test_probes_need_no_authentication_and_are_not_throttled(client: FlaskClient) -> None:
    for _ in range(30):
        for path in (*PROBES, *READY):
            assert client.get(path, headers={"Authorization": "Bearer nonsense"}).status_code == 200, path


def test_probes_answer_while_the_deferred_key_check_refuses_every_other_request(
    app: Flask, client: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The database did not answer at start (keycheck checks at the first request); now the keys differ."""

    def mismatch(*_args: object) -> None:
        raise hmac_mismatch()

    app.extensions.pop(keycheck.CHECKED, None)
    app.before_request(keycheck._check_before_first_request)
    monkeypatch.setattr(keycheck, "check_keys", mismatch)
    assert client.get("/api/v1/rules").status_code == 503
    assert_live(client)
    ready = client.get("/health/ready")
    assert (
        ready.status_code == 200 and ready.get_json()["status"] == "ready"
    )  # its own checks, not the refusal


@pytest.mark.databases
def test_readiness_bounds_its_statements_with_a_short_timeout_on_postgresql(app: Flask) -> None:
    if db.engine.dialect.name != "postgresql":
        pytest.skip("a statement timeout is PostgreSQL's; SQLite's probe reads take no lock")
    session = db.session()
    checks = database_checks(session, migration_heads(app), id_vault())
    assert [check["ok"] for check in checks] == [True, True, True]
    assert session.execute(text("SHOW statement_timeout")).scalar() == "2s"
