"""The notice period is policy: a rule set whose procedure says 7 working days gives notices of 7."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from flask.testing import FlaskClient

from tests.world.applications import (
    SUBMITTED,
    Clock,
    World,
    act,
    clock_fixture,  # noqa: F401 - fixture "clock"
    events,
    ok,
    submit,
    world_fixture,  # noqa: F401 - fixture "world"
)

pytestmark = pytest.mark.databases
FIVE = "notice_working_days:\n    value: 5\n"


@pytest.fixture
def app_env(rules_copy: Path) -> dict[str, str]:
    procedure = rules_copy / "procedure.yaml"
    text = procedure.read_text(encoding="utf-8")
    assert FIVE in text
    procedure.write_text(text.replace(FIVE, "notice_working_days:\n    value: 7\n"), encoding="utf-8")
    return {"AID_RULES_DIR": str(rules_copy), "AID_HOLIDAYS": ""}


def test_a_rule_set_with_seven_days_gives_notices_of_seven_working_days(
    client: FlaskClient, world: World, clock: Clock
) -> None:
    assert SUBMITTED == date(2020, 10, 12)  # a Monday: seven working days end on Tuesday of the next week
    world.student("N7")
    application = ok(submit(client, world, "N7"), 201)
    application = ok(act(client, world, application, "review"))
    published = ok(act(client, world, application, "publish_notice"))
    assert published["notice"]["closes_on"] == "2020-10-20"
    (event,) = events("notice.open", "school:S1")
    assert event.summary["working_days"] == 7 and event.summary["closes_on"] == "2020-10-20"
