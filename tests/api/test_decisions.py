"""Decisions: made at approval per program, paid per semester or monthly, immutable, superseded by a
reassessment, listed within scope and replayed with the recorded rule version."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from aidservice.engine import load_rules
from aidservice.extensions import db
from aidservice.models import Decision, RuleSet
from aidservice.models.application import ImmutableDecision
from aidservice.services.applications import actions
from aidservice.services.applications import decisions as decisions_service
from aidservice.services.applications.decision_rows import content_hash
from aidservice.services.applications.values import ActionRequest
from tests.world.applications import (
    AS_OF,
    World,
    approve_through_services,
    clock_fixture,  # noqa: F401 - fixture "clock"
    decisions_of,
    declared,
    events,
    ok,
    service_settings,
    subsistence,
    world_fixture,  # noqa: F401 - fixture "world"
)
from tests.world.applications import (
    student_row as _student,
)
from tests.world.factories import make_school, make_user

pytestmark = pytest.mark.databases
SPRING = date(2021, 3, 5)


def test_approval_decides_each_awarded_program_with_everything_to_replay_it(app: Flask, world: World) -> None:
    world.student("A1", guardians=[5001])
    subsistence(world, 5001, "B1")
    application = approve_through_services(app, world, _student("A1"))
    (decision,) = decisions_of(application.id)
    assert (decision.program, decision.kind, decision.amount_fen, decision.status) == (
        "compulsory_living_subsidy",
        "grant",
        200000,
        "awarded",
    )
    assert decision.school_year == "2020-2021" and decision.as_of == AS_OF and decision.level == "special"
    assert decision.instalments == [
        {"period": "2020-2021-autumn", "due": "2020-09-01", "amount": "1000.00"},
        {"period": "2020-2021-spring", "due": "2021-03-01", "amount": "1000.00"},
    ]
    assert db.session.get(RuleSet, decision.rule_set_version) is not None
    assert decision.facts["subsistence_allowance"]["source"] == "civil_affairs"
    explanation = decision.explanation
    assert explanation["reasons"][0]["clause"] == "special_subsistence_allowance"
    assert "missing" in explanation and explanation["payment"] == "semesters"
    items = [t["item"] for t in explanation["trace"]]
    assert "program:compulsory_living_subsidy" in items and any(
        i.startswith("amount:compulsory") for i in items
    )
    assert decision.decided_by == "user:school_officer-S1" and decision.rule_status in (
        "confirmed",
        "provisional",
    )
    assert (
        decision.content_hash == content_hash(decision) and decision.current and decision.supersedes is None
    )
    (event,) = events("decisions.made", "student:A1")
    assert event.summary["decisions"][0]["content_hash"] == decision.content_hash


def test_grants_of_undergraduates_are_paid_monthly_and_loans_not_at_all(app: Flask, world: World) -> None:
    university = make_school(db.session, "U1", "320102", stages=("undergraduate",), tuition_fee_fen=500000)
    world.tokens["u1_officer"] = make_user(db.session, "school_officer", username="u1", school_code="U1")[1]
    db.session.commit()
    world.student("U-1", school=university, stage="undergraduate", grade=2)
    application = approve_through_services(app, world, _student("U-1"), who="u1_officer")
    by_program = {d.program: d for d in decisions_of(application.id)}
    grant = by_program["undergrad_grant"]
    assert grant.amount_fen == 330000 and len(grant.instalments) == 10
    assert {i["amount"] for i in grant.instalments} == {"330.00"}
    assert grant.instalments[0]["due"] == "2020-09-01" and grant.instalments[-1]["due"] == "2021-07-01"
    loan = by_program["student_loan"]
    assert loan.kind == "loan" and loan.instalments == [] and loan.amount_fen == 800000


def test_a_stored_decision_cannot_be_changed(app: Flask, world: World) -> None:
    world.student("A1")
    application = approve_through_services(app, world, _student("A1"))
    (decision,) = decisions_of(application.id)
    decision.amount_fen = 1
    with pytest.raises(ImmutableDecision):
        db.session.flush()
    db.session.rollback()


def test_a_reassessment_supersedes_the_decisions_it_changes(app: Flask, world: World) -> None:
    world.student("A1", guardians=[5001])
    application = approve_through_services(app, world, _student("A1"))
    (first,) = decisions_of(application.id)
    assert first.amount_fen == 125000 and application.level == "difficult"

    subsistence(world, 5001, "B-new")  # a new agency record
    spring = service_settings(app, SPRING)
    actor = world.actor("officer")
    unchanged_check = actions.act(
        db.session,
        actor=actor,
        settings=spring,
        application_id=application.id,
        request=ActionRequest(
            action="reassess", version=application.version, note="新学期复核：民政新增低保记录"
        ),
    )
    db.session.commit()
    assert unchanged_check.level == "special" and unchanged_check.as_of == date(2021, 3, 1)
    old, new = decisions_of(application.id)
    assert old.id == first.id and not old.current and "reassess" in (old.superseded_reason or "")
    assert new.current and new.supersedes == old.id and new.amount_fen == 200000 and new.level == "special"
    assert new.content_hash == content_hash(new) and old.content_hash == content_hash(old)

    again = actions.act(
        db.session,
        actor=actor,
        settings=spring,
        application_id=application.id,
        request=ActionRequest(action="reassess", version=unchanged_check.version, note="再次复核"),
    )
    db.session.commit()
    assert [d.id for d in decisions_of(application.id)] == [old.id, new.id] and again.state == "approved"


def test_a_program_no_longer_awarded_is_withdrawn_by_a_superseding_decision(app: Flask, world: World) -> None:
    world.student("A1", guardians=[5001])
    subsistence(world, 5001, "B1", valid_to="2021-02-01")
    application = approve_through_services(app, world, _student("A1"), declared_facts={})
    (first,) = decisions_of(application.id)
    assert first.amount_fen == 200000
    reassessed = actions.act(
        db.session,
        actor=world.actor("officer"),
        settings=service_settings(app, SPRING),
        application_id=application.id,
        request=ActionRequest(action="reassess", version=application.version, note="低保到期"),
    )
    db.session.commit()
    assert reassessed.level == "none"
    old, withdrawn = decisions_of(application.id)
    assert not old.current and withdrawn.status == "withdrawn" and withdrawn.supersedes == old.id
    assert withdrawn.amount_fen is None and withdrawn.instalments == []
    replay = decisions_service.replay(
        db.session, actor=world.actor("auditor"), settings=service_settings(app), decision_id=withdrawn.id
    )
    assert replay["identical"], replay["differences"]


def test_listing_decisions_is_scoped(client: FlaskClient, app: Flask, world: World) -> None:
    world.student("A1")
    application = approve_through_services(app, world, _student("A1"))
    (decision,) = decisions_of(application.id)
    for who, status in (
        ("officer", 200),
        ("county_admin", 200),
        ("auditor", 200),
        ("other_officer", 404),
        ("other_city_admin", 404),
        ("client", 403),
        ("anonymous", 401),
    ):  # 404: issue 16
        response = client.get("/api/v1/decisions?student_id=A1", headers=world.headers(who))
        assert response.status_code == status, (who, response.json)
        replay = client.post(f"/api/v1/decisions/{decision.id}/replay", headers=world.headers(who))
        assert replay.status_code == status, (who, replay.json)
    listed = ok(client.get("/api/v1/decisions?student_id=A1&current=true", headers=world.headers("officer")))
    (item,) = listed["items"]
    assert (
        item["amount"] == "1250.00"
        and item["student_id"] == "A1"
        and item["instalments"][0]["amount"] == "625.00"
    )
    assert (
        client.get("/api/v1/decisions?student_id=NOPE", headers=world.headers("officer")).status_code == 404
    )
    assert client.get("/api/v1/decisions", headers=world.headers("officer")).status_code == 422
    assert client.post("/api/v1/decisions/999999/replay", headers=world.headers("officer")).status_code == 404


def test_replay_uses_the_recorded_rule_version_not_the_running_one(
    app: Flask, world: World, rules_copy: Path
) -> None:
    world.student("A1")
    application = approve_through_services(app, world, _student("A1"), declared_facts=declared())
    (decision,) = decisions_of(application.id)
    parameters = rules_copy / "parameters" / "basic_education.yaml"
    text = parameters.read_text(encoding="utf-8")
    parameters.write_text(text.replace("2018-09-01: 1250}", "2018-09-01: 1300}"), encoding="utf-8")
    changed = load_rules(rules_copy)
    assert changed.version != decision.rule_set_version
    running_changed = service_settings(app, rules=changed)
    replay = decisions_service.replay(
        db.session, actor=world.actor("auditor"), settings=running_changed, decision_id=decision.id
    )
    assert replay["identical"] and replay["replayed"]["rule_set_version"] == decision.rule_set_version
    assert replay["replayed"]["amount"] == "1250.00"
    now = changed.evaluate(changed.validate_facts({"stage": "junior", "grade": 2, "disaster": True}), AS_OF)
    assert now.awards[0].amount_fen == 130000  # the running rules would pay more today


def test_replay_reports_differences_when_the_record_was_tampered_with(
    client: FlaskClient, app: Flask, world: World
) -> None:
    world.student("A1")
    application = approve_through_services(app, world, _student("A1"))
    (decision,) = decisions_of(application.id)
    facts = dict(decision.facts)
    facts["per_capita_income"] = {"value": "90000.00", "source": "declared", "record_ids": []}
    db.session.execute(
        sa.update(Decision.__table__).where(Decision.__table__.c.id == decision.id).values(facts=facts)
    )  # behind the model's back, as an attacker would
    db.session.commit()
    db.session.expire_all()
    replay = ok(client.post(f"/api/v1/decisions/{decision.id}/replay", headers=world.headers("auditor")))
    assert replay["identical"] is False and replay["content_hash_matches"] is False
    fields = {d["field"] for d in replay["differences"]}
    assert {"level", "eligible", "reasons"} <= fields


def test_a_replay_through_the_api_is_recorded_with_its_outcome(
    client: FlaskClient, app: Flask, world: World
) -> None:
    world.student("A1")
    application = approve_through_services(app, world, _student("A1"))
    (decision,) = decisions_of(application.id)
    decision_id = decision.id
    body = ok(client.post(f"/api/v1/decisions/{decision_id}/replay", headers=world.headers("county_admin")))
    assert body["identical"]
    with app.app_context():
        replays = events("decision.replayed")
    assert [(e.subject, e.summary["identical"], e.summary["fields"]) for e in replays] == [
        (f"decision:{decision_id}", True, [])
    ]
    refused = client.post(f"/api/v1/decisions/{decision_id}/replay", headers=world.headers("other_officer"))
    assert refused.status_code == 404
    with app.app_context():
        assert len(events("decision.replayed")) == 1
