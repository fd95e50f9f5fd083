"""`aid semester open`: spring re-identification of approved applications flags changed decisions for review."""

from __future__ import annotations

from datetime import date

import pytest
from flask import Flask

from aidservice.extensions import db
from aidservice.services.applications import actions, reading
from aidservice.services.applications.values import ActionRequest
from tests.world.applications import (
    World,
    approve_through_services,
    decisions_of,
    declared,
    events,
    service_settings,
    student_row,
    subsistence,
    world_fixture,  # noqa: F401 - fixture "world"
)

pytestmark = pytest.mark.databases
COMMAND = ["aid", "semester", "open", "--school-year", "2020-2021", "--semester", "spring"]


def run(app: Flask, *extra: str):  # type: ignore[no-untyped-def]
    return app.test_cli_runner().invoke(args=[*COMMAND, *extra])


@pytest.fixture
def approved(app: Flask, world: World) -> dict[str, int]:
    """A1: 低保 until February (special now, none in spring); A2: income only (unchanged); B1 at S2, changed."""
    world.student("A1", guardians=[5001])
    world.student("A2", guardians=[5002])
    world.student("B1", school=world.s2, guardians=[5003])
    subsistence(world, 5001, "B-A1", valid_to="2021-02-01")
    subsistence(world, 5003, "B-B1", valid_to="2021-02-01")
    ids = {
        "A1": approve_through_services(app, world, student_row("A1"), declared_facts={}).id,
        "A2": approve_through_services(app, world, student_row("A2"), declared_facts=declared()).id,
        "B1": approve_through_services(
            app, world, student_row("B1"), declared_facts={}, who="other_officer"
        ).id,
    }
    return ids


def test_spring_flags_the_decisions_whose_level_or_awards_change(
    app: Flask, world: World, approved: dict[str, int]
) -> None:
    result = run(app)
    assert result.exit_code == 0, result.output
    assert (
        "spring 2020-2021 (as of 2021-03-01), all schools: 3 approved application(s) re-identified, "
        "1 unchanged, 2 flagged for review, 0 already flagged" in result.output
    )
    assert f"application {approved['A1']} (school S1, student A1): level special -> none" in result.output
    (a1,) = decisions_of(approved["A1"])
    (a2,) = decisions_of(approved["A2"])
    assert a1.needs_review and a1.current and not a2.needs_review
    (event,) = events("decisions.flagged", "student:A1")
    assert event.summary["before"]["level"] == "special" and event.summary["after"] == {
        "level": "none",
        "awards": [],
    }
    assert event.summary["decision_ids"] == [a1.id] and event.summary["as_of"] == "2021-03-01"
    assert len(events("semester.open")) == 1

    again = run(app)
    assert "0 flagged for review, 2 already flagged" in again.output
    assert len(events("decisions.flagged")) == 2

    reassessed = actions.act(
        db.session,
        actor=world.actor("officer"),
        settings=service_settings(app, date(2021, 3, 8)),
        application_id=approved["A1"],
        request=ActionRequest(
            action="reassess",
            version=reading.load(db.session, approved["A1"]).version,
            note="春季学期复核：低保已到期",
        ),
    )
    db.session.commit()
    assert reassessed.level == "none"
    old, withdrawn = decisions_of(approved["A1"])
    assert not old.current and not old.needs_review and withdrawn.status == "withdrawn"
    verified = app.test_cli_runner().invoke(args=["aid", "audit", "verify"])
    assert verified.exit_code == 0, verified.output


def test_one_school_only(app: Flask, world: World, approved: dict[str, int]) -> None:
    result = run(app, "--school", "S2")
    assert result.exit_code == 0, result.output
    assert "school S2: 1 approved application(s) re-identified, 0 unchanged, 1 flagged" in result.output
    (a1,) = decisions_of(approved["A1"])
    assert not a1.needs_review
    (event,) = events("semester.open", "school:S2")
    assert event.summary["flagged"] == 1


def test_bad_arguments(app: Flask, world: World) -> None:
    unknown = run(app, "--school", "NOPE")
    assert unknown.exit_code != 0 and "No school NOPE" in unknown.output
    bad_year = app.test_cli_runner().invoke(
        args=["aid", "semester", "open", "--school-year", "2020", "--semester", "spring"]
    )
    assert bad_year.exit_code != 0 and "school year" in bad_year.output
    bad_semester = app.test_cli_runner().invoke(
        args=["aid", "semester", "open", "--school-year", "2020-2021", "--semester", "summer"]
    )
    assert bad_semester.exit_code == 2
    assert events("semester.open") == []


def test_nothing_approved_nothing_flagged(app: Flask, world: World) -> None:
    result = run(app)
    assert result.exit_code == 0 and "0 approved application(s)" in result.output


def test_a_new_agency_record_that_changes_a_student_flags_the_decisions_for_review(
    app: Flask, world: World
) -> None:
    world.student("C1", guardians=[5101])
    student = student_row("C1")
    application = approve_through_services(app, world, student)
    before = decisions_of(application.id, current=True)
    assert before and not any(d.needs_review for d in before)
    subsistence(world, 5101, "B-C1")  # the family is now a 低保 household: level and amounts change
    db.session.expire_all()
    after = decisions_of(application.id, current=True)
    assert [d.id for d in after] == [d.id for d in before], "flagged, not superseded: the officer reassesses"
    assert all(d.needs_review for d in after if d.status != "withdrawn")
    flagged = events("decisions.flagged")
    assert flagged and flagged[-1].subject == "feed:civil_affairs/B-C1"
