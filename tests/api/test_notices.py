"""The public notice (公示): working days with holidays, one open notice per school, and privacy in every
format (name, class and level only)."""

from __future__ import annotations

import csv
import io
import json
from datetime import date

import pytest
from flask import Flask
from flask.testing import FlaskClient

from config import ConfigError, load_config
from tests.world.applications import (
    SUBMITTED,
    Clock,
    World,
    act,
    clock_fixture,  # noqa: F401 - fixture "clock"
    declared,
    events,
    ok,
    person,
    record,
    submit,
    world_fixture,  # noqa: F401 - fixture "world"
)
from tests.world.factories import id_number

pytestmark = pytest.mark.databases
HOLIDAY = date(2020, 10, 14)  # a Wednesday, configured as a holiday for this module
CLOSES = date(2020, 10, 19)  # 12 Oct + 5 working days, skipping the holiday and the weekend
FORMATS = ("json", "csv", "html")


@pytest.fixture
def app_env() -> dict[str, str]:
    return {"AID_HOLIDAYS": f"{HOLIDAY.isoformat()}, 2021-01-01"}


def publish(
    client: FlaskClient, world: World, student_id: str, who: str = "officer", **changes: object
) -> dict:  # type: ignore[type-arg]
    application = ok(submit(client, world, student_id, who=who, **changes), 201)
    application = ok(act(client, world, application, "review", who=who))
    return ok(act(client, world, application, "publish_notice", who=who))


def fetch(
    client: FlaskClient, world: World, notice_id: int, fmt: str, who: str = "officer", school: str = "S1"
):  # type: ignore[no-untyped-def]
    return client.get(
        f"/api/v1/schools/{school}/notices/{notice_id}?format={fmt}", headers=world.headers(who)
    )


def test_the_notice_period_skips_weekends_and_configured_holidays(
    client: FlaskClient, world: World, clock: Clock
) -> None:
    world.student("N1")
    published = publish(client, world, "N1")
    assert published["notice"]["published_on"] == SUBMITTED.isoformat()
    assert published["notice"]["closes_on"] == CLOSES.isoformat()
    (event,) = events("notice.open", "school:S1")
    assert event.summary["closes_on"] == CLOSES.isoformat() and event.summary["working_days"] == 5


def test_later_entries_join_the_open_notice_and_keep_their_own_period(
    client: FlaskClient, world: World, clock: Clock
) -> None:
    for student_id in ("N1", "N2", "N3"):
        world.student(student_id)
    first = publish(client, world, "N1")
    clock.today = date(2020, 10, 16)  # Friday: still open
    second = publish(client, world, "N2")
    assert second["notice"]["id"] == first["notice"]["id"]
    assert second["notice"]["closes_on"] == "2020-10-22"  # its own five working days
    notice = ok(fetch(client, world, first["notice"]["id"], "json"))
    assert notice["closes_on"] == "2020-10-22" and notice["opened_on"] == SUBMITTED.isoformat()
    assert len(events("notice.extend", "school:S1")) == 1
    early = act(client, world, first, "approve")
    clock.today = date(2020, 10, 20)
    assert early.status_code == 409
    assert ok(act(client, world, first, "approve"))["state"] == "approved"  # its own period is over
    assert act(client, world, second, "approve").status_code == 409  # not yet
    clock.today = date(2020, 10, 26)
    third = publish(client, world, "N3")
    assert third["notice"]["id"] != first["notice"]["id"]  # the first notice has closed: a new one
    listed = ok(client.get("/api/v1/schools/S1/notices", headers=world.headers("officer")))
    assert [(n["id"], n["open"]) for n in listed["items"]] == [
        (third["notice"]["id"], True),
        (first["notice"]["id"], False),
    ]


def test_every_format_lists_name_class_and_level_only(
    client: FlaskClient, app: Flask, world: World, clock: Clock
) -> None:
    world.student("N1", name="王小明", class_name="初二(1)班", guardians=[6001, 6002])
    world.student("N2", name="李小红", class_name="初二(3)班", guardians=[6003])
    world.student("N3", name="张小刚", class_name="初一(2)班", guardians=[6004])
    world.student("N4", name="赵小丽", class_name="初一(2)班", guardians=[6005])
    world.student("N5", name="陈小华", class_name="初三(1)班", guardians=[6006])
    world.agency(
        "civil_affairs",
        "C1",
        [record(person(6001), "subsistence_allowance"), record(id_number(world.seeds["N2"]), "orphan")],
    )
    world.agency(
        "disabled_persons_federation",
        "D1",
        [record(id_number(world.seeds["N3"]), "disabled", disability_grade=3)],
    )
    world.agency("poverty_alleviation", "P1", [record(person(6005), "registered_poor")])
    for student_id in ("N1", "N2", "N3", "N4"):
        last = publish(client, world, student_id)
    publish(
        client,
        world,
        "N5",
        declared=declared(major_illness=True, per_capita_income="15000.00", subsistence_allowance=True),
    )
    notice_id = last["notice"]["id"]

    bodies = {fmt: fetch(client, world, notice_id, fmt) for fmt in FORMATS}
    for fmt, response in bodies.items():
        assert response.status_code == 200, (fmt, response.get_data(as_text=True))
    notice = bodies["json"].json
    assert [set(e) for e in notice["entries"]] == [{"name", "class_name", "level", "level_label"}] * 5
    assert [(e["class_name"], e["name"], e["level_label"]) for e in notice["entries"]] == [
        ("初一(2)班", "赵小丽", "特别困难"),
        ("初一(2)班", "张小刚", "困难"),
        ("初三(1)班", "陈小华", "困难"),
        ("初二(1)班", "王小明", "特别困难"),
        ("初二(3)班", "李小红", "特别困难"),
    ]
    rows = list(csv.reader(io.StringIO(bodies["csv"].get_data(as_text=True).lstrip("\ufeff"))))
    assert rows[0] == ["姓名", "班级", "认定等级"] and len(rows) == 6
    assert bodies["csv"].mimetype == "text/csv"
    html = bodies["html"].get_data(as_text=True)
    assert bodies["html"].mimetype == "text/html" and '<html lang="zh-CN">' in html and "公示" in html
    assert "王小明" in html and "特别困难" in html

    forbidden = _forbidden(app, world)
    for fmt, response in bodies.items():
        text = response.get_data(as_text=True)
        if fmt == "json":
            text = json.dumps(response.json, ensure_ascii=False)
        leaks = sorted(word for word in forbidden if word in text)
        assert leaks == [], (fmt, leaks)


def _forbidden(app: Flask, world: World) -> set[str]:
    """ID numbers (full and masked) and birth dates of students and guardians, status words, reason labels."""
    words: set[str] = set()
    numbers = [id_number(seed) for seed in world.seeds.values()] + [person(s) for s in range(6001, 6007)]
    for number in numbers:
        birth = number[6:14]
        words |= {number, number[:6] + "*" * 11 + number[-1:], birth, f"{birth[:4]}-{birth[4:6]}-{birth[6:]}"}
    rules = app.extensions["aid_rules"]
    for name, spec in rules.facts.items():
        if spec.source not in ("roster", "school"):  # agency statuses and declared facts: never on a notice
            words |= {name, spec.label}
    for clause in rules.rules.clauses:
        words |= {clause.id, clause.label}
    words |= {"低保", "建档立卡", "孤儿", "残疾", "特困", "15000.00", "5000.00", "一班"}
    return words


def test_the_printable_page_runs_no_script_and_loads_nothing(
    client: FlaskClient, world: World, clock: Clock
) -> None:
    world.student("N1", name="<script>alert(1)</script>")
    notice_id = publish(client, world, "N1")["notice"]["id"]
    response = fetch(client, world, notice_id, "html")
    html = response.get_data(as_text=True)
    assert "<script" not in html and "&lt;script&gt;" in html
    for external in ("http://", "https://", "src=", "<link", "@import", "//cdn"):
        assert external not in html
    assert "script-src" not in response.headers["Content-Security-Policy"]
    assert response.headers["Content-Security-Policy"].startswith("default-src 'none'")


def test_spreadsheet_formulas_in_names_are_neutralised(
    client: FlaskClient, world: World, clock: Clock
) -> None:
    world.student("N1", name='=HYPERLINK("x")')
    notice_id = publish(client, world, "N1")["notice"]["id"]
    rows = list(csv.reader(io.StringIO(fetch(client, world, notice_id, "csv").get_data(as_text=True))))
    assert rows[1][0] == '\'=HYPERLINK("x")'


def test_a_rejected_application_leaves_the_notice(client: FlaskClient, world: World, clock: Clock) -> None:
    world.student("N1", name="王小明")
    world.student("N2", name="李小红")
    first = publish(client, world, "N1")
    publish(client, world, "N2")
    ok(act(client, world, first, "reject", note="核实不符"))
    entries = ok(fetch(client, world, first["notice"]["id"], "json"))["entries"]
    assert [e["name"] for e in entries] == ["李小红"]


def test_notices_are_scoped(client: FlaskClient, world: World, clock: Clock) -> None:
    world.student("N1")
    world.student("B1", school=world.s2)
    notice_id = publish(client, world, "N1")["notice"]["id"]
    other = publish(client, world, "B1", who="other_officer")["notice"]["id"]
    for who, status in (
        ("officer", 200),
        ("county_admin", 200),
        ("auditor", 200),
        ("other_officer", 403),
        ("other_city_admin", 403),
        ("client", 403),
        ("anonymous", 401),
    ):
        hidden = 404 if who.startswith("other_") else status  # issue 16: one notice outside the scope is 404
        for fmt in FORMATS:
            assert fetch(client, world, notice_id, fmt, who=who).status_code == hidden, (who, fmt)
        assert client.get("/api/v1/schools/S1/notices", headers=world.headers(who)).status_code == status
    assert fetch(client, world, other, "json").status_code == 404  # S2's notice is not one of S1's
    assert fetch(client, world, 999999, "json").status_code == 404
    assert fetch(client, world, notice_id, "xml").status_code == 422
    assert client.get("/api/v1/schools/NOPE/notices", headers=world.headers("officer")).status_code == 404


def test_the_notice_settings_are_checked_when_the_config_is_read() -> None:
    with pytest.raises(ConfigError, match=r"AID_HOLIDAYS.*2020-13-01"):
        load_config({"AID_ENV": "testing", "AID_HOLIDAYS": "2020-10-01,2020-13-01"})
    with pytest.raises(ConfigError, match=r"AID_NOTICE_WORKING_DAYS is no longer read.*rules/procedure.yaml"):
        load_config({"AID_ENV": "testing", "AID_NOTICE_WORKING_DAYS": "5"})  # policy now, not configuration
    config = load_config({"AID_ENV": "testing", "AID_HOLIDAYS": " 2020-10-02 ,2020-10-01,"})
    assert config.AID_HOLIDAYS == (date(2020, 10, 1), date(2020, 10, 2))
