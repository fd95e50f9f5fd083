"""GET /api/v1/rules and the API documentation."""

from __future__ import annotations

from flask import Flask
from flask.testing import FlaskClient

PROGRAMS = {
    "preschool_aid",
    "compulsory_living_subsidy",
    "senior_high_fee_waiver",
    "senior_high_grant",
    "vocational_tuition_waiver",
    "vocational_grant",
    "undergrad_grant",
    "undergrad_inspirational_scholarship",
    "undergrad_national_scholarship",
    "graduate_grant",
    "graduate_national_scholarship",
    "student_loan",
    "covid_hardship_subsidy",
}


def test_rules_describe_the_loaded_set(app: Flask, client: FlaskClient) -> None:
    response = client.get("/api/v1/rules")
    assert response.status_code == 200
    body = response.get_json()
    assert body["version"] == app.extensions["aid_rules"].version
    assert {"documents", "facts", "levels", "programs", "parameters", "combinations"} <= set(body)


def test_rules_list_every_program_of_the_policy(client: FlaskClient) -> None:
    programs = client.get("/api/v1/rules").get_json()["programs"]
    assert {p["id"] for p in programs} == PROGRAMS


def test_provisional_parameters_are_marked_with_a_note(client: FlaskClient) -> None:
    parameters = client.get("/api/v1/rules").get_json()["parameters"]
    provisional = [p for p in parameters if p["status"] == "provisional"]
    assert provisional, "the 2020 baseline has provisional values (e.g. subsistence lines)"
    assert all(p["note"] for p in provisional)


def test_rules_keep_sections_the_schema_does_not_name(app: Flask, client: FlaskClient) -> None:
    described = app.extensions["aid_rules"].describe()
    assert set(client.get("/api/v1/rules").get_json()) == set(described)


def test_openapi_document_lists_the_foundation_endpoints(client: FlaskClient) -> None:
    spec = client.get("/api/v1/openapi.json").get_json()
    assert spec["openapi"] == "3.0.3"
    assert {"/api/v1/health", "/api/v1/evaluate", "/api/v1/rules"} <= set(spec["paths"])
    post = spec["paths"]["/api/v1/evaluate"]["post"]
    assert {"200", "400", "413", "415", "422"} <= set(post["responses"])


def test_docs_page_is_served_without_a_cdn(client: FlaskClient) -> None:
    page = client.get("/api/v1/docs").get_data(as_text=True)
    assert "/api/v1/docs/assets/swagger-ui-bundle.js" in page
    assert "cdn" not in page.lower() and "https://" not in page
    asset = client.get("/api/v1/docs/assets/swagger-ui-bundle.js")
    assert asset.status_code == 200 and len(asset.data) > 100_000
