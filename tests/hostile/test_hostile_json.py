"""Generated hostile JSON against every JSON route of the API: never a 500, never over a second.

Each route gets a body that its logic accepts (checked by `test_each_base_body_reaches_the_routes_logic`,
so the hostile variants are not all stopped at the door by a wrong shape), sent by a caller who may use it.
Hypothesis then replaces the whole body, or one value anywhere inside it, with a hostile fragment written as
raw JSON text (the standard encoder cannot write most of them): nesting thousands deep, objects with tens of
thousands of keys, numbers of thousands of digits or with huge exponents, `NaN` and `Infinity`, digits from
other scripts, megabyte strings, dates outside any calendar in use, and control characters.

The province is the reports' world (tests/world/reports.py), committed once per backend; every test runs in
the transaction the `app` fixture rolls back, so what a generated request writes never reaches the next test.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aidservice.extensions import db
from aidservice.models import Application, Decision
from tests.timing_support import FAST, work_clock
from tests.world.factories import bearer, id_number
from tests.world.reports import seeded_province_database

SECOND = FAST
PLACEHOLDER = "\ue000hostile\ue000"
"""Stands in a base body for the value a fragment replaces (a private-use character no base body holds)."""


@dataclass(frozen=True)
class Route:
    """One JSON route: how to call it, as whom, with which accepted body."""

    name: str
    method: str
    path: str | Callable[[], str]
    caller: str
    body: Any

    def url(self) -> str:
        return self.path if isinstance(self.path, str) else self.path()


def _application_id() -> str:
    """School S1's submitted application (the province's REVIEW student): `review` applies to it."""
    return str(
        db.session.scalar(
            sa.select(sa.func.min(Application.id)).where(
                Application.school_code == "S1", Application.state == "submitted"
            )
        )
    )


def _decision_id() -> str:
    return str(db.session.scalar(sa.select(sa.func.min(Decision.id))))


DECLARED = {
    "household_size": 4,
    "per_capita_income": "5000.00",
    "major_illness": False,
    "disaster": False,
    "unemployed_parent": False,
    "single_parent": False,
    "covid_impact": True,
    "covid_infected_family": False,
    "academic_rank_pct": 10,
}
STUDENT = {
    "id_number": id_number(777),
    "name": "李四",
    "school_code": "S1",
    "class_name": "初一(2)班",
    "stage": "junior",
    "grade": 1,
    "boarding": False,
    "rural_hukou": True,
    "agri_major": False,
    "arts_performance_major": False,
    "retired_soldier": False,
    "salaried": False,
    "guardians": [{"id_number": id_number(778, born=date(1980, 1, 1)), "name": "李父", "relation": "father"}],
}
SCHOOL = {
    "name": "南京市玄武区第九中学",
    "region_code": "320102",
    "stages": ["junior", "senior_high"],
    "kind": "public",
    "inclusive_kindergarten": False,
    "tuition_fee": "1250.00",
    "central_university": False,
}
FACTS = {
    "stage": "undergraduate",
    "grade": 2,
    "city_code": "320100",
    "per_capita_income": "5000.00",
    "household_size": 3,
    "academic_rank_pct": 10,
    "tuition_fee": "4800.00",
    "disabled": True,
    "disability_grade": 3,
    "retired_soldier": False,
}


def _record(seed: int, status: str, **attributes: Any) -> dict[str, Any]:
    return {
        "id_number": id_number(seed),
        "name": "王五",
        "status": status,
        "valid_from": "2020-01-01",
        "valid_to": None,
        "attributes": attributes,
    }


ROUTES = (
    Route(
        "evaluate",
        "POST",
        "/api/v1/evaluate",
        "anonymous",
        {"as_of": "2020-09-01", "facts": FACTS, "trace": True},
    ),
    Route(
        "login",
        "POST",
        "/api/v1/auth/login",
        "anonymous",
        {"username": "officer-s1", "password": "not-it-1234"},
    ),
    Route("logout", "POST", "/api/v1/auth/logout", "county_admin", {}),
    Route("school", "PUT", "/api/v1/schools/H1", "nanjing_admin", SCHOOL),
    Route("student", "PUT", "/api/v1/students/ST-HOSTILE", "officer_S1", STUDENT),
    Route("reveal", "POST", "/api/v1/students/ST-NOAPP/id-number", "officer_S1", {}),
    Route(
        "application",
        "POST",
        "/api/v1/applications",
        "officer_S1",
        {
            "student_id": "ST-NOAPP",
            "school_year": "2020-2021",
            "declared": DECLARED,
            "commitment_signed": True,
        },
    ),
    Route(
        "action",
        "POST",
        lambda: f"/api/v1/applications/{_application_id()}/actions",
        "officer_S1",
        {"action": "review", "note": "核实", "version": 1},
    ),
    Route(  # a valid body reaches the service: the item is refused on its own (200), a hostile body first
        "batch actions",
        "POST",
        "/api/v1/applications/actions",
        "officer_S1",
        {"action": "review", "note": "核实", "items": [{"id": 1, "version": 1}, {"id": 2, "version": 1}]},
    ),
    Route("replay", "POST", lambda: f"/api/v1/decisions/{_decision_id()}/replay", "auditor", {}),
    Route(  # no declaration in this province: a valid body reaches the lookup (404), a hostile one is refused first
        "declaration verify",
        "POST",
        lambda: f"/api/v1/applications/{_application_id()}/declarations/999999/verify",
        "officer_S1",
        {"result": "verified", "note": "已核实", "version": 1},
    ),
    Route(
        "quota", "PUT", "/api/v1/quotas/S1/compulsory_living_subsidy/2020-2021", "county_admin", {"places": 3}
    ),
    Route(
        "notice settings",
        "PUT",
        "/api/v1/schools/S1/notice-settings",
        "officer_S1",
        {"contact_phone": "025-83456789", "signoff": "学生资助工作领导小组"},
    ),
    Route(
        "redetermination",
        "POST",
        "/api/v1/redeterminations",
        "province_admin",
        {"key": "hostile-1", "region": "320102", "as_of": "2020-09-01"},
    ),
    Route(
        "report job",
        "POST",
        "/api/v1/reports/special-groups/jobs",
        "province_admin",
        {
            "key": "hostile-2",
            "period": "2020-2021",
            "region": "320100",
            "format": "json",
            "as_of": "2020-09-01",
        },
    ),
    Route(
        "whatif",
        "POST",
        "/api/v1/whatif",
        "province_admin",
        {"key": "hostile-3", "region": "320100", "as_of": "2020-09-01"},
    ),
    Route(
        "civil affairs batch",
        "POST",
        "/api/v1/feeds/civil_affairs/batches",
        "client_civil_affairs",
        {"batch_id": "H-1", "records": [_record(801, "orphan"), _record(802, "subsistence_allowance")]},
    ),
    Route(
        "disability batch",
        "POST",
        "/api/v1/feeds/disabled_persons_federation/batches",
        "client_disabled_persons_federation",
        {"batch_id": "H-2", "records": [_record(803, "disabled", disability_grade=2)]},
    ),
)
BY_NAME = {route.name: route for route in ROUTES}


def test_every_json_route_of_the_api_is_covered(app: Flask) -> None:
    """A JSON route added later fails here until it has a base body above."""
    covered = {(route.method, _rule_of(route)) for route in ROUTES}
    writes = {
        (method, rule.rule)
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith("/api/")
        for method in rule.methods & {"POST", "PUT", "PATCH"}
    }
    uploads = {
        ("POST", "/api/v1/students/import"),
        ("POST", "/api/v1/jobs/<int:job_id>/retry"),
        ("POST", "/api/v1/whatif/upload"),
    }
    assert writes - uploads == covered


def _rule_of(route: Route) -> str:
    """The URL rule a route's path stands for (ids and codes as their placeholders)."""
    rules = {
        "action": "/api/v1/applications/<int:application_id>/actions",
        "replay": "/api/v1/decisions/<int:decision_id>/replay",
        "declaration verify": "/api/v1/applications/<int:application_id>/declarations/<int:declaration_id>/verify",
        "school": "/api/v1/schools/<code>",
        "student": "/api/v1/students/<student_id>",
        "reveal": "/api/v1/students/<student_id>/id-number",
        "quota": "/api/v1/quotas/<school_code>/<program>/<school_year>",
        "notice settings": "/api/v1/schools/<code>/notice-settings",
        "report job": "/api/v1/reports/<kind>/jobs",
        "civil affairs batch": "/api/v1/feeds/<source>/batches",
        "disability batch": "/api/v1/feeds/<source>/batches",
    }
    return rules.get(route.name, route.path if isinstance(route.path, str) else "")


TOKENS: dict[str, dict[str, str]] = {}
"""Bearer tokens of each seeded province's callers, by its database URL."""


@pytest.fixture(scope="session")
def db_url(db_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The reports' province, committed in a scratch database of the session's backend."""
    yield from seeded_province_database(db_url, tmp_path_factory.mktemp("hostile-json"), TOKENS)


@pytest.fixture
def call(client: FlaskClient, db_url: str) -> Callable[[Route, str], tuple[int, str, float]]:
    """Send a raw JSON text to a route as its caller: (status, content type, seconds)."""
    tokens = TOKENS[db_url]

    def send(route: Route, text: str) -> tuple[int, str, float]:
        headers = bearer(tokens[route.caller]) if route.caller in tokens else {}
        started = work_clock()
        response = client.open(
            route.url(),
            method=route.method,
            data=text.encode("utf-8", "surrogatepass"),
            content_type="application/json",
            headers=headers,
        )
        return response.status_code, response.content_type, work_clock() - started

    return send


@pytest.mark.databases
@pytest.mark.parametrize("name", list(BY_NAME))
def test_each_base_body_reaches_the_routes_logic(
    call: Callable[[Route, str], tuple[int, str, float]], name: str
) -> None:
    route = BY_NAME[name]
    status, _, _ = call(route, json.dumps(route.body, ensure_ascii=False))
    expected = {"login": 401, "replay": 200, "declaration verify": 404}.get(name)
    assert status == expected if expected else 200 <= status < 300, (name, status)


# ---- hostile fragments -----------------------------------------------------------------------------------


def _nested(depth: int, kind: str) -> str:
    if kind == "array":
        return "[" * depth + "1" + "]" * depth
    return '{"a":' * depth + "1" + "}" * depth


def _wide(keys: int) -> str:
    return "{" + ",".join(f'"k{i}":{i}' for i in range(keys)) + "}"


NUMBERS = (
    "1e100000000",
    "-1e100000000",
    "1E-100000000",
    "9" * 5000,
    "-" + "9" * 5000,
    "0." + "0" * 5000 + "1",
    "123456789012345678901234567890.001",
    "1" * 31,
    "NaN",
    "Infinity",
    "-Infinity",
    "-0",
    "1e308",
    "4e-324",
    "-1",
    "0",
    "2147483648",
    "9223372036854775808",
    "1" * 30,
    "-" + "9" * 30,
)
STRINGS = (
    "1e100000000",
    "9" * 5000,
    "123456789012345678901234567890.001",
    "NaN",
    "Infinity",
    "-1",
    "٣٢٠١٠٢٢٠٠٨٠٣٠١٠٠١٢",
    "３２０１０２２００８０３０１００１２",
    "32010220080301001\u0663",
    "0001-01-01",
    "9999-12-31",
    "+10000-01-01",
    "2020-02-30",
    "20200901",
    "\u202e\u202d",
    "\r\n\t",
    "\\u0000",
    "\\ud800",
    "x" * 100_000,
    "",
)


@st.composite
def fragments(draw: st.DrawFn) -> str:
    """One hostile JSON value as raw text."""
    kind = draw(st.sampled_from(("deep", "wide", "number", "string", "plain", "odd")))
    if kind == "deep":
        return _nested(
            draw(st.sampled_from((65, 200, 5000, 50_000))), draw(st.sampled_from(("array", "object")))
        )
    if kind == "wide":
        return _wide(draw(st.sampled_from((1000, 20_000, 120_000))))
    if kind == "number":
        return draw(st.sampled_from(NUMBERS))
    if kind == "string":
        return '"' + draw(st.sampled_from(STRINGS)) + '"'
    if kind == "plain":
        return json.dumps(
            draw(
                st.recursive(
                    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
                    lambda inner: (
                        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
                    ),
                    max_leaves=12,
                )
            ),
            ensure_ascii=False,
        )
    return draw(
        st.sampled_from(
            (
                "[" + "NaN," * 10_000 + "1]",
                '{"": {"": {"": "NaN"}}}',
                '{"a":1,"a":2}',
                '"' + "\\u4e2d" * 50_000 + '"',
                "[]",
                "{}",
                "null",
                "true",
            )
        )
    )


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Every place in a JSON value a fragment may take: the whole, each key's value, each list item."""
    yield prefix
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _paths(item, (*prefix, index))


def _with_placeholder(value: Any, path: tuple[Any, ...]) -> Any:
    if not path:
        return PLACEHOLDER
    head, rest = path[0], path[1:]
    if isinstance(value, dict):
        return {**value, head: _with_placeholder(value[head], rest)}
    return [_with_placeholder(item, rest) if index == head else item for index, item in enumerate(value)]


@st.composite
def hostile_bodies(draw: st.DrawFn) -> tuple[Route, str]:
    """A route and its base body with one value (or the whole) replaced by a hostile fragment, as JSON text."""
    route = draw(st.sampled_from(ROUTES))
    path = draw(st.sampled_from(list(_paths(route.body))))
    text = json.dumps(_with_placeholder(route.body, path), ensure_ascii=False)
    return route, text.replace(json.dumps(PLACEHOLDER, ensure_ascii=False), draw(fragments()), 1)


@pytest.mark.databases
@given(case=hostile_bodies())
@settings(max_examples=150, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
def test_hostile_json_never_answers_500_nor_takes_a_second(
    call: Callable[[Route, str], tuple[int, str, float]], case: tuple[Route, str]
) -> None:
    route, text = case
    status, content_type, seconds = call(route, text)
    assert status < 500, (route.name, status, text[:200])
    assert seconds < SECOND, (route.name, seconds, text[:200])
    if status >= 400:
        assert content_type == "application/problem+json", (route.name, status, content_type)


INTEGER_FIELDS = [
    ("action", ("version",)),
    ("quota", ("places",)),
    ("student", ("grade",)),
    ("application", ("declared", "household_size")),
    ("evaluate", ("facts", "grade")),
    ("disability batch", ("records", 0, "attributes", "disability_grade")),
]


@pytest.mark.databases
@pytest.mark.parametrize("name, path", INTEGER_FIELDS)
@pytest.mark.parametrize("number", ["1" * 30, "-" + "9" * 30, "9223372036854775808", "1" * 31, "1e400"])
def test_an_integer_past_any_column_is_refused_not_sent_to_the_database(
    call: Callable[[Route, str], tuple[int, str, float]], name: str, path: tuple[Any, ...], number: str
) -> None:
    """30 digits stay an int through the parser: each integer field must refuse it before a query binds it."""
    route = BY_NAME[name]
    text = json.dumps(_with_placeholder(route.body, path), ensure_ascii=False)
    status, content_type, seconds = call(
        route, text.replace(json.dumps(PLACEHOLDER, ensure_ascii=False), number)
    )
    assert status < 500 and seconds < SECOND, (name, status)
    if name != "disability batch":
        assert status in (409, 422) and content_type == "application/problem+json", (name, status)
