"""Schemathesis against /api/v1/openapi.json: every operation, as every caller, never a 500, always as documented.

The schema is read once from an app on an in-memory database (the document needs no tables); each generated
request goes to the test's own `app`, on the seeded province, inside the transaction rolled back after the test.
"""

from __future__ import annotations

import pytest
import schemathesis
from flask import Flask
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from aidservice import create_app
from tests.conftest import make_config
from tests.world.factories import bearer

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]
"""What the API promises; not that every schema-valid body is accepted (ID checksums, known schools and
programs are checked beyond what a JSON schema can say)."""
USERS = ("officer_S1", "county_admin", "nanjing_admin", "province_admin", "auditor")
CLIENTS = (
    "client_poverty_alleviation",
    "client_civil_affairs",
    "client_disabled_persons_federation",
    "client_veterans_affairs",
)
CALLERS = (*USERS, *CLIENTS, "anonymous")
OPEN_PATHS = (
    "/api/v1/health",
    "/api/v1/health/live",
    "/api/v1/health/ready",
    "/api/v1/rules",
    "/api/v1/evaluate",
    "/api/v1/auth/login",
)
"""Operations that read no token: one caller with a token and one without are enough."""
FEEDS = "/api/v1/feeds/"


def reaches_logic(path: str, caller: str) -> bool:
    """Whether `caller` gets past authentication into what the operation does (or is the one refused case kept).

    Every user role on the users' operations and every agency on the feeds; of the others, one agency client
    stands for all on the users' operations, one user for all on the feeds, and anonymous everywhere.
    """
    if path in OPEN_PATHS:
        return caller in ("anonymous", "officer_S1")
    if path.startswith(FEEDS):
        return caller in (*CLIENTS, "anonymous", "province_admin")
    return caller in (*USERS, "anonymous", "client_civil_affairs")


def _load_schema() -> schemathesis.BaseSchema:
    loaded = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", create_app(make_config("sqlite://")))
    loaded.config.phases.update(phases=["examples", "fuzzing"])
    loaded.config.generation.update(max_examples=10, deterministic=True)
    return loaded


schema = _load_schema()


@pytest.fixture(params=CALLERS)
def caller(request: pytest.FixtureRequest) -> str:
    """Who calls: each role's user, each agency's client, and nobody."""
    return request.param


@pytest.mark.databases  # PostgreSQL refuses what SQLite stores (U+0000): both backends are fuzzed
@schema.parametrize()
@settings(deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_api_conforms_to_its_openapi_for_every_caller(
    case: schemathesis.Case, caller: str, tokens: dict[str, str], app: Flask
) -> None:
    headers = bearer(tokens[caller]) if caller in tokens else {}
    case.call_and_validate(headers=headers, app=app, checks=CHECKS)
