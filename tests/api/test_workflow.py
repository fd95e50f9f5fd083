"""The identification procedure through the API: review, notice, objection, approval; illegal steps, reasons,
stale versions, and two officers acting at once (optimistic locking on both databases)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from aidservice.extensions import db
from aidservice.models import Application, ApplicationAction, AuditEvent
from aidservice.services.accounts.auth import user_actor
from aidservice.services.actors import Actor
from aidservice.services.applications import actions, notices, submission
from aidservice.services.applications.values import ActionRequest
from aidservice.services.context import Settings
from aidservice.services.errors import Conflict
from tests.world.applications import (
    AFTER_NOTICE,
    NOTICE_LAST_DAY,
    SUBMITTED,
    YEAR,
    Clock,
    World,
    act,
    body,
    clock_fixture,  # noqa: F401 - fixture "clock"
    committed_app,
    events,
    ok,
    scratch_database,
    submit,
    subsistence,
    world_fixture,  # noqa: F401 - fixture "world"
)
from tests.world.factories import HMAC_KEY, VAULT, make_school, make_student, make_user

pytestmark = pytest.mark.databases


def test_the_whole_procedure_end_to_end(client: FlaskClient, app: Flask, world: World, clock: Clock) -> None:
    world.student("A1", guardians=[5001])
    subsistence(world, 5001, "B1")
    created = ok(submit(client, world, "A1"), 201)
    assert created["level"] == "special"

    reviewed = ok(act(client, world, created, "review", note="班级评议通过"))
    assert reviewed["state"] == "reviewed" and reviewed["version"] == created["version"] + 1
    assert reviewed["allowed_actions"] == ["publish_notice", "reject"]

    published = ok(act(client, world, reviewed, "publish_notice"))
    assert published["state"] == "notice"
    assert published["notice"]["published_on"] == SUBMITTED.isoformat()
    assert published["notice"]["closes_on"] == NOTICE_LAST_DAY.isoformat() and published["notice"]["open"]

    clock.today = date(2020, 10, 14)
    objected = ok(act(client, world, published, "object", note="同学反映家庭情况与申报不符"))
    assert objected["state"] == "objected" and objected["allowed_actions"] == ["resolve", "reject"]
    refused = act(client, world, objected, "approve")
    assert refused.status_code == 409
    assert "resolve" in refused.json["detail"] and refused.json["errors"]["action"] == [
        "allowed: resolve, reject"
    ]

    resolved = ok(act(client, world, objected, "resolve", outcome="dismissed", note="经复核，低保记录属实"))
    assert resolved["state"] == "notice" and resolved["level"] == "special"

    clock.today = NOTICE_LAST_DAY
    early = act(client, world, resolved, "approve")
    assert early.status_code == 409 and NOTICE_LAST_DAY.isoformat() in early.json["detail"]

    clock.today = AFTER_NOTICE
    approved = ok(act(client, world, resolved, "approve"))
    assert approved["state"] == "approved" and approved["allowed_actions"] == ["reassess"]
    assert [h["action"] for h in approved["history"]] == [
        "submit",
        "review",
        "publish_notice",
        "object",
        "resolve",
        "approve",
    ]
    (decision,) = approved["decisions"]
    assert decision["program"] == "compulsory_living_subsidy" and decision["amount"] == "2000.00"
    assert decision["status"] == "awarded" and decision["current"]
    assert [i["amount"] for i in decision["instalments"]] == ["1000.00", "1000.00"]

    listed = ok(client.get("/api/v1/decisions?student_id=A1", headers=world.headers("officer")))
    assert [d["id"] for d in listed["items"]] == [decision["id"]]
    replay = ok(client.post(f"/api/v1/decisions/{decision['id']}/replay", headers=world.headers("auditor")))
    assert replay["identical"] is True and replay["differences"] == [] and replay["content_hash_matches"]
    assert replay["recorded"]["amount"] == replay["replayed"]["amount"] == "2000.00"

    actions = db.session.scalar(
        sa.select(sa.func.count())
        .select_from(ApplicationAction)
        .where(ApplicationAction.application_id == created["id"])
    )
    assert actions == 6
    assert [e.action for e in events("application.review", "student:A1")] == ["application.review"]
    assert len(events("decisions.made", "student:A1")) == 1 and len(events("notice.open", "school:S1")) == 1
    audit_view = ok(client.get("/api/v1/audit?subject=student:A1", headers=world.headers("auditor")))
    assert "application.approve" in [e["action"] for e in audit_view["items"]]
    verified = app.test_cli_runner().invoke(args=["aid", "audit", "verify"])
    assert verified.exit_code == 0 and "intact" in verified.output, verified.output


def test_an_action_the_state_does_not_allow_is_409_naming_the_allowed(
    client: FlaskClient, world: World, clock: Clock
) -> None:
    world.student("A1")
    created = ok(submit(client, world, "A1"), 201)
    for action in ("approve", "publish_notice", "object", "resolve", "reassess"):
        response = act(client, world, created, action, note="原因")
        assert response.status_code == 409, (action, response.json)
        assert "review, reject" in response.json["detail"]
        assert response.json["errors"] == {"action": ["allowed: review, reject"]}
    assert act(client, world, created, "fly").status_code == 422


def test_a_stale_version_is_409(client: FlaskClient, world: World, clock: Clock) -> None:
    world.student("A1")
    created = ok(submit(client, world, "A1"), 201)
    ok(act(client, world, created, "review", who="officer"))
    stale = act(client, world, created, "reject", who="officer2", note="材料不全")
    assert stale.status_code == 409 and "version" in stale.json["errors"]
    assert (
        ok(client.get(f"/api/v1/applications/{created['id']}", headers=world.headers("officer")))["state"]
        == "reviewed"
    )


@pytest.mark.parametrize("action", ["object", "resolve", "reject"])
def test_a_reason_is_required(client: FlaskClient, world: World, clock: Clock, action: str) -> None:
    world.student("A1")
    application = ok(submit(client, world, "A1"), 201)
    path = {
        "object": ["review", "publish_notice"],
        "resolve": ["review", "publish_notice", "object"],
        "reject": [],
    }
    for step in path[action]:
        application = ok(act(client, world, application, step, note="异议" if step == "object" else ""))
    for note in ("", "   "):
        response = act(client, world, application, action, note=note, outcome="dismissed")
        assert response.status_code == 422, response.json
        assert list(response.json["errors"]) == ["note"]


def test_a_review_may_adjust_the_level_with_a_reason(client: FlaskClient, world: World, clock: Clock) -> None:
    world.student("A1")
    created = ok(submit(client, world, "A1"), 201)
    assert created["level"] == "difficult"
    missing = act(client, world, created, "review", level="special")
    assert missing.status_code == 422 and list(missing.json["errors"]) == ["note"]
    reviewed = ok(
        act(client, world, created, "review", level="special", note="家庭突发变故，评议小组一致同意")
    )
    assert reviewed["level"] == "special" and reviewed["evaluated_level"] == "difficult"
    adjustment = reviewed["level_adjustment"]
    assert (
        adjustment["from"] == "difficult" and adjustment["to"] == "special" and adjustment["via"] == "review"
    )
    assert reviewed["awards"][0]["amount"] == "1250.00"  # junior: special without 低保 is still 1250
    assert act(client, world, reviewed, "review").status_code == 409
    assert (
        ok(act(client, world, created | {"version": reviewed["version"]}, "reject", note="x"))["state"]
        == "rejected"
    )


def test_an_upheld_objection_sets_a_new_level(client: FlaskClient, world: World, clock: Clock) -> None:
    world.student("A1")
    application = ok(submit(client, world, "A1"), 201)
    for step, note in (("review", ""), ("publish_notice", ""), ("object", "收入申报偏低")):
        application = ok(act(client, world, application, step, note=note))
    no_level = act(client, world, application, "resolve", outcome="upheld", note="复核属实")
    assert no_level.status_code == 422 and list(no_level.json["errors"]) == ["level"]
    no_outcome = act(client, world, application, "resolve", note="复核")
    assert no_outcome.status_code == 422 and list(no_outcome.json["errors"]) == ["outcome"]
    resolved = ok(
        act(client, world, application, "resolve", outcome="upheld", level="general", note="复核属实")
    )
    assert resolved["state"] == "notice" and resolved["level"] == "general"
    assert resolved["level_adjustment"]["via"] == "objection" and resolved["awards"][0]["amount"] == "1250.00"
    clock.today = AFTER_NOTICE
    approved = ok(act(client, world, resolved, "approve"))
    (decision,) = approved["decisions"]
    assert decision["level"] == "general" and decision["level_override"] == "general"
    replay = ok(client.post(f"/api/v1/decisions/{decision['id']}/replay", headers=world.headers("officer")))
    assert replay["identical"] and replay["replayed"]["level_override"] == "general"


def test_objections_only_during_the_notice(client: FlaskClient, world: World, clock: Clock) -> None:
    world.student("A1")
    application = ok(submit(client, world, "A1"), 201)
    for step in ("review", "publish_notice"):
        application = ok(act(client, world, application, step))
    clock.today = AFTER_NOTICE
    late = act(client, world, application, "object", note="迟到的异议")
    assert late.status_code == 409 and "closed" in late.json["detail"]


def test_nothing_to_publish_for_level_none(client: FlaskClient, world: World, clock: Clock) -> None:
    world.student("A1")
    application = ok(submit(client, world, "A1", declared={"per_capita_income": "90000.00"}), 201)
    assert application["level"] == "none"
    application = ok(act(client, world, application, "review"))
    refused = act(client, world, application, "publish_notice")
    assert refused.status_code == 409 and "level" in refused.json["detail"]


def test_an_action_and_its_audit_event_roll_back_together(
    client: FlaskClient, world: World, clock: Clock
) -> None:
    world.student("A1")
    created = ok(submit(client, world, "A1"), 201)
    before = db.session.scalar(sa.select(sa.func.count()).select_from(AuditEvent))
    assert act(client, world, created, "publish_notice").status_code == 409
    assert db.session.scalar(sa.select(sa.func.count()).select_from(AuditEvent)) == before
    assert len(events("application.review")) == 0


# ------------------------------------------------------------------------- two officers at once


@pytest.fixture
def committed(db_url: str, tmp_path: Any) -> Iterator[tuple[Flask, int, dict[str, Actor]]]:
    """A scratch database that really commits: school S1, student A1, its application, two officers."""
    for url in scratch_database(db_url, tmp_path):
        application = committed_app(url)
        with application.app_context():
            session = db.session
            school = make_school(session, "S1", "320102", stages=("junior",))
            make_student(session, "A1", school, seed=1, stage="junior", grade=2)
            first, _ = make_user(session, "school_officer", username="one", school_code="S1")
            second, _ = make_user(session, "school_officer", username="two", school_code="S1")
            actors = {"one": user_actor(first), "two": user_actor(second)}
            created = submission.create_application(
                session, actor=actors["one"], settings=_settings(application), payload=body("A1")
            )
            session.commit()
            application_id = created.id
            db.session.remove()
        try:
            yield application, application_id, actors
        finally:
            with application.app_context():
                db.engine.dispose()


def _settings(application: Flask) -> Settings:
    return Settings(
        rules=application.extensions["aid_rules"],
        school_year=YEAR,
        id_hmac_key=HMAC_KEY,
        ids=VAULT,
        today=SUBMITTED,
    )


def _review(
    session: Session, application: Flask, actor: Actor, application_id: int, version: int
) -> Application:
    return actions.act(
        session,
        actor=actor,
        settings=_settings(application),
        application_id=application_id,
        request=ActionRequest(action="review", version=version, note=f"by {actor.name}"),
    )


def test_two_officers_acting_on_one_version_never_lose_an_update(
    committed: tuple[Flask, int, dict[str, Actor]],
) -> None:
    """Both load version 1 in their own session and connection; the second to write is refused (409)."""
    application, application_id, actors = committed
    with application.app_context():
        engine = db.engine
        one, two = Session(engine, expire_on_commit=False), Session(engine, expire_on_commit=False)
        try:
            # each read ends its transaction before the other starts: on SQLite every transaction outside a
            # read-only route begins IMMEDIATE (the writer's lock), as a request's would
            seen_one = one.get(Application, application_id)
            one.commit()
            seen_two = two.get(Application, application_id)
            two.commit()  # both hold version 1 in memory, no transaction open
            assert seen_one is not None and seen_two is not None and seen_one.version == seen_two.version == 1

            _review(one, application, actors["one"], application_id, 1)
            one.commit()
            with pytest.raises(Conflict) as refused:
                _review(two, application, actors["two"], application_id, 1)
            assert "changed by someone else" in refused.value.detail
            two.rollback()
        finally:
            one.close()
            two.close()
        with Session(engine) as check:
            stored = check.get(Application, application_id)
            assert stored is not None and stored.version == 2 and stored.state == "reviewed"
            actions = check.execute(
                sa.select(ApplicationAction.actor).where(
                    ApplicationAction.application_id == application_id, ApplicationAction.action == "review"
                )
            ).scalars()
            assert list(actions) == ["user:one"]


def test_two_officers_racing_in_threads_one_wins(
    committed: tuple[Flask, int, dict[str, Actor]], db_url: str
) -> None:
    """Both threads load version 1, then act at once: exactly one review is stored, the other gets 409."""
    if not db_url.startswith("postgresql"):
        pytest.skip("SQLite serialises whole-database writers; the interleaved two-session test covers it")
    application, application_id, actors = committed
    barrier = threading.Barrier(2, timeout=30)
    outcomes: dict[str, str] = {}

    def officer(name: str) -> None:
        with application.app_context(), Session(db.engine, expire_on_commit=False) as session:
            session.get(Application, application_id)
            session.commit()
            barrier.wait()
            try:
                _review(session, application, actors[name], application_id, 1)
                session.commit()
                outcomes[name] = "ok"
            except Conflict:
                session.rollback()
                outcomes[name] = "conflict"

    threads = [threading.Thread(target=officer, args=(name,)) for name in ("one", "two")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(outcomes.values()) == ["conflict", "ok"], outcomes
    with application.app_context(), Session(db.engine) as check:
        stored = check.get(Application, application_id)
        assert stored is not None and stored.version == 2
        count = check.scalar(
            sa.select(sa.func.count())
            .select_from(ApplicationAction)
            .where(ApplicationAction.action == "review")
        )
        assert count == 1


def test_the_notice_period_counts_working_days(app: Flask) -> None:
    settings = Settings(
        rules=app.extensions["aid_rules"],
        school_year=YEAR,
        id_hmac_key=HMAC_KEY,
        ids=VAULT,
        holidays=(date(2020, 10, 14),),
    )
    assert notices.notice_period_end(settings, SUBMITTED) == NOTICE_LAST_DAY + timedelta(
        days=3
    )  # Wed off, weekend
    plain = Settings(rules=app.extensions["aid_rules"], school_year=YEAR, id_hmac_key=HMAC_KEY, ids=VAULT)
    assert notices.notice_period_end(plain, date(2020, 10, 10)) == date(
        2020, 10, 16
    )  # published on a Saturday
