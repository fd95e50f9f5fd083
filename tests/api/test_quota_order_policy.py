"""The quota order is policy: a rule set that ranks by application time before level allocates that way."""

from __future__ import annotations

from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.api.test_quotas import URL, approve_in_order, current_status, enrol, put
from tests.world.applications import World, ok, world_fixture  # noqa: F401 - fixture "world"

pytestmark = pytest.mark.databases
ORDER = "value: [special_group, level, per_capita_income, applied_at]"


@pytest.fixture
def app_env(rules_copy: Path) -> dict[str, str]:
    procedure = rules_copy / "procedure.yaml"
    text = procedure.read_text(encoding="utf-8")
    assert ORDER in text
    procedure.write_text(
        text.replace(ORDER, "value: [special_group, applied_at, level, per_capita_income]"), encoding="utf-8"
    )
    return {"AID_RULES_DIR": str(rules_copy)}


def test_application_time_before_level_funds_the_earlier_general_student(
    client: FlaskClient, app: Flask, world: World
) -> None:
    enrol(world)
    ok(put(client, world, 1), 201)
    ids = approve_in_order(app, world, ["G1", "D1"])  # G1 (general) applied first, D1 (difficult) later
    assert current_status(ids["G1"]).status == "awarded"  # the shipped order would fund D1 instead
    assert current_status(ids["D1"]).status == "not_funded"
    ids |= approve_in_order(app, world, ["P1"])  # special groups still come first and are never cut
    view = ok(client.get(URL, headers=world.headers("officer")))
    assert [(a["student_id"], a["funded"]) for a in view["allocations"]] == [
        ("P1", True),
        ("G1", False),
        ("D1", False),
    ]
