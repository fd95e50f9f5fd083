"""Hostile clients against the serving layer: per-address rate limits (429 with RateLimit-* and Retry-After),
long request ids, and the report downloads' Content-Type (issue 15, items 6 and 8)."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from aidservice.extensions import db
from aidservice.models import AuditEvent, AuthToken
from aidservice.services.audit import verify
from config import REPO_ROOT, ConfigError, DevelopmentConfig, ProductionConfig, TestingConfig
from tests.conftest import TEST_REDIS_URL
from tests.production_keys import PRODUCTION_SECRETS
from tests.timing_support import FAST
from tests.web.conftest import csrf_from
from tests.world.factories import TEST_PASSWORD, make_user
from tests.world.reports import Province
from tests.world.reports import province_fixture as province_fixture  # fixture "province"

EVALUATE_LIMIT, LOGIN_LIMIT = 3, 3
EVALUATION = {"as_of": "2020-09-01", "facts": {"stage": "junior", "grade": 1}}
REDIS_URL = TEST_REDIS_URL
DEAD_REDIS_URL = "redis://127.0.0.1:1/3"  # nothing listens on port 1
RATE_HEADERS = ("RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset")


@pytest.fixture
def app_env() -> dict[str, str]:
    """This module's apps limit evaluate and sign-in to 3 a minute per address."""
    return limits_env()


def limits_env(**extra: str) -> dict[str, str]:
    return {
        "AID_RATELIMIT_ENABLED": "true",
        "AID_RATELIMIT_EVALUATE": f"{EVALUATE_LIMIT}/minute",
        "AID_RATELIMIT_LOGIN": f"{LOGIN_LIMIT}/minute",
        **extra,
    }


def evaluate(client: FlaskClient, address: str = "203.0.113.7", **headers: str) -> TestResponse:
    return client.post(
        "/api/v1/evaluate", json=EVALUATION, headers=headers, environ_base={"REMOTE_ADDR": address}
    )


def api_login(client: FlaskClient, password: str, address: str = "203.0.113.7") -> TestResponse:
    return client.post(
        "/api/v1/auth/login",
        json={"username": "olga", "password": password},
        environ_base={"REMOTE_ADDR": address},
    )


def web_login(client: FlaskClient, password: str, address: str = "203.0.113.7") -> TestResponse:
    environ = {"REMOTE_ADDR": address}
    token = csrf_from(client.get("/login", environ_base=environ).get_data(as_text=True))
    return client.post(
        "/login", data={"csrf_token": token, "username": "olga", "password": password}, environ_base=environ
    )


def timed(call: Callable[[], TestResponse]) -> tuple[TestResponse, float]:
    started = time.perf_counter()
    response = call()
    return response, time.perf_counter() - started


def assert_limited(response: TestResponse, elapsed: float, limit: int) -> None:
    """A 429 with the limit's headers, answered at once."""
    assert response.status_code == 429 and elapsed < FAST
    assert (
        response.headers["RateLimit-Limit"] == str(limit) and response.headers["RateLimit-Remaining"] == "0"
    )
    assert (
        0 < int(response.headers["Retry-After"]) <= 61 and 0 <= int(response.headers["RateLimit-Reset"]) <= 61
    )


# ------------------------------------------------------------------ rate limits


def test_the_fourth_evaluation_a_minute_from_one_address_is_a_429_problem_with_ratelimit_headers(
    client: FlaskClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    answers = [evaluate(client) for _ in range(EVALUATE_LIMIT)]
    assert [r.status_code for r in answers] == [200] * EVALUATE_LIMIT
    assert [r.headers["RateLimit-Remaining"] for r in answers] == ["2", "1", "0"]
    assert all("Retry-After" not in r.headers for r in answers)  # only a refusal says when to come back
    response, elapsed = timed(lambda: evaluate(client))
    assert_limited(response, elapsed, EVALUATE_LIMIT)
    problem = response.get_json()
    assert response.mimetype == "application/problem+json"
    assert problem["status"] == 429 and problem["type"].endswith("/too-many-requests")
    assert "Too many requests from this address" in problem["detail"] and problem["request_id"]
    assert "203.0.113.7" not in caplog.text  # the client's address is not logged


def test_other_addresses_and_other_routes_are_not_limited_by_one_address(client: FlaskClient) -> None:
    for _ in range(EVALUATE_LIMIT + 1):
        evaluate(client)
    assert evaluate(client).status_code == 429
    assert evaluate(client, address="198.51.100.9").status_code == 200  # another address counts on its own
    for _ in range(10):
        health = client.get("/api/v1/health", environ_base={"REMOTE_ADDR": "203.0.113.7"})
        assert health.status_code == 200 and not any(h in health.headers for h in RATE_HEADERS)
        rules = client.get("/api/v1/rules", environ_base={"REMOTE_ADDR": "203.0.113.7"})
        assert rules.status_code == 200 and "RateLimit-Limit" not in rules.headers


def test_the_limit_resets_when_its_window_ends(app_factory: Callable[..., Flask]) -> None:
    client = app_factory(**limits_env(AID_RATELIMIT_EVALUATE="2/second")).test_client()
    assert [evaluate(client).status_code for _ in range(3)] == [200, 200, 429]
    refused = evaluate(client)
    assert refused.status_code == 429
    time.sleep(int(refused.headers["Retry-After"]))
    again = evaluate(client)
    assert again.status_code == 200 and again.headers["RateLimit-Remaining"] == "1"


def test_behind_a_trusted_proxy_the_forwarded_address_is_the_one_counted(
    app_factory: Callable[..., Flask],
) -> None:
    client = app_factory(**limits_env(AID_PROXY_HOPS="1")).test_client()
    first = {"X-Forwarded-For": "192.0.2.1"}
    assert [evaluate(client, address="10.0.0.2", **first).status_code for _ in range(4)] == [
        200,
        200,
        200,
        429,
    ]
    # the same proxy forwards another client: a count of its own
    assert evaluate(client, address="10.0.0.2", **{"X-Forwarded-For": "192.0.2.2"}).status_code == 200


def test_a_fourth_api_sign_in_a_minute_is_refused_before_the_password_is_checked(
    app: Flask, client: FlaskClient
) -> None:
    make_user(db.session, "auditor", username="olga")
    db.session.commit()
    tokens_before = db.session.scalar(sa.select(sa.func.count()).select_from(AuthToken))
    assert [api_login(client, "wrong password!").status_code for _ in range(LOGIN_LIMIT)] == [
        401
    ] * LOGIN_LIMIT
    response, elapsed = timed(lambda: api_login(client, TEST_PASSWORD))
    assert_limited(response, elapsed, LOGIN_LIMIT)
    assert response.mimetype == "application/problem+json" and response.get_json()["status"] == 429
    assert db.session.scalar(sa.select(sa.func.count()).select_from(AuthToken)) == tokens_before  # no session


def test_the_web_sign_in_form_shares_the_limit_and_answers_an_html_page(
    app: Flask, client: FlaskClient
) -> None:
    make_user(db.session, "auditor", username="olga")
    db.session.commit()
    assert [api_login(client, "wrong password!").status_code for _ in range(2)] == [401, 401]
    assert web_login(client, "wrong password!").status_code == 401  # the third try of this address
    assert (
        client.get("/login", environ_base={"REMOTE_ADDR": "203.0.113.7"}).status_code == 200
    )  # showing the form
    response, elapsed = timed(lambda: web_login(client, TEST_PASSWORD))
    assert_limited(response, elapsed, LOGIN_LIMIT)
    page = response.get_data(as_text=True)
    assert response.mimetype == "text/html" and "429" in page and "请求过于频繁" in page
    assert (
        web_login(client, TEST_PASSWORD, address="198.51.100.9").status_code == 302
    )  # another address signs in


def test_a_redis_outage_counts_in_memory_and_never_answers_500(
    app_factory: Callable[..., Flask], caplog: pytest.LogCaptureFixture
) -> None:
    client = app_factory(**limits_env(AID_REDIS_URL=DEAD_REDIS_URL)).test_client()
    with caplog.at_level(logging.WARNING):
        answers = [timed(lambda: evaluate(client)) for _ in range(EVALUATE_LIMIT + 1)]
    assert [r.status_code for r, _ in answers] == [200] * EVALUATE_LIMIT + [429]
    assert all(elapsed < FAST for _, elapsed in answers)
    assert answers[-1][0].headers["Retry-After"]
    assert "falling back to in-memory storage" in caplog.text
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]  # no traceback


def test_two_workers_on_one_redis_share_the_count(
    app_factory: Callable[..., Flask], redis_prefix: str
) -> None:
    env = limits_env(AID_REDIS_URL=REDIS_URL, AID_REDIS_PREFIX=redis_prefix)
    first, second = app_factory(**env).test_client(), app_factory(**env).test_client()
    statuses = [evaluate(worker).status_code for worker in (first, second, first, second)]
    assert statuses == [200, 200, 200, 429]


def test_limits_are_on_in_production_with_sane_defaults_and_off_in_the_test_suite() -> None:
    for config in (ProductionConfig.from_env(PRODUCTION_SECRETS), DevelopmentConfig.from_env({})):
        assert config.AID_RATELIMIT_ENABLED is True
        assert (config.AID_RATELIMIT_EVALUATE, config.AID_RATELIMIT_LOGIN) == ("60/minute", "10/minute")
    assert TestingConfig.from_env({}).AID_RATELIMIT_ENABLED is False


@pytest.mark.parametrize("setting", ["AID_RATELIMIT_EVALUATE", "AID_RATELIMIT_LOGIN"])
def test_a_rate_that_is_not_one_is_a_configuration_error_naming_it(setting: str) -> None:
    with pytest.raises(ConfigError, match=setting):
        DevelopmentConfig.from_env({setting: "sixty a minute"})


# ------------------------------------------------------------------ request ids


LONGEST_ID = ("gw-" + "0123456789abcdef:." * 8)[:128]  # the documented longest X-Request-ID


@pytest.mark.databases
def test_a_128_character_request_id_is_echoed_and_stored_whole_in_the_audit_trail(
    app: Flask, client: FlaskClient
) -> None:
    assert len(LONGEST_ID) == 128
    make_user(db.session, "auditor", username="olga")
    db.session.commit()
    response, elapsed = timed(
        lambda: client.post(
            "/api/v1/auth/login",
            json={"username": "olga", "password": TEST_PASSWORD},
            headers={"X-Request-ID": LONGEST_ID},
        )
    )
    assert response.status_code == 200, response.get_json()
    assert response.headers["X-Request-ID"] == LONGEST_ID and elapsed < FAST
    stored = db.session.scalars(
        sa.select(AuditEvent.request_id).where(AuditEvent.action == "auth.login")
    ).all()
    assert stored == [LONGEST_ID]
    assert verify(db.session)[1] is None  # the chain, which hashes the id, still verifies


def test_a_129_character_request_id_is_replaced_by_a_generated_one(client: FlaskClient) -> None:
    response = client.get("/api/v1/health", headers={"X-Request-ID": LONGEST_ID + "9"})
    assert response.status_code == 200 and response.headers["X-Request-ID"] != LONGEST_ID + "9"
    assert len(response.headers["X-Request-ID"]) == 32


# ------------------------------------------------------------------ report downloads: one charset

REPORT_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "json": "application/json",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "html": "text/html; charset=utf-8",
}


@pytest.mark.parametrize("fmt", sorted(REPORT_TYPES))
def test_an_api_report_carries_exactly_one_charset(client: FlaskClient, province: Province, fmt: str) -> None:
    response = client.get(
        "/api/v1/reports/regions",
        query_string={"period": "2020-2021-autumn", "format": fmt},
        headers=province.headers("province_admin"),
    )
    body = response.get_data()  # the streamed report read whole, before any assertion
    assert response.status_code == 200, body[:300]
    assert response.headers["Content-Type"] == REPORT_TYPES[fmt]
    assert response.headers["Content-Type"].count("charset") == (1 if fmt in ("csv", "html") else 0)


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_a_web_report_download_carries_exactly_one_charset(
    client: FlaskClient, province: Province, fmt: str
) -> None:
    with client.session_transaction() as session:
        session["token"] = province.tokens["province_admin"]
        session["user"] = {
            "username": "province_admin-320000",
            "role": "province_admin",
            "school_code": None,
            "region_code": "320000",
        }
    response = client.get(f"/reports/regions/download?period=2020-2021-autumn&format={fmt}")
    body = response.get_data()  # the streamed report read whole, before any assertion
    assert response.status_code == 200, body[:300]
    assert response.headers["Content-Type"] == REPORT_TYPES[fmt]


# ------------------------------------------------------------------ gunicorn.conf.py

SHIPPED = {
    "bind": "['127.0.0.1:5000']",
    "workers": "2",
    "worker_class": "sync",
    "timeout": "120",
    "graceful_timeout": "20",
    "max_requests": "1000",
    "max_requests_jitter": "100",
    "control_socket_disable": "True",
    "accesslog": "None",
}


def gunicorn_settings(config: str, tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """gunicorn's own reading of a config file (--print-config loads it, and the app, then exits)."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("AID_") and k != "PORT"}
    return subprocess.run(
        [sys.executable, "-m", "gunicorn", "--print-config", "-c", config, "wsgi:app"],
        cwd=REPO_ROOT,
        env={
            **clean,
            "PYTHONPATH": str(REPO_ROOT),
            "DATABASE_URL": f"sqlite:///{tmp_path / 'g.sqlite3'}",
            **env,
        },
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def printed(output: str) -> dict[str, str]:
    pairs = (line.split("=", 1) for line in output.splitlines() if "=" in line)
    return {name.strip(): value.strip() for name, value in pairs}


@pytest.mark.parametrize("config", ["gunicorn.conf.py", "python:aidservice.gunicorn_conf"])
def test_the_shipped_gunicorn_config_loads_with_its_values(config: str, tmp_path: Path) -> None:
    result = gunicorn_settings(config, tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    settings = printed(result.stdout)
    assert {name: settings[name] for name in SHIPPED} == SHIPPED


def test_the_gunicorn_config_takes_port_workers_and_worker_class_from_the_environment(tmp_path: Path) -> None:
    result = gunicorn_settings(
        "gunicorn.conf.py",
        tmp_path,
        PORT="5999",
        AID_WORKERS="4",
        AID_WORKER_CLASS="gevent",
        AID_WORKER_TIMEOUT="45",
    )
    assert result.returncode == 0, result.stderr[-2000:]
    settings = printed(result.stdout)
    assert (settings["bind"], settings["workers"], settings["worker_class"], settings["timeout"]) == (
        "['127.0.0.1:5999']",
        "4",
        "gevent",
        "45",
    )


def test_a_wrong_worker_class_stops_gunicorn_naming_the_variable(tmp_path: Path) -> None:
    result = gunicorn_settings("gunicorn.conf.py", tmp_path, AID_WORKER_CLASS="threads")
    assert result.returncode != 0 and "AID_WORKER_CLASS" in result.stderr
