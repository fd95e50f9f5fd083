"""GET /api/v1/health on every database backend, and when the database is gone (readiness: test_readiness.py)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from flask import Flask
from flask.testing import FlaskClient


@pytest.mark.databases
def test_health_is_ok_with_the_rule_set_version(app: Flask, client: FlaskClient) -> None:
    response = client.get("/api/v1/health")
    assert response.status_code == 200
    body = response.get_json()
    assert body.pop("checks") == [
        {"name": name, "ok": True, "reason": ""} for name in ("database", "migrations", "keys", "rules")
    ]
    assert body == {"status": "ok", "rule_set_version": app.extensions["aid_rules"].version, "database": "ok"}


def test_health_is_degraded_and_503_when_the_database_does_not_answer(
    app_factory: Callable[..., Flask],
) -> None:
    app = app_factory("postgresql+psycopg://postgres@127.0.0.1:1/none?connect_timeout=1")
    response = app.test_client().get("/api/v1/health")
    assert response.status_code == 503 and response.headers["Retry-After"] == "5"
    body = response.get_json()
    assert (body["status"], body["database"]) == ("degraded", "unavailable")
    assert body["rule_set_version"].startswith("sha256:")


def test_health_needs_no_authentication(client: FlaskClient) -> None:
    assert client.get("/api/v1/health", headers={"Authorization": "Bearer nonsense"}).status_code == 200
