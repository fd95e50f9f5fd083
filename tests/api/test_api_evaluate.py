"""POST /api/v1/evaluate against the real engine and rules: answers, explanations, and clear refusals."""

from __future__ import annotations

import re
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

AS_OF = "2020-09-01"
MONEY = re.compile(r"^\d+\.\d{2}$")


def evaluate(client: FlaskClient, facts: dict[str, Any], as_of: str = AS_OF, **extra: Any) -> Any:
    return client.post("/api/v1/evaluate", json={"as_of": as_of, "facts": facts, **extra})


def award(body: dict[str, Any], program: str) -> dict[str, Any]:
    return next(a for a in body["awards"] if a["program"] == program)


def test_orphan_in_junior_school_is_special_with_the_living_subsidy(app: Flask, client: FlaskClient) -> None:
    response = evaluate(client, {"stage": "junior", "grade": 1, "orphan": True})
    assert response.status_code == 200
    body = response.get_json()
    assert body["rule_set_version"] == app.extensions["aid_rules"].version
    assert body["as_of"] == AS_OF
    assert body["level"] == "special"
    assert [r["clause"] for r in body["reasons"]] == ["special_orphan"]
    subsidy = award(body, "compulsory_living_subsidy")
    assert subsidy["amount"] == "1250.00" and subsidy["kind"] == "grant"
    assert subsidy["basis"] and subsidy["status"] in ("confirmed", "provisional")
    assert body["total"] == "1250.00"


def test_response_has_the_documented_fields(client: FlaskClient) -> None:
    body = evaluate(client, {"stage": "junior", "grade": 1, "orphan": True}).get_json()
    assert list(body) == [
        "rule_set_version",
        "as_of",
        "level",
        "reasons",
        "awards",
        "total",
        "missing",
        "trace",
    ]
    assert set(body["reasons"][0]) == {"clause", "level", "label", "status", "basis"}
    assert set(body["awards"][0]) == {"program", "name", "kind", "amount", "basis", "status", "missing"}


def test_a_student_with_no_hardship_gets_level_none_and_nothing(client: FlaskClient) -> None:
    body = evaluate(client, {"stage": "primary", "grade": 3}).get_json()
    assert (body["level"], body["awards"], body["total"]) == ("none", [], "0.00")


def test_money_is_a_string_with_two_decimals(client: FlaskClient) -> None:
    facts = {"stage": "undergraduate", "grade": 2, "registered_poor": True, "academic_rank_pct": 1}
    body = evaluate(client, facts).get_json()
    amounts = [a["amount"] for a in body["awards"]]
    assert amounts and all(isinstance(a, str) and MONEY.match(a) for a in amounts)
    assert MONEY.match(body["total"])


def test_loans_are_listed_but_not_counted_in_the_total(client: FlaskClient) -> None:
    body = evaluate(client, {"stage": "undergraduate", "grade": 1, "registered_poor": True}).get_json()
    loan = award(body, "student_loan")
    assert loan["kind"] == "loan" and loan["amount"] == "8000.00"
    counted = sum(float(a["amount"]) for a in body["awards"] if a["kind"] != "loan")
    assert float(body["total"]) == counted


def test_a_waiver_with_unknown_tuition_has_a_null_amount_naming_the_fact(client: FlaskClient) -> None:
    body = evaluate(client, {"stage": "senior_high", "grade": 1, "registered_poor": True}).get_json()
    waiver = award(body, "senior_high_fee_waiver")
    assert waiver["amount"] is None and waiver["missing"] == ["tuition_fee"]
    assert "tuition_fee" in body["missing"]
    assert body["total"] == award(body, "senior_high_grant")["amount"]


def test_the_epidemic_subsidy_applies_only_in_2020(client: FlaskClient) -> None:
    facts = {"stage": "junior", "grade": 2, "covid_infected_family": True}
    in_2020 = evaluate(client, facts, as_of="2020-12-31").get_json()
    in_2021 = evaluate(client, facts, as_of="2021-01-01").get_json()
    assert "covid_hardship_subsidy" in {a["program"] for a in in_2020["awards"]}
    assert "covid_hardship_subsidy" not in {a["program"] for a in in_2021["awards"]}


def test_trace_is_included_by_default_with_json_ready_values(client: FlaskClient) -> None:
    facts = {"stage": "junior", "grade": 1, "per_capita_income": "1000.5", "city_code": "320100"}
    trace = evaluate(client, facts).get_json()["trace"]
    assert trace and {
        "item",
        "label",
        "result",
        "facts",
        "parameters",
        "missing",
        "status",
        "basis",
        "note",
    } == set(trace[0])
    low_income = next(t for t in trace if t["item"] == "clause:difficult_low_income")
    assert low_income["result"] is True
    assert low_income["facts"]["per_capita_income"] == "1000.50"
    amounts = [t for t in trace if t["item"].startswith("amount:") and t["result"] is not None]
    assert amounts and all(MONEY.match(t["result"]) for t in amounts)


@pytest.mark.parametrize(
    ("url", "extra"), [("/api/v1/evaluate?trace=false", {}), ("/api/v1/evaluate", {"trace": False})]
)
def test_trace_can_be_turned_off_in_the_query_or_the_body(
    client: FlaskClient, url: str, extra: dict[str, Any]
) -> None:
    response = client.post(url, json={"as_of": AS_OF, "facts": {"stage": "junior", "grade": 1}, **extra})
    assert response.status_code == 200 and response.get_json()["trace"] is None


def test_trace_off_gives_the_same_answer(client: FlaskClient) -> None:
    facts = {"stage": "undergraduate", "grade": 2, "subsistence_allowance": True, "academic_rank_pct": 20}
    with_trace = evaluate(client, facts).get_json()
    without = evaluate(client, facts, trace=False).get_json()
    del with_trace["trace"], without["trace"]
    assert with_trace == without


def test_unknown_fact_is_rejected_naming_it(client: FlaskClient) -> None:
    response = evaluate(client, {"stage": "junior", "grade": 1, "favourite_colour": "blue"})
    assert response.status_code == 422
    assert response.get_json()["errors"] == {"facts.favourite_colour": ["unknown fact"]}


def test_wrong_type_is_rejected_naming_the_fact(client: FlaskClient) -> None:
    response = evaluate(client, {"stage": "junior", "grade": "first"})
    assert response.status_code == 422
    assert list(response.get_json()["errors"]) == ["facts.grade"]


@pytest.mark.parametrize(
    ("fact", "value"),
    [("academic_rank_pct", 150), ("grade", 0), ("per_capita_income", -1), ("stage", "kindergarten")],
)
def test_out_of_range_value_is_rejected_naming_the_fact(client: FlaskClient, fact: str, value: Any) -> None:
    facts = {"stage": "junior", "grade": 1, fact: value}
    response = evaluate(client, facts)
    assert response.status_code == 422
    assert f"facts.{fact}" in response.get_json()["errors"]


def test_missing_stage_and_grade_are_rejected(client: FlaskClient) -> None:
    response = evaluate(client, {"orphan": True})
    assert response.status_code == 422
    assert {"facts.stage", "facts.grade"} <= set(response.get_json()["errors"])


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"facts": {"stage": "junior", "grade": 1}}, "as_of"),
        ({"as_of": "1 Sept 2020", "facts": {"stage": "junior", "grade": 1}}, "as_of"),
        ({"as_of": AS_OF}, "facts"),
        ({"as_of": AS_OF, "facts": ["stage", "junior"]}, "facts"),
        ({"as_of": AS_OF, "facts": {}, "student": "S1"}, "student"),
    ],
)
def test_malformed_request_fields_are_rejected_naming_them(
    client: FlaskClient, body: dict[str, Any], field: str
) -> None:
    response = client.post("/api/v1/evaluate", json=body)
    assert response.status_code == 422
    assert field in response.get_json()["errors"]


def test_malformed_json_is_400(client: FlaskClient) -> None:
    response = client.post("/api/v1/evaluate", data='{"as_of": ', content_type="application/json")
    assert response.status_code == 400


def test_a_form_post_is_415(client: FlaskClient) -> None:
    response = client.post("/api/v1/evaluate", data={"as_of": AS_OF})
    assert response.status_code == 415
