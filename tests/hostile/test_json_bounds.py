"""Issue 15, item 2: JSON bodies are bounded (depth, values, keys per object) before they are parsed, and the
anonymous routes take small bodies. Before the fix a body nested 5,000 deep answered 500 on every route."""

from __future__ import annotations

import io
import json
import math
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from aidservice import jsonbody
from aidservice.extensions import db
from aidservice.models import Student
from tests.timing_support import FAST, work_clock
from tests.world.applications import World, world_fixture  # noqa: F401 - fixture "world"

DEEP = {"array": "[" * 5000 + "]" * 5000, "object": '{"a":' * 5000 + "1" + "}" * 5000}
ROUTES = [("GET", "/api/v1/health"), ("POST", "/api/v1/auth/login"), ("POST", "/api/v1/evaluate")]


def send(client: FlaskClient, method: str, url: str, body: str | bytes, **kwargs: Any) -> Any:
    started = work_clock()
    response = client.open(url, method=method, data=body, content_type="application/json", **kwargs)
    assert work_clock() - started < FAST
    return response


def bad_body(response: Any, status: int = 400, words: str = "") -> None:
    assert response.status_code == status, response.get_data(as_text=True)[:300]
    assert response.mimetype == "application/problem+json"
    assert words in response.json["errors"]["body"][0]


@pytest.mark.parametrize("shape", list(DEEP))
@pytest.mark.parametrize(("method", "url"), ROUTES)
def test_a_body_nested_5000_deep_is_a_400_naming_the_depth(
    client: FlaskClient, method: str, url: str, shape: str
) -> None:
    response = send(client, method, url, DEEP[shape])
    if url.endswith("/login") and shape == "object":  # 25 kB: over the route's size limit, refused unread
        bad_body(response, 413, "limit of")
    else:
        bad_body(response, words="deeper than 64")


@pytest.mark.databases
def test_a_body_nested_5000_deep_on_a_student_put_is_a_400_and_stores_nothing(
    client: FlaskClient, world: World
) -> None:
    bad_body(
        send(client, "PUT", "/api/v1/students/NEW", DEEP["object"], headers=world.headers("officer")),
        words="deeper than 64",
    )
    assert db.session.execute(sa.select(Student)).first() is None


def test_a_deep_json_body_on_the_web_login_is_a_400_page(client: FlaskClient) -> None:
    response = send(client, "POST", "/login", DEEP["array"])
    assert response.status_code == 400 and response.mimetype == "text/html"


def test_65_levels_are_refused_and_64_are_read() -> None:
    assert jsonbody.loads("[" * 64 + "]" * 64) is not None
    with pytest.raises(jsonbody.BodyTooComplex):
        jsonbody.loads("[" * 65 + "]" * 65)


def test_brackets_inside_strings_do_not_count() -> None:
    value = {"a": "[" * 5000, "b": '\\"{' * 100}
    assert jsonbody.loads(json.dumps(value)) == value


@pytest.mark.databases
def test_a_body_with_100000_keys_is_a_400_and_stores_nothing(client: FlaskClient, world: World) -> None:
    body = json.dumps({f"k{i}": 1 for i in range(100_000)})
    bad_body(
        send(client, "PUT", "/api/v1/students/NEW", body, headers=world.headers("officer")),
        words=f"more than {jsonbody.MAX_KEYS} keys",
    )
    assert db.session.execute(sa.select(Student)).first() is None


@pytest.mark.databases
def test_a_body_with_more_values_than_the_bound_is_a_400(client: FlaskClient, world: World) -> None:
    body = json.dumps({"guardians": [0] * (jsonbody.MAX_MEMBERS + 1)})
    bad_body(
        send(client, "PUT", "/api/v1/students/NEW", body, headers=world.headers("officer")),
        words=f"more than {jsonbody.MAX_MEMBERS} values",
    )


def test_a_full_feed_batch_fits_the_bounds_and_a_1_mb_body_is_read_fast() -> None:
    record = {
        "id_number": "320102200803010011",
        "name": "张三",
        "status": "disabled",
        "valid_from": "2020-01-01",
        "valid_to": None,
        "attributes": {"disability_grade": 2},
    }
    text = json.dumps({"batch_id": "b1", "records": [record] * 10_000}, ensure_ascii=False)
    assert len(text.encode()) > 1_000_000
    started = work_clock()
    assert len(jsonbody.loads(text.encode())["records"]) == 10_000
    assert work_clock() - started < FAST


def test_an_unterminated_string_full_of_escaped_quotes_is_scanned_in_linear_time() -> None:
    started = work_clock()
    with pytest.raises(ValueError):
        jsonbody.loads('"' + '\\"' * 500_000 + "\\")
    assert work_clock() - started < FAST  # linear: a quadratic scan of this string takes minutes


def test_numbers_are_never_exact_before_a_validator_sees_them() -> None:
    """The contract with every field validator: huge or non-finite numbers arrive as floats, never as a 500."""
    values = jsonbody.loads(f"[1e100000, {'9' * 5000}, {'1' * 30}, NaN, Infinity, -Infinity, 1.5]")
    assert values[0] == math.inf and values[1] == math.inf and values[2] == int("1" * 30)
    assert math.isnan(values[3]) and values[4] == math.inf and values[5] == -math.inf and values[6] == 1.5


def test_malformed_json_stays_a_400_naming_the_body(client: FlaskClient) -> None:
    bad_body(send(client, "POST", "/api/v1/evaluate", '{"as_of": '), words="Invalid JSON")


@pytest.mark.parametrize(
    ("url", "setting"),
    [("/api/v1/auth/login", "AID_LOGIN_MAX_BYTES"), ("/api/v1/evaluate", "AID_EVALUATE_MAX_BYTES")],
)
def test_an_oversized_anonymous_body_is_a_413_naming_the_limit(
    app: Flask, client: FlaskClient, url: str, setting: str
) -> None:
    limit = app.config[setting]
    body = json.dumps({"username": "x" * limit, "as_of": "2020-09-01", "facts": {}})
    bad_body(send(client, "POST", url, body), 413, f"limit of {limit} bytes")


def test_a_chunked_oversized_login_body_is_a_413_naming_the_limit(app: Flask, client: FlaskClient) -> None:
    limit = app.config["AID_LOGIN_MAX_BYTES"]
    body = json.dumps({"username": "x" * (limit * 4), "password": "p"}).encode()
    started = work_clock()
    response = client.post(
        "/api/v1/auth/login",
        input_stream=io.BytesIO(body),
        content_type="application/json",
        headers={"Transfer-Encoding": "chunked"},
        environ_overrides={"wsgi.input_terminated": True},
    )
    assert work_clock() - started < FAST
    assert response.status_code == 413 and response.mimetype == "application/problem+json"
    assert str(limit) in response.json["detail"]


def test_the_small_body_limits_come_from_configuration(app_factory: Any) -> None:
    app = app_factory(AID_LOGIN_MAX_BYTES="100", AID_EVALUATE_MAX_BYTES="200")
    assert jsonbody.body_limits(app.config) == {"auth.sign_in": 100, "evaluate.evaluate": 200}
