"""Each request carries an id: the client's X-Request-ID when sane, else a fresh one; always echoed."""

from __future__ import annotations

import re

import pytest
from flask import Flask, g
from flask.testing import FlaskClient


def test_a_sane_incoming_id_is_echoed(client: FlaskClient) -> None:
    response = client.get("/api/v1/health", headers={"X-Request-ID": "gw-7f3a.42:1"})
    assert response.headers["X-Request-ID"] == "gw-7f3a.42:1"


def test_without_an_incoming_id_one_is_generated(client: FlaskClient) -> None:
    first = client.get("/api/v1/health").headers["X-Request-ID"]
    second = client.get("/api/v1/health").headers["X-Request-ID"]
    assert re.fullmatch(r"[0-9a-f]{32}", first) and first != second


@pytest.mark.parametrize("bad", ["has space", "x" * 200, "<script>", "a\tb", "-leading-dash"])
def test_an_insane_incoming_id_is_replaced(client: FlaskClient, bad: str) -> None:
    response = client.get("/api/v1/health", headers={"X-Request-ID": bad})
    assert re.fullmatch(r"[0-9a-f]{32}", response.headers["X-Request-ID"])


def test_errors_carry_the_same_id_in_header_and_body(client: FlaskClient) -> None:
    response = client.get("/api/v1/nowhere", headers={"X-Request-ID": "trace-1"})
    assert response.headers["X-Request-ID"] == "trace-1"
    assert response.get_json(force=True)["request_id"] == "trace-1"


def test_each_request_starts_with_a_fresh_g_as_in_production(app: Flask, client: FlaskClient) -> None:
    seen: list[bool] = []

    @app.get("/api/v1/_test/g")
    def remember() -> str:
        seen.append("marker" in g)
        g.marker = True
        return "ok"

    client.get("/api/v1/_test/g")
    client.get("/api/v1/_test/g")
    assert seen == [False, False]
