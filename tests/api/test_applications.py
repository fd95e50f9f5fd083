"""POST/GET /api/v1/applications: the commitment, declared facts, sources, conflicts, one per year, scopes."""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa
from flask.testing import FlaskClient

from aidservice.api.applications import ApplicationListSchema
from aidservice.extensions import db
from aidservice.models import Application, Student
from aidservice.services.applications import submission
from aidservice.services.lists import applications as lists
from aidservice.services.lists import filters
from tests.world.applications import (
    AS_OF,
    Clock,
    World,
    act,
    body,
    clock_fixture,  # noqa: F401 - fixture "clock"
    declared,
    events,
    ok,
    person,
    service_settings,
    submit,
    subsistence,
    world_fixture,  # noqa: F401 - fixture "world"
)
from tests.world.factories import id_number

pytestmark = pytest.mark.databases


def test_an_application_is_evaluated_with_every_facts_source(
    client: FlaskClient, world: World, clock: Clock
) -> None:
    world.student("A1", guardians=[5001])
    subsistence(world, 5001, "B1")
    view = ok(submit(client, world, "A1"), 201)
    assert view["state"] == "submitted" and view["version"] == 1
    assert view["allowed_actions"] == ["review", "reject"]
    assert view["as_of"] == AS_OF.isoformat() and view["rule_set_version"].startswith("sha256:")
    assert view["level"] == view["evaluated_level"] == "special"
    assert view["reasons"][0]["clause"] == "special_subsistence_allowance"
    (award,) = view["awards"]
    assert award["program"] == "compulsory_living_subsidy" and award["amount"] == "2000.00"
    assert award["basis"] and award["status"] in ("confirmed", "provisional")
    assert view["total"] == "2000.00" and isinstance(view["missing"], list)
    facts = view["facts"]
    assert facts["stage"] == {"value": "junior", "source": "roster", "record_ids": []}
    assert facts["city_code"]["source"] == "school"
    assert facts["per_capita_income"] == {"value": "5000.00", "source": "declared", "record_ids": []}
    assert facts["subsistence_allowance"]["source"] == "civil_affairs"
    assert len(facts["subsistence_allowance"]["record_ids"]) == 1
    assert view["conflicts"] == []
    assert (
        view["student"]["id_number"]
        == id_number(world.seeds["A1"])[:6] + "*" * 11 + id_number(world.seeds["A1"])[-1:]
    )
    assert view["history"][0]["action"] == "submit" and view["decisions"] == [] and view["notice"] is None
    (event,) = events("application.submit", "student:A1")
    assert event.summary["level"] == "special" and event.summary["application_id"] == view["id"]


def test_a_declared_status_without_a_record_is_a_conflict_and_the_record_wins(
    client: FlaskClient, world: World, clock: Clock
) -> None:
    world.student("A1", guardians=[5001])
    view = ok(submit(client, world, "A1", declared=declared(subsistence_allowance=True)), 201)
    assert view["conflicts"] == [
        {
            "fact": "subsistence_allowance",
            "label": "城乡最低生活保障家庭",
            "declared": True,
            "agency": False,
            "source": "civil_affairs",
            "record_ids": [],
            "resolution": "agency record wins",
        }
    ]
    assert view["level"] == "difficult"  # the declared income, not the claimed 低保
    assert "subsistence_allowance" not in view["facts"]
    assert view["declared"]["subsistence_allowance"] is True


def test_a_declared_status_contradicting_a_record_is_a_conflict_and_the_record_wins(
    client: FlaskClient, world: World, clock: Clock
) -> None:
    world.student("A1", guardians=[5001])
    world.student("A2", guardians=[5002])
    subsistence(world, 5001, "B1")
    subsistence(world, 5002, "B2")
    view = ok(submit(client, world, "A1", declared=declared(subsistence_allowance=False)), 201)
    (conflict,) = view["conflicts"]
    assert conflict["declared"] is False and conflict["agency"] is True and len(conflict["record_ids"]) == 1
    assert conflict["resolution"] == "agency record wins" and view["level"] == "special"
    agreeing = ok(submit(client, world, "A2", declared=declared(subsistence_allowance=True)), 201)
    assert agreeing["conflicts"] == []


def test_the_written_commitment_is_required(client: FlaskClient, world: World, clock: Clock) -> None:
    world.student("A1")
    for value in (False, None, "yes"):
        response = submit(client, world, "A1", commitment_signed=value)
        assert response.status_code == 422, response.json
        assert "commitment_signed" in response.json["errors"]
    missing = body("A1")
    del missing["commitment_signed"]
    response = client.post("/api/v1/applications", json=missing, headers=world.headers("officer"))
    assert response.status_code == 422 and "commitment_signed" in response.json["errors"]


@pytest.mark.parametrize(
    ("fact", "value", "message"),
    [
        ("household_size", "four", "integer"),
        ("per_capita_income", True, "number"),
        ("per_capita_income", "-1.00", "at least"),
        ("major_illness", "yes", "true or false"),
        ("academic_rank_pct", 101, "at most"),
        ("subsistence_allowance", 1, "true or false"),
        ("stage", "senior_high", "cannot be declared"),
        ("tuition_fee", "100.00", "cannot be declared"),
        ("favourite_colour", "blue", "unknown fact"),
    ],
)
def test_declared_facts_are_checked_with_the_catalogue(
    client: FlaskClient, world: World, clock: Clock, fact: str, value: object, message: str
) -> None:
    world.student("A1")
    response = submit(client, world, "A1", declared=declared(**{fact: value}))
    assert response.status_code == 422, response.json
    assert list(response.json["errors"]) == [f"declared.{fact}"]
    assert message in response.json["errors"][f"declared.{fact}"][0]


def test_only_the_current_school_year(client: FlaskClient, world: World, clock: Clock) -> None:
    world.student("A1")
    assert "school_year" in submit(client, world, "A1", school_year="2019-2020").json["errors"]
    assert "school_year" in submit(client, world, "A1", school_year="2020").json["errors"]


def test_unknown_student_and_another_schools_student_are_the_same_404(
    client: FlaskClient, world: World, clock: Clock
) -> None:
    world.student("B1", school=world.s2)
    unknown = submit(client, world, "NOPE")
    response = submit(client, world, "B1")  # issue 16: another school's student is not revealed to exist
    assert unknown.status_code == response.status_code == 404 and response.json["type"].endswith("/not-found")
    assert unknown.json["detail"] == response.json["detail"]


@pytest.mark.parametrize(
    ("who", "status"),
    [
        ("county_admin", 403),
        ("province_admin", 403),
        ("auditor", 403),
        ("client", 403),
        ("anonymous", 401),
    ],
)
def test_only_the_schools_officer_creates(
    client: FlaskClient, world: World, clock: Clock, who: str, status: int
) -> None:
    world.student("A1")
    response = submit(client, world, "A1", who=who)
    assert response.status_code == status, response.json
    assert response.mimetype == "application/problem+json"


def test_one_open_application_per_student_and_year(client: FlaskClient, world: World, clock: Clock) -> None:
    world.student("A1")
    first = ok(submit(client, world, "A1"), 201)
    again = submit(client, world, "A1")
    assert again.status_code == 409 and f"application {first['id']}" in again.json["detail"]
    rejected = ok(act(client, world, first, "reject", note="材料不实"))
    assert rejected["state"] == "rejected"
    ok(submit(client, world, "A1"), 201)  # a rejected application does not block a new one


def test_two_officers_taking_the_same_student_at_once_get_one_application_and_a_409(
    client: FlaskClient, world: World, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    world.student("A1")
    first = ok(submit(client, world, "A1"), 201)
    # the second request passed its check before the first committed: only the unique index stops it
    monkeypatch.setattr(submission, "_refuse_second_application", lambda *_args, **_kwargs: None)
    again = submit(client, world, "A1", who="officer2")
    assert again.status_code == 409 and "already has an open or approved application" in again.json["detail"]
    db.session.rollback()
    rows = db.session.scalars(sa.select(Application).join(Student).where(Student.student_id == "A1")).all()
    assert [a.id for a in rows] == [first["id"]]  # nothing of the second request was stored
    assert (
        ok(client.get(f"/api/v1/applications/{first['id']}", headers=world.headers("officer")))["history"][
            -1
        ]["action"]
        == "submit"
    )


@pytest.mark.parametrize(
    ("who", "status"),
    [
        ("officer", 200),
        ("officer2", 200),
        ("county_admin", 200),
        ("province_admin", 200),
        ("auditor", 200),
        ("other_officer", 404),
        ("other_city_admin", 404),
        ("client", 403),
        ("anonymous", 401),
    ],
)
def test_reading_an_application_is_scoped(
    client: FlaskClient, world: World, clock: Clock, who: str, status: int
) -> None:
    world.student("A1")
    created = ok(submit(client, world, "A1"), 201)
    response = client.get(f"/api/v1/applications/{created['id']}", headers=world.headers(who))
    assert response.status_code == status, response.json
    if status == 200:
        assert response.json["id"] == created["id"] and response.json["allowed_actions"] == [
            "review",
            "reject",
        ]


def test_an_unknown_application_is_404(client: FlaskClient, world: World, clock: Clock) -> None:
    assert client.get("/api/v1/applications/999999", headers=world.headers("officer")).status_code == 404


def test_administrators_and_auditors_do_not_act(client: FlaskClient, world: World, clock: Clock) -> None:
    world.student("A1")
    created = ok(submit(client, world, "A1"), 201)
    for who, status in (
        ("county_admin", 403),
        ("auditor", 403),
        ("other_officer", 404),
        ("client", 403),
        ("anonymous", 401),
    ):
        assert act(client, world, created, "review", who=who).status_code == status


def test_the_list_is_scoped_and_masks_id_numbers(client: FlaskClient, world: World, clock: Clock) -> None:
    world.student("A1", guardians=[5001])
    world.student("A2")
    world.student("B1", school=world.s2)
    a1 = ok(submit(client, world, "A1"), 201)
    ok(submit(client, world, "A2"), 201)
    ok(submit(client, world, "B1", who="other_officer"), 201)
    ok(act(client, world, a1, "review"))

    mine = client.get("/api/v1/applications", headers=world.headers("officer"))
    assert sorted(i["student"]["student_id"] for i in mine.json["items"]) == ["A1", "A2"]
    assert mine.json["total"] == 2
    for student_id in ("A1", "A2", "B1"):
        assert id_number(world.seeds[student_id]) not in mine.get_data(as_text=True)
    assert person(5001) not in mine.get_data(as_text=True)
    reviewed = client.get("/api/v1/applications?state=reviewed", headers=world.headers("officer")).json
    assert [i["student"]["student_id"] for i in reviewed["items"]] == ["A1"]
    assert client.get("/api/v1/applications?school=S2", headers=world.headers("officer")).status_code == 403
    county = client.get("/api/v1/applications", headers=world.headers("county_admin")).json
    assert sorted(i["student"]["student_id"] for i in county["items"]) == ["A1", "A2"]
    province = client.get("/api/v1/applications", headers=world.headers("province_admin")).json
    assert province["total"] == 3
    wuxi = client.get("/api/v1/applications?school=S2", headers=world.headers("other_city_admin")).json
    assert [i["student"]["student_id"] for i in wuxi["items"]] == ["B1"]
    assert client.get("/api/v1/applications", headers=world.headers("client")).status_code == 403
    assert client.get("/api/v1/applications").status_code == 401
    assert client.get("/api/v1/applications?state=bogus", headers=world.headers("officer")).status_code == 422


def test_the_list_answer_is_exactly_what_its_schema_would_dump(
    client: FlaskClient, world: World, clock: Clock
) -> None:
    """The list route skips the marshmallow pass (api/common.dumped_response): its items must stay in the schema's
    shape, with the same keys, dates and instants (a notice's last day, naive SQLite timestamps as UTC)."""
    world.student("A1", guardians=[5001])
    world.student("A2", class_name="初二(2)班")
    a1 = ok(submit(client, world, "A1"), 201)
    ok(submit(client, world, "A2"), 201)
    ok(act(client, world, ok(act(client, world, a1, "review")), "publish_notice"))
    for who, query in (
        ("officer", {}),
        ("officer", {"school": "S1", "limit": 1, "offset": 1}),
        ("county_admin", {"state": "notice"}),
        ("auditor", {}),
    ):
        answer = client.get("/api/v1/applications", query_string=query, headers=world.headers(who))
        settings = service_settings(world.app)
        flt = filters.parse("applications", {k: str(v) for k, v in query.items()}, settings.rules)
        raw = lists.page(
            db.session,
            actor=world.actor(who),
            settings=settings,
            flt=flt,
            school_year=None,
            limit=int(query.get("limit", 100)),
            offset=int(query.get("offset", 0)),
        )
        assert answer.status_code == 200 and answer.json["items"]
        assert answer.json == json.loads(json.dumps(ApplicationListSchema().dump(raw))), who
    noticed = client.get("/api/v1/applications?state=notice", headers=world.headers("officer")).json["items"]
    assert noticed[0]["notice_closes_on"] == "2020-10-16" and noticed[0]["submitted_at"].endswith("+00:00")


def test_reading_an_application_shows_its_whole_history_in_order_from_one_statement(
    client: FlaskClient, world: World, clock: Clock
) -> None:
    world.student("A1")
    made = ok(submit(client, world, "A1"), 201)
    reviewed = ok(act(client, world, made, "review", note="复核"))
    ok(act(client, world, reviewed, "reject", note="家庭经济情况未达认定标准"))
    world.headers("officer")  # the token exists before counting
    seen: list[str] = []

    def note(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        seen.append(statement)

    sa.event.listen(db.engine, "before_cursor_execute", note)
    try:
        view = ok(client.get(f"/api/v1/applications/{made['id']}", headers=world.headers("officer")))
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", note)
    assert [(h["action"], h["from_state"], h["to_state"], h["version"]) for h in view["history"]] == [
        ("submit", "", "submitted", 1),
        ("review", "submitted", "reviewed", 2),
        ("reject", "reviewed", "rejected", 3),
    ]
    assert view["history"][2]["note"] == "家庭经济情况未达认定标准" and view["history"][0]["at"]
    assert [s for s in seen if "application_actions" in s] == [s for s in seen if "FROM applications" in s]
    queries = [s for s in seen if not s.startswith(("SAVEPOINT", "RELEASE", "ROLLBACK"))]  # the test's own
    assert len(queries) == 2, (
        queries
    )  # the caller's token, then the application with its student, school, history
