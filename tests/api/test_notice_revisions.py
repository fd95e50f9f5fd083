"""Notices with revisions (issue 20): what was published is never silently changed. An upheld objection, a
reassessment that changes a listed level and a rejection make a new revision with its changes; entries published
on the revision's day join it, later ones make a new one; each revision stays as it was published. And the
school's phone and sign-off printed on the notice."""

from __future__ import annotations

import csv
import io
from datetime import date

import pytest
from flask.testing import FlaskClient

from aidservice.extensions import db
from aidservice.models import NoticeRevision, NoticeSettings, Student
from tests.world.applications import (
    AFTER_NOTICE,
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
LATER = date(2020, 10, 14)  # a later day of the same notice period


def publish(client: FlaskClient, world: World, student_id: str, who: str = "officer") -> dict:  # type: ignore[type-arg]
    application = ok(submit(client, world, student_id, who=who), 201)
    application = ok(act(client, world, application, "review", who=who))
    return ok(act(client, world, application, "publish_notice", who=who))


def notice_json(
    client: FlaskClient, world: World, notice_id: int, suffix: str = "", who: str = "officer"
) -> dict:  # type: ignore[type-arg]
    return ok(client.get(f"/api/v1/schools/S1/notices/{notice_id}{suffix}", headers=world.headers(who)))


def upheld(client: FlaskClient, world: World, application: dict, level: str) -> dict:  # type: ignore[type-arg]
    objected = ok(act(client, world, application, "object", note="家长反映情况不符"))
    return ok(act(client, world, objected, "resolve", outcome="upheld", level=level, note="复核后调整"))


def test_entries_published_the_same_day_join_revision_one(
    client: FlaskClient, world: World, clock: Clock
) -> None:
    world.student("N1", name="王小明")
    world.student("N2", name="李小红")
    first = publish(client, world, "N1")
    publish(client, world, "N2")
    notice = notice_json(client, world, first["notice"]["id"])
    assert (notice["revision"], notice["revised_on"], notice["reason"]) == (
        1,
        SUBMITTED.isoformat(),
        "initial",
    )
    assert notice["entries_count"] == 2 and notice["changes"] == []
    assert [r["number"] for r in notice["revisions"]] == [1]
    assert events("notice.revised") == []


def test_an_upheld_objection_makes_a_new_revision_and_the_old_one_stays(
    client: FlaskClient, world: World, clock: Clock
) -> None:
    world.student("N1", name="王小明")
    world.student("N2", name="李小红")
    first = publish(client, world, "N1")
    publish(client, world, "N2")
    notice_id = first["notice"]["id"]
    before = notice_json(client, world, notice_id)["entries"]
    clock.today = LATER
    changed = upheld(client, world, first, "special")
    assert changed["level"] == "special"

    notice = notice_json(client, world, notice_id)
    assert (notice["revision"], notice["revised_on"]) == (2, LATER.isoformat())
    assert (notice["reason"], notice["reason_label"]) == ("objection", "异议复核调整等级")
    assert notice["changes"] == [
        {
            "name": "王小明",
            "class_name": "初二(1)班",
            "from_level": "difficult",
            "from_label": "困难",
            "to_level": "special",
            "to_label": "特别困难",
        }
    ]
    assert [(r["number"], r["reason"]) for r in notice["revisions"]] == [(1, "initial"), (2, "objection")]
    first_revision = notice_json(client, world, notice_id, "/revisions/1")
    assert first_revision["entries"] == before and first_revision["revision"] == 1
    assert {e["name"]: e["level"] for e in notice["entries"]} == {"王小明": "special", "李小红": "difficult"}
    (event,) = events("notice.revised", "school:S1")
    assert event.summary == {
        "notice_id": notice_id,
        "revision": 2,
        "revised_on": LATER.isoformat(),
        "reason": "objection",
        "applications": [first["id"]],
    }


def test_a_dismissed_objection_or_an_upheld_one_keeping_the_level_makes_no_revision(
    client: FlaskClient, world: World, clock: Clock
) -> None:
    world.student("N1")
    first = publish(client, world, "N1")
    objected = ok(act(client, world, first, "object", note="家长反映"))
    kept = ok(act(client, world, objected, "resolve", outcome="dismissed", note="维持"))
    again = ok(act(client, world, kept, "object", note="再次反映"))
    ok(act(client, world, again, "resolve", outcome="upheld", level=first["level"], note="等级不变"))
    assert notice_json(client, world, first["notice"]["id"])["revision"] == 1
    assert events("notice.revised") == []


def test_a_reassessment_changing_a_listed_level_revises_the_closed_notice(
    client: FlaskClient, world: World, clock: Clock
) -> None:
    world.student("N1", name="王小明")
    first = publish(client, world, "N1")
    clock.today = AFTER_NOTICE
    approved = ok(act(client, world, first, "approve"))
    same = ok(act(client, world, approved, "reassess", note="春季学期复核"))
    assert same["level"] == approved["level"]
    assert notice_json(client, world, first["notice"]["id"])["revision"] == 1  # level unchanged: none
    clock.today = date(2021, 3, 1)
    lowered = ok(act(client, world, same, "reassess", level="general", note="家庭收入提高"))
    assert lowered["level"] == "general"
    notice = notice_json(client, world, first["notice"]["id"])
    assert (notice["revision"], notice["reason"], notice["reason_label"]) == (2, "reassess", "重新认定")
    assert notice["revised_on"] == "2021-03-01" and notice["open"] is False
    assert [(c["from_level"], c["to_level"]) for c in notice["changes"]] == [("difficult", "general")]


def test_a_rejection_removes_the_entry_in_a_new_revision(
    client: FlaskClient, world: World, clock: Clock
) -> None:
    world.student("N1", name="王小明")
    world.student("N2", name="李小红")
    first = publish(client, world, "N1")
    publish(client, world, "N2")
    clock.today = LATER
    ok(act(client, world, first, "reject", note="核实不符"))
    notice = notice_json(client, world, first["notice"]["id"])
    assert (notice["revision"], notice["reason"]) == (2, "rejection")
    assert [e["name"] for e in notice["entries"]] == ["李小红"]
    assert [(c["name"], c["from_label"], c["to_label"]) for c in notice["changes"]] == [
        ("王小明", "困难", None)
    ]
    assert [
        e["name"] for e in notice_json(client, world, first["notice"]["id"], "/revisions/1")["entries"]
    ] == [
        "李小红",
        "王小明",
    ]


def test_entries_published_on_a_later_day_make_a_new_revision_and_join_it_that_day(
    client: FlaskClient, world: World, clock: Clock
) -> None:
    for sid in ("N1", "N2", "N3"):
        world.student(sid, name=f"学生{sid}")
    first = publish(client, world, "N1")
    clock.today = LATER
    publish(client, world, "N2")
    publish(client, world, "N3")
    notice = notice_json(client, world, first["notice"]["id"])
    assert (notice["revision"], notice["reason"], notice["entries_count"]) == (2, "addition", 3)
    assert [(c["name"], c["from_level"]) for c in notice["changes"]] == [("学生N2", None), ("学生N3", None)]
    assert len(events("notice.revised")) == 2  # the revision, and the entry that joined it


def test_a_revision_is_frozen_against_later_roster_edits(
    client: FlaskClient, world: World, clock: Clock
) -> None:
    student = world.student("N1", name="王小明", class_name="初二(1)班")
    first = publish(client, world, "N1")
    stored = db.session.get(Student, student.id)
    assert stored is not None
    stored.name, stored.class_name = "王晓明", "初二(2)班"
    db.session.commit()
    notice = notice_json(client, world, first["notice"]["id"])
    assert [(e["name"], e["class_name"]) for e in notice["entries"]] == [("王小明", "初二(1)班")]
    (revision,) = db.session.query(NoticeRevision).all()
    assert revision.entries[0]["name"] == "王小明" and set(revision.entries[0]) == {
        "application_id",
        "name",
        "class_name",
        "level",
    }


def test_every_format_of_a_revision_lists_name_class_and_level_and_prints_its_number(
    client: FlaskClient, world: World, clock: Clock
) -> None:
    world.student("N1", name="王小明")
    first = publish(client, world, "N1")
    clock.today = LATER
    upheld(client, world, first, "special")
    notice_url = f"/api/v1/schools/S1/notices/{first['notice']['id']}"
    base = f"{notice_url}/revisions/2"
    rows = list(
        csv.reader(
            io.StringIO(
                client.get(f"{base}?format=csv", headers=world.headers("officer")).get_data(as_text=True)
            )
        )
    )
    assert rows[1:] == [["王小明", "初二(1)班", "特别困难"]]
    page = client.get(f"{base}?format=html", headers=world.headers("officer")).get_data(as_text=True)
    assert "第2版（2020年10月14日）" in page and "更正说明" in page
    assert "认定等级由困难调整为特别困难" in page
    first_page = client.get(f"{notice_url}/revisions/1?format=html", headers=world.headers("officer"))
    assert "第1版（2020年10月12日）" in first_page.get_data(as_text=True)
    assert "公示期：2020年10月12日 至 2020年10月16日" in first_page.get_data(as_text=True)  # no padded 09月
    assert "更正说明" not in first_page.get_data(as_text=True)
    assert client.get(f"{notice_url}/revisions/3", headers=world.headers("officer")).status_code == 404
    assert client.get(base, headers=world.headers("other_officer")).status_code == 404
    assert client.get(base, headers=world.headers("county_admin")).status_code == 200


def test_the_school_sets_the_phone_and_sign_off_printed_on_its_notices(
    client: FlaskClient, world: World, clock: Clock
) -> None:
    world.student("N1")
    first = publish(client, world, "N1")
    url = "/api/v1/schools/S1/notice-settings"
    empty = ok(client.get(url, headers=world.headers("officer")))
    assert empty["contact_phone"] == "" and empty["default_signoff"] == "南京市第一中学学生资助工作组"
    body = {"contact_phone": "025-83456789", "signoff": "南京市第一中学学生资助工作领导小组"}
    saved = ok(client.put(url, json=body, headers=world.headers("officer")))
    assert saved["contact_phone"] == "025-83456789" and saved["editable"] is True
    notice = notice_json(client, world, first["notice"]["id"])
    assert (notice["contact_phone"], notice["signoff"]) == (body["contact_phone"], body["signoff"])
    page = client.get(
        f"/api/v1/schools/S1/notices/{first['notice']['id']}?format=html", headers=world.headers("officer")
    ).get_data(as_text=True)
    assert "监督电话：025-83456789" in page and "南京市第一中学学生资助工作领导小组<br>2020年10月12日" in page
    (event,) = events("notice.settings", "school:S1")
    assert event.summary == {"before": None, "after": body}
    by_admin = ok(
        client.put(url, json={**body, "contact_phone": "13912345678"}, headers=world.headers("county_admin"))
    )
    assert by_admin["contact_phone"] == "13912345678"
    assert db.session.get(NoticeSettings, "S1").updated_by  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"contact_phone": "12345", "signoff": ""}, "contact_phone"),
        ({"contact_phone": "025-8345678a", "signoff": ""}, "contact_phone"),
        ({"contact_phone": "", "signoff": "甲"}, "signoff"),
        ({"contact_phone": "", "signoff": "学校\u202e小组"}, "signoff"),
        ({"contact_phone": "", "signoff": "长" * 61}, "signoff"),
    ],
)
def test_bad_phone_or_sign_off_is_refused_naming_the_field(
    client: FlaskClient,
    world: World,
    clock: Clock,
    body: dict,
    field: str,  # type: ignore[type-arg]
) -> None:
    response = client.put("/api/v1/schools/S1/notice-settings", json=body, headers=world.headers("officer"))
    assert response.status_code == 422 and field in response.json["errors"], response.json
    assert events("notice.settings") == []


def test_only_the_school_and_its_region_set_the_notice_settings(
    client: FlaskClient, world: World, clock: Clock
) -> None:
    body = {"contact_phone": "025-83456789", "signoff": "领导小组"}
    url = "/api/v1/schools/S1/notice-settings"
    for who, status in (
        ("officer", 200),
        ("county_admin", 200),
        ("province_admin", 200),
        ("auditor", 403),
        ("other_officer", 404),
        ("other_city_admin", 404),
        ("client", 403),
        ("anonymous", 401),
    ):
        assert client.put(url, json=body, headers=world.headers(who)).status_code == status, who
    assert ok(client.get(url, headers=world.headers("auditor")))["editable"] is False
