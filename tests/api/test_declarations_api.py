"""Out-of-province declarations through the API: taken with the application, verified by the school's officer
(POST /api/v1/applications/{id}/declarations/{decl_id}/verify), read back on GET, bounded, scoped."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa
from flask.testing import FlaskClient

from aidservice.extensions import db
from aidservice.models import StatusDeclaration
from tests.world.applications import (
    Clock,
    World,
    act,
    clock_fixture,  # noqa: F401 - fixture "clock"
    ok,
    submit,
    world_fixture,  # noqa: F401 - fixture "world"
)

pytestmark = pytest.mark.databases


def declaration(**changes: Any) -> dict[str, Any]:
    item: dict[str, Any] = {
        "status": "subsistence_allowance",
        "province": "340000",
        "document": {
            "kind": "低保证",
            "issuer": "阜阳市民政局",
            "number": "DB-20200101",
            "date": "2020-03-01",
        },
    }
    document = changes.pop("document", {})
    item.update(changes)
    item["document"] = {**item["document"], **document}
    return item


def verify(client: FlaskClient, world: World, view: dict[str, Any], who: str = "officer", **body: Any) -> Any:
    payload = {"result": "verified", "version": view["version"], **body}
    decl_id = view["out_of_province"][0]["id"]
    return client.post(
        f"/api/v1/applications/{view['id']}/declarations/{decl_id}/verify",
        json=payload,
        headers=world.headers(who),
    )


def test_a_declaration_is_taken_verified_and_read_back(
    client: FlaskClient, world: World, clock: Clock
) -> None:
    world.student("A1")
    made = ok(submit(client, world, "A1", declared={}, out_of_province=[declaration()]), 201)
    (pending,) = made["out_of_province"]
    assert pending["state"] == "pending" and pending["state_label"] == "待核实"
    assert (pending["province"], pending["province_name"]) == ("34", "安徽省")
    assert pending["status_label"] == "外省低保" and pending["source"] == "declared_verified"
    assert pending["document"] == {
        "kind": "低保证",
        "issuer": "阜阳市民政局",
        "number": "DB-20200101",
        "date": "2020-03-01",
    }
    assert made["level"] == "none"

    refused = act(client, world, made, "review")
    assert refused.status_code == 409 and "外省低保（安徽省，低保证）待核实" in refused.json["detail"]
    assert "out_of_province.0" in refused.json["errors"]

    verified = ok(verify(client, world, made, note="原件已核对"))
    assert verified["level"] == "special" and verified["version"] == made["version"] + 1
    assert verified["facts"]["subsistence_allowance"]["source"] == "declared_verified"
    assert (
        verified["out_of_province"][0]["state"] == "verified"
        and verified["out_of_province"][0]["verified_by"]
    )
    assert any(r.get("declared") for r in verified["reasons"])
    read = ok(client.get(f"/api/v1/applications/{made['id']}", headers=world.headers("county_admin")))
    assert read["out_of_province"] == verified["out_of_province"]
    assert read["history"][-1]["action"] == "verify_declaration"
    assert ok(act(client, world, verified, "review"))["state"] == "reviewed"


def test_verifying_names_the_version_and_is_once(client: FlaskClient, world: World, clock: Clock) -> None:
    world.student("A1")
    made = ok(submit(client, world, "A1", declared={}, out_of_province=[declaration()]), 201)
    stale = verify(client, world, {**made, "version": made["version"] + 5})
    assert stale.status_code == 409 and "version" in stale.json["errors"]
    rejecting = verify(client, world, made, result="rejected")
    assert rejecting.status_code == 422 and "note" in rejecting.json["errors"]
    rejected = ok(verify(client, world, made, result="rejected", note="证明已过期"))
    assert rejected["level"] == "none" and rejected["out_of_province"][0]["state_label"] == "不予核实"
    again = verify(client, world, rejected)
    assert again.status_code == 409
    bad = verify(client, world, rejected, result="maybe")
    assert bad.status_code == 422 and "result" in bad.json["errors"]


def test_only_the_schools_officer_verifies(client: FlaskClient, world: World, clock: Clock) -> None:
    world.student("A1")
    made = ok(submit(client, world, "A1", declared={}, out_of_province=[declaration()]), 201)
    assert verify(client, world, made, who="other_officer").status_code == 404
    assert verify(client, world, made, who="county_admin").status_code == 403
    assert verify(client, world, made, who="client").status_code == 403
    assert verify(client, world, made, who="nobody").status_code == 401
    other = client.post(
        f"/api/v1/applications/{made['id']}/declarations/999999/verify",
        json={"result": "verified", "version": made["version"]},
        headers=world.headers("officer"),
    )
    assert other.status_code == 404
    state = db.session.execute(sa.select(StatusDeclaration.state)).scalar_one()
    assert state == "pending"


@pytest.mark.parametrize(
    ("items", "field", "message"),
    [
        ([declaration(document={"date": "2020-10-13"})], "out_of_province.0.document.date", "不能晚于今天"),
        ([declaration(province="320100")], "out_of_province.0.province", "江苏以外"),
        ([declaration(province="江苏")], "out_of_province.0.province", "江苏以外"),
        ([declaration(province="火星")], "out_of_province.0.province", "不是可识别的省份"),
        ([declaration(status="orphan")], "out_of_province.0.status", "subsistence_allowance（外省低保）"),
        ([declaration(), declaration()], "out_of_province.1.status", "只能申报一次"),
        ([declaration()] * 6, "out_of_province", "最多申报 5 项"),
        ([declaration(document={"number": "x" * 65})], "out_of_province.0.document.number", "最多 64"),
        ([declaration(document={"issuer": "民政局\u202e"})], "out_of_province.0.document.issuer", "一行文字"),
        ([declaration(document={"kind": ""})], "out_of_province.0.document.kind", "请填写证明种类"),
    ],
)
def test_a_bad_declaration_is_refused_naming_the_field_and_nothing_is_taken(
    client: FlaskClient, world: World, clock: Clock, items: list[dict[str, Any]], field: str, message: str
) -> None:
    world.student("A1")
    response = submit(client, world, "A1", out_of_province=items)
    assert response.status_code == 422, response.json
    assert response.mimetype == "application/problem+json"
    assert any(message in m for m in response.json["errors"][field]), response.json["errors"]
    assert db.session.execute(sa.select(sa.func.count()).select_from(StatusDeclaration)).scalar_one() == 0


def test_the_openapi_document_lists_the_declarable_statuses_from_the_rules(client: FlaskClient) -> None:
    spec = client.get("/api/v1/openapi.json").json
    status = spec["components"]["schemas"]["DeclarationIn"]["properties"]["status"]
    assert status["enum"] == ["registered_poor", "subsistence_allowance", "extreme_poverty_support"]
    assert "/api/v1/applications/{application_id}/declarations/{declaration_id}/verify" in spec["paths"]
