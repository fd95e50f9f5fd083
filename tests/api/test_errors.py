"""Every error under /api is application/problem+json with the same shape; elsewhere an HTML page."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from aidservice.errors import PROBLEM_TYPE_BASE, flatten_messages, webargs_messages
from aidservice.services.errors import Conflict, Forbidden, NotFound, ValidationFailed

PROBLEM_KEYS = {"type", "title", "status", "detail", "errors", "request_id"}
VALID_BODY = {"as_of": "2020-09-01", "facts": {"stage": "junior", "grade": 1}}


@pytest.fixture
def app_env() -> dict[str, str]:
    return {"AID_MAX_BODY_BYTES": "4096"}


def assert_problem(response: Any, status: int, type_suffix: str) -> dict[str, Any]:
    """The response is a problem document of this status and type; returns its body."""
    assert response.status_code == status
    assert response.mimetype == "application/problem+json"
    body = response.get_json(force=True)
    assert set(body) == PROBLEM_KEYS
    assert body["status"] == status
    assert body["type"] == PROBLEM_TYPE_BASE + type_suffix
    assert body["title"] and body["detail"]
    assert isinstance(body["errors"], dict)
    assert body["request_id"] == response.headers["X-Request-ID"]
    return body


def test_malformed_json_is_400(client: FlaskClient) -> None:
    response = client.post("/api/v1/evaluate", data="{not json", content_type="application/json")
    body = assert_problem(response, 400, "bad-request")
    assert body["errors"] == {"body": ["Invalid JSON body."]}


def test_unknown_path_is_404(client: FlaskClient) -> None:
    assert_problem(client.get("/api/v1/no-such-thing"), 404, "not-found")


def test_wrong_method_is_405_and_names_the_allowed_ones(client: FlaskClient) -> None:
    response = client.get("/api/v1/evaluate")
    assert_problem(response, 405, "method-not-allowed")
    assert "POST" in response.headers["Allow"]


def test_body_over_the_limit_is_413(client: FlaskClient) -> None:
    facts = {"stage": "junior", "grade": 1, "padding": "x" * 5000}
    response = client.post("/api/v1/evaluate", json={"as_of": "2020-09-01", "facts": facts})
    body = assert_problem(response, 413, "payload-too-large")
    assert "4096" in body["detail"]


def test_wrong_content_type_is_415(client: FlaskClient) -> None:
    response = client.post("/api/v1/evaluate", data="as_of=2020-09-01", content_type="text/plain")
    body = assert_problem(response, 415, "unsupported-media-type")
    assert "application/json" in body["detail"]


def test_missing_body_fields_are_422_per_field(client: FlaskClient) -> None:
    response = client.post("/api/v1/evaluate", json={"facts": {}, "extra": 1})
    body = assert_problem(response, 422, "validation-error")
    assert set(body["errors"]) == {"as_of", "extra"}


def test_engine_facts_error_is_422_under_facts(client: FlaskClient) -> None:
    response = client.post("/api/v1/evaluate", json={"as_of": "2020-09-01", "facts": {"grade": 1, "foo": 1}})
    body = assert_problem(response, 422, "validation-error")
    assert body["errors"]["facts.foo"] == ["unknown fact"]
    assert "facts.stage" in body["errors"]


@pytest.fixture
def failing_routes(app: Flask) -> Flask:
    """Routes that raise what services and bugs raise, to see how the central handler presents them."""
    raised = {
        "crash": RuntimeError("connection string postgres://secret@db"),
        "conflict": Conflict("batch b1 was already sent with another body"),
        "forbidden": Forbidden("school 3201 is outside your scope"),
        "missing": NotFound("student S1 not found"),
        "invalid": ValidationFailed({"guardians.0.id_number": ["bad checksum"]}),
    }

    def view(name: str) -> None:
        raise raised[name]

    app.add_url_rule("/api/v1/_test/<name>", "raise_api", view)
    app.add_url_rule("/ui/_test/<name>", "raise_ui", view)
    return app


def test_unexpected_exception_is_500_without_internals(failing_routes: Flask, client: FlaskClient) -> None:
    response = client.get("/api/v1/_test/crash")
    body = assert_problem(response, 500, "internal-error")
    text = response.get_data(as_text=True)
    assert "secret" not in text and "Traceback" not in text and "RuntimeError" not in text
    assert body["request_id"] in body["detail"] or "request id" in body["detail"]


@pytest.mark.parametrize(
    ("name", "status", "type_suffix"),
    [("conflict", 409, "conflict"), ("forbidden", 403, "forbidden"), ("missing", 404, "not-found")],
)
def test_domain_errors_keep_their_status_and_detail(
    failing_routes: Flask, client: FlaskClient, name: str, status: int, type_suffix: str
) -> None:
    body = assert_problem(client.get(f"/api/v1/_test/{name}"), status, type_suffix)
    assert body["detail"] != body["title"]


def test_validation_failed_carries_its_field_errors(failing_routes: Flask, client: FlaskClient) -> None:
    body = assert_problem(client.get("/api/v1/_test/invalid"), 422, "validation-error")
    assert body["errors"] == {"guardians.0.id_number": ["bad checksum"]}


def test_outside_the_api_errors_are_html_pages(failing_routes: Flask, client: FlaskClient) -> None:
    response = client.get("/ui/_test/missing")
    assert response.status_code == 404
    assert response.mimetype == "text/html"
    page = response.get_data(as_text=True)
    assert response.headers["X-Request-ID"] in page and "不存在" in page
    assert "student S1 not found" not in page  # the Chinese page never carries the English detail
    english = client.get("/ui/_test/missing?lang=en").get_data(as_text=True)
    assert "student S1 not found" in english
    crash = client.get("/ui/_test/crash")
    assert crash.status_code == 500 and "secret" not in crash.get_data(as_text=True)


def test_unknown_page_outside_the_api_is_html(client: FlaskClient) -> None:
    response = client.get("/no-such-page")
    assert response.status_code == 404 and response.mimetype == "text/html"


def test_nested_messages_are_joined_with_dots() -> None:
    messages = {
        "facts": {"grade": ["Not a valid integer."], "_schema": ["Bad facts."]},
        "awards": {0: {"x": ["y"]}},
    }
    assert flatten_messages(messages) == {
        "facts.grade": ["Not a valid integer."],
        "facts": ["Bad facts."],
        "awards.0.x": ["y"],
    }


def test_webargs_locations_are_not_field_names() -> None:
    assert webargs_messages({"json": {"as_of": ["Missing."]}, "query": {"trace": ["Not a bool."]}}) == {
        "as_of": ["Missing."],
        "trace": ["Not a bool."],
    }
    assert webargs_messages({"json": ["Invalid JSON body."]}) == {"body": ["Invalid JSON body."]}


def test_problem_schema_is_in_the_openapi_document(client: FlaskClient) -> None:
    spec = client.get("/api/v1/openapi.json").get_json()
    problem = spec["components"]["schemas"]["Problem"]
    refused_file = {"rows", "total_errors"}  # the extension members of a refused import
    assert set(problem["properties"]) == PROBLEM_KEYS | refused_file
    assert set(problem["required"]) == PROBLEM_KEYS
    default_error = spec["components"]["responses"]["DEFAULT_ERROR"]
    assert "application/problem+json" in default_error["content"]
    assert VALID_BODY  # the body used elsewhere stays valid for the spec's example
