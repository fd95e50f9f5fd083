"""Regression tests for what the fuzzers (tests/fuzz) found: each was a crash or a response unlike its document."""

from __future__ import annotations

import io
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from aidservice.engine import RulesError
from aidservice.engine.loader import load_texts
from aidservice.errors import PROBLEM_MIMETYPE
from aidservice.extensions import db
from tests.world.factories import bearer, id_number, make_client, make_school, make_student, make_user
from tests.world.feeds import person, record, row_counts

TOO_BIG = 10**24  # beyond SQLite's 64-bit and PostgreSQL's 32-bit integer columns


@pytest.fixture
def admin(app: Flask) -> dict[str, str]:
    return bearer(make_user(db.session, "province_admin", region_code="320000")[1])


def _problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == PROBLEM_MIMETYPE
    return response.get_json()


@pytest.mark.databases
@pytest.mark.parametrize(
    "path",
    [
        f"/api/v1/applications/{TOO_BIG}",
        f"/api/v1/decisions/{TOO_BIG}/replay",
        f"/api/v1/reports/archive/{TOO_BIG}",
        f"/api/v1/schools/S1/notices/{TOO_BIG}",
        f"/api/v1/applications/{2**31}",
    ],
)
def test_an_id_beyond_the_integer_range_is_404_not_a_crash(
    client: FlaskClient, admin: dict[str, str], path: str
) -> None:
    method = client.post if path.endswith("/replay") else client.get
    _problem(method(path, headers=admin), 404)


@pytest.mark.databases
@pytest.mark.parametrize("path", ["/api/v1/applications", "/api/v1/reports/archive"])
def test_an_offset_beyond_the_integer_range_is_422_naming_offset(
    client: FlaskClient, admin: dict[str, str], path: str
) -> None:
    problem = _problem(client.get(f"{path}?offset={TOO_BIG}", headers=admin), 422)
    assert list(problem["errors"]) == ["offset"]


@pytest.mark.databases
def test_timestamps_in_responses_carry_their_utc_offset(client: FlaskClient, admin: dict[str, str]) -> None:
    school = make_school(db.session, "S1", "320102")
    make_student(db.session, "ST1", school)
    body = client.get("/api/v1/students/ST1", headers=admin).get_json()
    assert body["created_at"].endswith("+00:00"), body["created_at"]
    assert body["updated_at"].endswith("+00:00"), body["updated_at"]


@pytest.mark.databases
def test_a_null_record_is_rejected_by_its_index_not_the_whole_batch(client: FlaskClient) -> None:
    token = make_client(db.session, "civil_affairs")
    body = {"batch_id": "B-null", "records": [None, record(person(7001), "orphan")]}
    response = client.post("/api/v1/feeds/civil_affairs/batches", json=body, headers=bearer(token))
    assert response.status_code == 200, response.get_json()
    answer = response.get_json()
    assert answer["accepted"] == 1
    assert answer["rejected"] == [{"index": 0, "field": "record", "message": "must be an object"}]


def _openapi(client: FlaskClient) -> dict[str, Any]:
    return client.get("/api/v1/openapi.json").get_json()


def test_money_is_documented_as_the_string_it_is_sent_as(client: FlaskClient) -> None:
    schemas = _openapi(client)["components"]["schemas"]
    for schema, field in (("Evaluation", "total"), ("Award", "amount"), ("SchoolPayload", "tuition_fee")):
        prop = schemas[schema]["properties"][field]
        declared = prop.get("type") or prop["anyOf"][0]["type"]
        assert declared == "string", (schema, field, prop)
        assert "maximum" not in prop and "minimum" not in prop


def test_the_rules_description_documents_derived_facts_and_stays_open(client: FlaskClient) -> None:
    documented = _openapi(client)["components"]["schemas"]["RulesDescription"]
    sent = client.get("/api/v1/rules").get_json()
    assert set(sent) <= set(documented["properties"])
    assert documented.get("additionalProperties") is not False


def test_integer_path_ids_are_documented_with_their_range(client: FlaskClient) -> None:
    parameters = _openapi(client)["paths"]["/api/v1/applications/{application_id}"]["parameters"]
    (application_id,) = [p for p in parameters if p["name"] == "application_id"]
    assert application_id["schema"]["type"] == "integer"
    assert application_id["schema"]["maximum"] == 2**31 - 1


@pytest.mark.parametrize("text", ["facts:\n  a: \x08\n", "\x00", "levels: {}\n# \x1b[31m\n"])
def test_a_control_character_in_a_rule_file_is_a_rules_error_with_file_and_line(text: str) -> None:
    with pytest.raises(RulesError) as caught:
        load_texts({"facts.yaml": text})
    (issue,) = [i for i in caught.value.issues if "is not allowed" in i.message]
    assert issue.file == "rules/facts.yaml"
    assert issue.line == text.count("\n", 0, next(i for i, c in enumerate(text) if c < " " and c != "\n")) + 1
    assert issue.message.startswith("YAML syntax error: character U+00")


NUL = "\x00"


@pytest.mark.databases
@pytest.mark.parametrize(
    ("path", "field"),
    [
        ("/api/v1/students/a%00b", "student_id"),
        ("/api/v1/decisions?student_id=a%00b", "student_id"),
        ("/api/v1/audit?subject=student:a%00b", "subject"),
        ("/api/v1/schools/S%001/notices", "code"),
        ("/api/v1/applications?school=a%00", "school"),
        ("/api/v1/reports/regions?region=32%0000", "region"),
    ],
)
def test_a_nul_character_in_a_path_or_query_is_422_naming_it(
    client: FlaskClient, admin: dict[str, str], path: str, field: str
) -> None:
    problem = _problem(client.get(path, headers=admin), 422)
    assert list(problem["errors"]) == [field]


@pytest.mark.databases
@pytest.mark.parametrize(
    ("body", "field"),
    [
        ('{"batch_id": "B-1", "records": [{"name": "张\\u0000三"}]}', "records.0.name"),
        (
            '{"batch_id": "B-1", "records": [{"attributes": {"note": "\\u0000"}}]}',
            "records.0.attributes.note",
        ),
        ('{"batch_id": "B-1", "records": [{"name": "\\ud800"}]}', "records.0.name"),
    ],
)
def test_unstorable_text_in_a_batch_is_422_naming_the_field_and_changes_nothing(
    client: FlaskClient, body: str, field: str
) -> None:
    token = make_client(db.session, "civil_affairs")
    before = row_counts()
    response = client.post(
        "/api/v1/feeds/civil_affairs/batches",
        data=body,
        content_type="application/json",
        headers=bearer(token),
    )
    assert list(_problem(response, 422)["errors"]) == [field]
    assert row_counts() == before


@pytest.mark.databases
def test_a_nul_character_in_a_login_is_422_not_a_crash(client: FlaskClient) -> None:
    response = client.post("/api/v1/auth/login", json={"username": f"a{NUL}b", "password": "x" * 12})
    assert list(_problem(response, 422)["errors"]) == ["username"]


@pytest.mark.databases
def test_a_nul_character_in_an_imported_cell_rejects_its_row(
    client: FlaskClient, admin: dict[str, str]
) -> None:
    make_school(db.session, "S1", "320102")
    csv = f"student_id,id_number,name,school_code,stage,grade\nST1,{id_number(5)},张{NUL}三,S1,primary,1\n"
    response = client.post(
        "/api/v1/students/import",
        data={"file": (io.BytesIO(csv.encode()), "a.csv")},
        content_type="multipart/form-data",
        headers=admin,
    )
    problem = _problem(response, 422)
    assert problem["errors"] == {"rows.2.name": ["含有不可见的控制字符"]}


def test_a_multipart_part_without_a_name_is_a_clear_error_not_a_crash(
    client: FlaskClient, admin: dict[str, str]
) -> None:
    body = (
        b"--B\r\nContent-Disposition: form-data\r\n\r\nvalue\r\n"
        b'--B\r\nContent-Disposition: form-data; name="x"\r\n\r\n1\r\n--B--\r\n'
    )
    response = client.post(
        "/api/v1/students/import", data=body, headers=admin, content_type="multipart/form-data; boundary=B"
    )
    problem = _problem(response, 422)
    assert "file" in problem["errors"], problem


OPEN_OPERATIONS = {
    ("get", "/api/v1/health"),
    ("get", "/api/v1/health/live"),  # load balancers' probes: no token
    ("get", "/api/v1/health/ready"),
    ("get", "/api/v1/rules"),
    ("post", "/api/v1/evaluate"),
    ("post", "/api/v1/auth/login"),
}


def _operations(client: FlaskClient) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method, path, operation)
        for path, item in _openapi(client)["paths"].items()
        for method, operation in item.items()
        if method in ("get", "post", "put", "delete", "patch")
    ]


def test_operations_that_need_a_token_document_it_and_their_401_and_403(client: FlaskClient) -> None:
    scheme = _openapi(client)["components"]["securitySchemes"]["bearerAuth"]
    assert (scheme["type"], scheme["scheme"]) == ("http", "bearer")
    guarded = [(m, p, o) for m, p, o in _operations(client) if (m, p) not in OPEN_OPERATIONS]
    assert len(guarded) >= 20
    for method, path, operation in guarded:
        assert operation.get("security") == [{"bearerAuth": []}], (method, path)
        assert {"401", "403"} <= set(operation["responses"]), (method, path)
    for method, path, operation in _operations(client):
        if (method, path) in OPEN_OPERATIONS:
            assert "security" not in operation, (method, path)


def test_operations_with_a_json_body_document_400_413_and_415(client: FlaskClient) -> None:
    with_body = [
        (m, p, o)
        for m, p, o in _operations(client)
        if "application/json" in o.get("requestBody", {}).get("content", {})
    ]
    assert len(with_body) >= 7
    for method, path, operation in with_body:
        assert {"400", "413", "415", "422"} <= set(operation["responses"]), (method, path)


def test_an_unknown_agency_source_and_a_locked_login_are_documented(client: FlaskClient) -> None:
    paths = _openapi(client)["paths"]
    assert "404" in paths["/api/v1/feeds/{source}/batches"]["post"]["responses"]
    assert "429" in paths["/api/v1/auth/login"]["post"]["responses"]
