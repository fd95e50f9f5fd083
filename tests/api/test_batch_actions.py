"""Batch actions through the API: each item in its own savepoint, reported on its own (done, refused with the
reason, stale), nothing half-written, the scope respected per item, bounds and duplicates refused before work."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from aidservice.extensions import db
from aidservice.models import ApplicationAction, Decision, Quota
from aidservice.services import audit
from aidservice.services.applications import actions
from aidservice.services.applications import batch as batch_service
from aidservice.services.applications.values import ActionRequest
from tests.world.applications import (
    AFTER_NOTICE,
    YEAR,
    Clock,
    World,
    clock_fixture,  # noqa: F401 - fixture "clock"
    declared,
    events,
    ok,
    service_settings,
    submit,
    world_fixture,  # noqa: F401 - fixture "world"
)

URL = "/api/v1/applications/actions"
PROGRAM = "compulsory_living_subsidy"


def batch(
    client: FlaskClient, world: World, action: str, items: list[Any], who: str = "officer", **more: Any
) -> Any:
    payload = {"action": action, "items": items, **more}
    return client.post(URL, json=payload, headers=world.headers(who))


def item(application: dict[str, Any]) -> dict[str, int]:
    return {"id": application["id"], "version": application["version"]}


def submitted(client: FlaskClient, world: World, count: int) -> list[dict[str, Any]]:
    made = []
    for i in range(count):
        world.student(f"B{i}", name=f"学生{i}")
        made.append(ok(submit(client, world, f"B{i}"), 201))
    return made


def history_count(application_id: int) -> int:
    query = sa.select(sa.func.count()).select_from(ApplicationAction)
    return db.session.scalar(query.where(ApplicationAction.application_id == application_id)) or 0


def by_id(results: list[dict[str, Any]]) -> dict[int, dict[str, Any]]:
    return {r["id"]: r for r in results}


@pytest.mark.databases
def test_one_refused_one_stale_the_rest_applied_and_nothing_half_written(
    client: FlaskClient, world: World, clock: Clock
) -> None:
    apps = submitted(client, world, 5)
    world.student("X1", school=world.s2)
    foreign = ok(submit(client, world, "X1", who="other_officer"), 201)
    reviewed = ok(batch(client, world, "review", [item(a) for a in apps[:4]], note="班级评议通过"))["results"]
    assert [r["status"] for r in reviewed] == ["done"] * 4
    fresh = {r["id"]: r["application"] for r in reviewed}

    items = [{"id": a["id"], "version": fresh[a["id"]]["version"]} for a in apps[:3]]
    items.append(item(apps[3]))  # the version before review: stale
    items.append(item(apps[4]))  # still submitted: publishing is refused
    items.append(item(foreign))  # another school's: refused as not found
    results = by_id(ok(batch(client, world, "publish_notice", items))["results"])

    assert [results[a["id"]]["status"] for a in apps[:3]] == ["done"] * 3
    assert all(results[a["id"]]["application"]["state"] == "notice" for a in apps[:3])
    stale = results[apps[3]["id"]]
    assert stale["status"] == "stale" and stale["problem"]["reason"] == "stale"
    assert stale["problem"]["status"] == 409 and "version" in stale["problem"]["errors"]
    refused = results[apps[4]["id"]]
    assert refused["status"] == "refused" and refused["problem"]["reason"] == "not_allowed"
    assert refused["problem"]["context"] == {"state": "submitted"}
    hidden = results[foreign["id"]]
    assert hidden["status"] == "refused" and hidden["problem"]["reason"] == "not_found"
    assert hidden["problem"]["status"] == 404 and "S2" not in str(hidden) and "X1" not in str(hidden)

    assert history_count(apps[3]["id"]) == 2 and history_count(apps[4]["id"]) == 1  # submit (+ review)
    assert history_count(foreign["id"]) == 1
    assert len(events("application.publish_notice")) == 3
    assert audit.verify(db.session)[1] is None


@pytest.mark.databases
def test_a_batch_approval_decides_each_and_a_retry_applies_nothing_twice(
    client: FlaskClient, world: World, clock: Clock
) -> None:
    apps = submitted(client, world, 3)
    reviewed = ok(batch(client, world, "review", [item(a) for a in apps]))["results"]
    published = ok(batch(client, world, "publish_notice", [item(r["application"]) for r in reviewed]))[
        "results"
    ]
    on_notice = [r["application"] for r in published]
    early = ok(batch(client, world, "approve", [item(a) for a in on_notice]))["results"]
    assert {r["problem"]["reason"] for r in early} == {"notice_open"}
    assert early[0]["problem"]["context"]["closes_on"] == "2020-10-16"

    clock.today = AFTER_NOTICE
    approved = ok(batch(client, world, "approve", [item(a) for a in on_notice], note="同意"))["results"]
    assert [r["status"] for r in approved] == ["done"] * 3
    assert len(events("application.approve")) == 3 and len(events("decisions.made")) == 3
    again = ok(batch(client, world, "approve", [item(a) for a in on_notice], note="同意"))["results"]
    assert [r["status"] for r in again] == ["stale"] * 3
    assert len(events("application.approve")) == 3
    view = ok(client.get(f"/api/v1/applications/{apps[0]['id']}", headers=world.headers("officer")))
    assert view["state"] == "approved" and view["history"][-1]["note"] == "同意"


def test_the_batch_is_checked_before_any_work(client: FlaskClient, world: World, clock: Clock) -> None:
    apps = submitted(client, world, 2)
    too_many = [{"id": i + 1, "version": 1} for i in range(1001)]
    response = batch(client, world, "review", too_many)
    assert response.status_code == 422 and "items" in response.json["errors"]
    duplicate = batch(client, world, "review", [item(apps[0]), item(apps[1]), item(apps[0])])
    assert duplicate.status_code == 422 and list(duplicate.json["errors"]) == ["items.2.id"]
    no_reason = batch(client, world, "reject", [item(apps[0])])
    assert no_reason.status_code == 422 and "note" in no_reason.json["errors"]
    empty = batch(client, world, "review", [])
    assert empty.status_code == 422 and "items" in empty.json["errors"]
    assert history_count(apps[0]["id"]) == 1


def test_only_school_officers_act_in_batch(
    client: FlaskClient, world: World, clock: Clock, app: Flask
) -> None:
    apps = submitted(client, world, 1)
    for who in ("county_admin", "auditor", "client"):
        assert batch(client, world, "review", [item(apps[0])], who=who).status_code == 403
    assert batch(client, world, "review", [item(apps[0])], who="nobody").status_code == 401


@pytest.mark.databases
def test_a_batch_approval_ends_with_the_decisions_one_at_a_time_makes(
    client: FlaskClient, world: World, clock: Clock, app: Flask
) -> None:
    """The quota is allocated once for the batch: the funded and unfunded are those of approving one at a
    time (here in the order that supersedes most), and each competitor's decision is superseded at most once."""
    apps = []
    for i in range(6):
        world.student(f"Q{i}", name=f"学生{i}")
        income = f"{3000 + 1000 * i}.00"
        made = ok(submit(client, world, f"Q{i}", declared={**declared(), "per_capita_income": income}), 201)
        apps.append(made)
    db.session.add(Quota(school_code="S1", program=PROGRAM, school_year=YEAR, places=3, set_by="test"))
    db.session.commit()
    for action in ("review", "publish_notice"):
        done = ok(batch(client, world, action, [item(a) for a in apps]))["results"]
        apps = [r["application"] for r in done]
    actor, settings = world.actor("officer"), service_settings(app, AFTER_NOTICE)

    one_by_one = db.session.begin_nested()
    for a in reversed(apps):  # the poorest last: each approval pushes an earlier one out
        actions.act(
            db.session,
            actor=actor,
            settings=settings,
            application_id=a["id"],
            request=ActionRequest(action="approve", version=a["version"]),
        )
    expected = funding()
    one_by_one.rollback()

    together = batch_service.act_on_many(
        db.session,
        actor=actor,
        settings=settings,
        request=batch_service.BatchRequest(
            action="approve", items=[batch_service.BatchItem(a["id"], a["version"]) for a in apps]
        ),
    )
    assert [r.status for r in together] == ["done"] * 6
    assert funding() == expected
    assert sorted(expected.values()) == ["awarded"] * 3 + ["not_funded"] * 3
    assert expected[apps[0]["id"]] == "awarded" and expected[apps[5]["id"]] == "not_funded"
    assert len(decisions_made()) == 6  # one decision per application, none superseded within the batch


def funding() -> dict[int, str]:
    rows = db.session.execute(
        sa.select(Decision.application_id, Decision.status).where(
            Decision.current.is_(True), Decision.program == PROGRAM
        )
    )
    return {application_id: status for application_id, status in rows}


def decisions_made() -> list[Decision]:
    return list(db.session.execute(sa.select(Decision).where(Decision.program == PROGRAM)).scalars())


def test_another_schools_application_is_refused_as_one_that_does_not_exist(
    client: FlaskClient, world: World, clock: Clock
) -> None:
    world.student("X1", school=world.s2)
    foreign = ok(submit(client, world, "X1", who="other_officer"), 201)
    results = ok(batch(client, world, "review", [item(foreign), {"id": 987654, "version": 1}]))["results"]
    hidden, missing = (dict(r["problem"]) for r in results)
    assert [r["status"] for r in results] == ["refused", "refused"]
    assert hidden == missing and hidden["reason"] == "not_found" and hidden["status"] == 404
    assert history_count(foreign["id"]) == 1


def test_a_level_none_application_is_refused_publication_by_name(
    client: FlaskClient, world: World, clock: Clock
) -> None:
    world.student("N1")
    none = ok(submit(client, world, "N1", declared={**declared(), "per_capita_income": "90000.00"}), 201)
    assert none["level"] == "none"
    (reviewed,) = ok(batch(client, world, "review", [item(none)]))["results"]
    (refused,) = ok(batch(client, world, "publish_notice", [item(reviewed["application"])]))["results"]
    assert refused["status"] == "refused" and refused["problem"]["reason"] == "nothing_to_publish"
