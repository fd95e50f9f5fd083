"""Free text stays where it belongs, and names are one line of plain text (issue 16, item 8).

An officer's rejection note is read by the school's own officer (the application, the school's own report); every
report a region, city, province or the archive gets names the reason's category only, in every kind and format;
reassessment notes stay out of decisions and the audit trail that administrators and auditors read. A name with a
bidirectional control, a line break or another control character is refused, naming the field, and nothing is
stored. The province is tests/world/reports.py's: student REJECT (school S3, 无锡) was rejected with a note.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

import openpyxl
import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from aidservice.extensions import db
from aidservice.models import (
    AgencyRecord,
    ApiClient,
    ApplicationAction,
    AuditEvent,
    Decision,
    Region,
    School,
    Student,
)
from aidservice.services.actors import Actor
from aidservice.services.reports.archive import Due, archive_one
from aidservice.services.reports.special_groups import REJECTED_ELSEWHERE
from tests.timing_support import FAST, work_clock
from tests.world.factories import bearer, id_number, make_client, make_school, make_student, make_user
from tests.world.reports import (
    Province,
    as_json,
    province_fixture,  # noqa: F401 - fixture "province"
    settings_for,
    xlsx_sheets,
)

pytestmark = pytest.mark.databases

NOTE = "家庭情况核实不符"
PERIOD = "2020-2021-autumn"
KINDS = ("special-groups", "programs", "regions")
READERS = [  # (caller, region asked for: None is the caller's own scope) — none of them is S3's officer
    ("province_admin", None),
    ("province_admin", "S3"),
    ("wuxi_admin", None),
    ("wuxi_admin", "320213"),
    ("wuxi_admin", "S3"),
    ("auditor", None),
    ("auditor", "S3"),
]
BAD_NAME_CHARACTERS = {
    "RLO U+202E": "\u202e",
    "LRE U+202A": "\u202a",
    "PDF U+202C": "\u202c",
    "LRI U+2066": "\u2066",
    "PDI U+2069": "\u2069",
    "LRM U+200E": "\u200e",
    "RLM U+200F": "\u200f",
    "ALM U+061C": "\u061c",
    "LF": "\n",
    "CR": "\r",
    "LS U+2028": "\u2028",
    "PS U+2029": "\u2029",
    "NEL U+0085": "\u0085",
    "TAB": "\t",
    "BEL": "\x07",
    "ESC": "\x1b",
    "DEL": "\x7f",
}
BAD = pytest.mark.parametrize("bad", list(BAD_NAME_CHARACTERS.values()), ids=list(BAD_NAME_CHARACTERS))
BIDI = {k: v for k, v in BAD_NAME_CHARACTERS.items() if k[:2] in ("RL", "LR", "PD", "AL")}


def report(client: FlaskClient, province: Province, who: str, kind: str, fmt: str, region: str | None) -> str:
    query = {"period": PERIOD, "format": fmt, **({"region": region} if region else {})}
    response = client.get(f"/api/v1/reports/{kind}", query_string=query, headers=province.headers(who))
    assert response.status_code == 200, (who, kind, fmt, region, response.data[:300])
    if fmt == "xlsx":
        return " ".join(str(v) for rows in xlsx_sheets(response.data).values() for row in rows for v in row)
    return response.data.decode("utf-8")


def unaided(client: FlaskClient, province: Province, who: str, region: str | None = None) -> dict[str, Any]:
    rows = as_json(report(client, province, who, "special-groups", "json", region).encode())["sections"][
        "unaided"
    ]
    return {row["student_id"]: row for row in rows["rows"]}


# ------------------------------------------------------------------------------------------------ the note


@pytest.mark.parametrize("fmt", ["json", "csv", "xlsx", "html"])
def test_a_rejection_note_reaches_no_province_city_county_or_auditor_report_in_any_kind(
    client: FlaskClient, province: Province, fmt: str
) -> None:
    leaks = [
        (who, region, kind)
        for who, region in READERS
        for kind in KINDS
        if NOTE in report(client, province, who, kind, fmt, region)
    ]
    assert leaks == []


def test_region_reports_give_the_reason_category_of_a_rejection(
    client: FlaskClient, province: Province
) -> None:
    for who, region in READERS:
        row = unaided(client, province, who, region)["ST-REJECT"]
        assert (row["reason"], row["reason_name"], row["detail"]) == (
            "rejected",
            "未通过认定",
            REJECTED_ELSEWHERE,
        )


def test_the_schools_own_officer_reads_the_note_in_the_schools_report(
    client: FlaskClient, province: Province
) -> None:
    assert unaided(client, province, "officer_S3")["ST-REJECT"]["detail"] == NOTE
    for fmt in ("csv", "xlsx", "html"):
        assert NOTE in report(client, province, "officer_S3", "special-groups", fmt, None), fmt


def test_the_schools_own_officer_reads_the_note_on_the_application(
    client: FlaskClient, province: Province
) -> None:
    application = client.get(
        f"/api/v1/applications/{province.applications['REJECT']}", headers=province.headers("officer_S3")
    )
    assert application.status_code == 200
    assert [h["note"] for h in application.json["history"] if h["action"] == "reject"] == [NOTE]


@pytest.mark.parametrize("region", ["320000", "320200", "S3"])
@pytest.mark.parametrize("fmt", ["json", "csv", "xlsx", "html"])
def test_an_archived_report_holds_no_note(app: Flask, province: Province, region: str, fmt: str) -> None:
    due = Due("special-groups", PERIOD, region, fmt, datetime.now(UTC), "monthly")
    row = archive_one(db.session, actor=Actor.system("test"), settings=settings_for(app), due=due)
    assert row is not None
    text = (
        row.content.decode("utf-8", "replace")
        if fmt != "xlsx"
        else " ".join(str(v) for rows in xlsx_sheets(row.content).values() for r in rows for v in r)
    )
    assert "ST-REJECT" in text and NOTE not in text


def web_client(app: Flask, province: Province, who: str) -> FlaskClient:
    """A UI session for one of the province's callers (the login page's session, without argon2's cost)."""
    client = app.test_client()
    with client.session_transaction() as session:
        session["token"] = province.tokens[who]
    return client


@pytest.mark.parametrize(
    ("who", "shown"),
    [("wuxi_admin", False), ("province_admin", False), ("auditor", False), ("officer_S3", True)],
)
def test_the_web_report_page_and_its_downloads_show_the_note_to_the_school_only(
    app: Flask, province: Province, who: str, shown: bool
) -> None:
    client = web_client(app, province, who)
    page = client.get("/reports", query_string={"kind": "special-groups", "period": PERIOD})
    assert page.status_code == 200
    texts = [page.data.decode()]
    for fmt in ("csv", "xlsx"):
        download = client.get(
            "/reports/special-groups/download", query_string={"period": PERIOD, "format": fmt}
        )
        assert download.status_code == 200
        texts.append(
            download.data.decode("utf-8-sig")
            if fmt == "csv"
            else " ".join(str(v) for rows in xlsx_sheets(download.data).values() for r in rows for v in r)
        )
    assert [NOTE in text for text in texts] == [shown] * 3


@pytest.mark.parametrize("who", ["wuxi_admin", "province_admin", "auditor"])
def test_the_dashboard_and_the_audit_trail_of_a_region_show_no_note(
    app: Flask, client: FlaskClient, province: Province, who: str
) -> None:
    dashboard = web_client(app, province, who).get("/")
    assert dashboard.status_code == 200 and NOTE not in dashboard.data.decode()
    audit = client.get(
        "/api/v1/audit", query_string={"subject": "student:ST-REJECT"}, headers=province.headers(who)
    )
    assert audit.status_code in (200, 403) and NOTE not in audit.data.decode()


def test_a_reassessment_note_stays_out_of_decisions_and_the_audit_trail(
    client: FlaskClient, province: Province
) -> None:
    reason = "家访：父亲重病住院"
    province.step(
        "QUOTA", "S1", "reassess", note=reason
    )  # the martyr record came after approval: decisions change
    assert (
        db.session.scalar(
            sa.select(sa.func.count()).select_from(ApplicationAction).where(ApplicationAction.note == reason)
        )
        == 1
    )  # kept for the school
    made = (
        db.session.execute(
            sa.select(AuditEvent.summary)
            .where(AuditEvent.action == "decisions.made")
            .order_by(AuditEvent.seq.desc())
        )
        .scalars()
        .first()
    )
    assert made is not None and made["cause"] == "reassess"  # the reassessment did make decisions
    summaries = [str(s) for s in db.session.execute(sa.select(AuditEvent.summary)).scalars()]
    subjects = list(db.session.execute(sa.select(AuditEvent.subject)).scalars())
    assert not [s for s in summaries + subjects if reason in s]
    decisions = db.session.execute(sa.select(Decision.explanation, Decision.superseded_reason)).all()
    assert not [d for d in decisions if reason in str(d.explanation) or reason in (d.superseded_reason or "")]
    for who in ("province_admin", "auditor"):
        audit = client.get(
            "/api/v1/audit", query_string={"subject": "student:ST-QUOTA"}, headers=province.headers(who)
        )
        assert audit.status_code in (200, 403) and reason not in audit.data.decode()


# ------------------------------------------------------------------------------------------------ names


@pytest.fixture
def roster(app: Flask) -> dict[str, str]:
    session = db.session
    school = make_school(session, "S1", "320102", stages=("primary", "junior"))
    make_student(session, "A1", school, seed=1, stage="junior", grade=2, name="张三")
    tokens = {
        "officer": make_user(session, "school_officer", school_code="S1")[1],
        "city_admin": make_user(session, "city_admin", region_code="320100")[1],
        "civil_affairs": make_client(session, "civil_affairs"),
    }
    session.commit()
    return tokens


def student_payload(**changes: Any) -> dict[str, Any]:
    return {
        "id_number": id_number(101),
        "name": "李四",
        "school_code": "S1",
        "class_name": "初一(2)班",
        "stage": "junior",
        "grade": 1,
        "guardians": [{"id_number": id_number(201, county="320102"), "name": "李父", "relation": "father"}],
        **changes,
    }


def timed(call: Callable[[], Any]) -> tuple[Any, float]:
    started = work_clock()
    result = call()
    return result, work_clock() - started


def refused(response: Any, elapsed: float, field: str) -> None:
    assert response.status_code == 422, response.json
    assert response.mimetype == "application/problem+json"
    assert field in response.json["errors"], response.json["errors"]
    assert "one line of plain text" in response.json["errors"][field][0]
    assert elapsed < FAST


def students() -> list[tuple[str, str]]:
    return [
        tuple(r)
        for r in db.session.execute(sa.select(Student.student_id, Student.name).order_by(Student.student_id))
    ]


@BAD
def test_a_student_name_with_a_hidden_control_is_a_422_naming_name(
    client: FlaskClient, roster: dict[str, str], bad: str
) -> None:
    response, elapsed = timed(
        lambda: client.put(
            "/api/v1/students/B1", json=student_payload(name=f"李{bad}四"), headers=bearer(roster["officer"])
        )
    )
    refused(response, elapsed, "name")
    assert students() == [("A1", "张三")]


@BAD
def test_renaming_a_student_with_a_hidden_control_is_refused_and_keeps_the_name(
    client: FlaskClient, roster: dict[str, str], bad: str
) -> None:
    payload = student_payload(id_number=id_number(1), name=f"张{bad}三", grade=2, guardians=[])
    response, elapsed = timed(
        lambda: client.put("/api/v1/students/A1", json=payload, headers=bearer(roster["officer"]))
    )
    refused(response, elapsed, "name")
    assert students() == [("A1", "张三")]


@BAD
def test_a_guardian_name_with_a_hidden_control_is_a_422_naming_the_guardian(
    client: FlaskClient, roster: dict[str, str], bad: str
) -> None:
    guardians = [{"id_number": id_number(201, county="320102"), "name": f"李{bad}父", "relation": "father"}]
    response, elapsed = timed(
        lambda: client.put(
            "/api/v1/students/B1",
            json=student_payload(guardians=guardians),
            headers=bearer(roster["officer"]),
        )
    )
    refused(response, elapsed, "guardians.0.name")
    assert students() == [("A1", "张三")]


@BAD
def test_a_school_name_with_a_hidden_control_is_a_422_naming_name(
    client: FlaskClient, roster: dict[str, str], bad: str
) -> None:
    payload = {"name": f"南京{bad}九中", "region_code": "320102", "stages": ["junior"], "kind": "public"}
    response, elapsed = timed(
        lambda: client.put("/api/v1/schools/N9", json=payload, headers=bearer(roster["city_admin"]))
    )
    refused(response, elapsed, "name")
    assert db.session.get(School, "N9") is None


def test_class_names_and_relations_are_one_line_too(client: FlaskClient, roster: dict[str, str]) -> None:
    guardians = [{"id_number": id_number(201, county="320102"), "name": "李父", "relation": "fa\u202ether"}]
    response = client.put(
        "/api/v1/students/B1",
        json=student_payload(class_name="一\n班", guardians=guardians),
        headers=bearer(roster["officer"]),
    )
    assert response.status_code == 422
    assert set(response.json["errors"]) == {"class_name", "guardians.0.relation"}
    assert students() == [("A1", "张三")]


@pytest.mark.parametrize("bad", [*list(BIDI.values()), "\x07"], ids=[*list(BIDI), "BEL"])
def test_an_imported_csv_row_with_a_hidden_control_in_a_name_is_refused_by_row_and_column(
    client: FlaskClient, roster: dict[str, str], bad: str
) -> None:
    rows = [
        "student_id,id_number,name,stage,grade,guardian1_id_number,guardian1_name,guardian1_relation",
        f"C1,{id_number(401)},王五,junior,1,,,",
        f"C2,{id_number(402)},赵{bad}六,junior,1,{id_number(5402, county='320102')},赵父,father",
        f"C3,{id_number(403)},钱七,junior,1,{id_number(5403, county='320102')},钱{bad}父,father",
    ]
    content = ("\r\n".join(rows) + "\r\n").encode()
    response, elapsed = timed(
        lambda: client.post(
            "/api/v1/students/import",
            data={"file": (io.BytesIO(content), "r.csv")},
            headers=bearer(roster["officer"]),
            content_type="multipart/form-data",
        )
    )
    assert response.status_code == 422 and elapsed < FAST
    assert set(response.json["errors"]) == {"rows.3.name", "rows.4.guardian1_name"}
    assert students() == [("A1", "张三")]


@pytest.mark.parametrize(
    "bad", ["\n", "\r\n", "\u2028", "\u2029", "\u0085"], ids=["LF", "CRLF", "LS", "PS", "NEL"]
)
def test_an_imported_xlsx_cell_with_a_line_break_in_a_name_is_refused_by_row(
    client: FlaskClient, roster: dict[str, str], bad: str
) -> None:
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["student_id", "id_number", "name", "stage", "grade"])
    sheet.append(["X1", id_number(501), f"赵{bad}五", "junior", 1])
    buffer = io.BytesIO()
    book.save(buffer)
    response, elapsed = timed(
        lambda: client.post(
            "/api/v1/students/import",
            data={"file": (io.BytesIO(buffer.getvalue()), "r.xlsx")},
            headers=bearer(roster["officer"]),
            content_type="multipart/form-data",
        )
    )
    assert response.status_code == 422 and elapsed < FAST
    assert set(response.json["errors"]) == {"rows.2.name"}
    assert students() == [("A1", "张三")]


@BAD
def test_an_agency_record_name_with_a_hidden_control_is_rejected_by_index_naming_name(
    client: FlaskClient, roster: dict[str, str], bad: str
) -> None:
    records = [
        {
            "id_number": id_number(700 + i, born=date(1980, 1, 1)),
            "name": name,
            "status": "subsistence_allowance",
            "valid_from": "2020-01-01",
        }
        for i, name in enumerate(["王某", f"王{bad}某", "李某"])
    ]
    response, elapsed = timed(
        lambda: client.post(
            "/api/v1/feeds/civil_affairs/batches",
            json={"batch_id": "B-names", "records": records},
            headers=bearer(roster["civil_affairs"]),
        )
    )
    assert response.status_code == 200 and elapsed < FAST
    assert response.json["accepted"] == 2
    assert [(r["index"], r["field"]) for r in response.json["rejected"]] == [(1, "name")]
    assert "one line of plain text" in response.json["rejected"][0]["message"]
    names = (
        db.session.execute(sa.select(AgencyRecord.name).order_by(AgencyRecord.record_index)).scalars().all()
    )
    assert names == ["王某", "李某"]


@pytest.mark.parametrize("bad", [*list(BIDI.values()), "\x07", "\u2028"], ids=[*list(BIDI), "BEL", "LS"])
def test_an_application_note_with_a_bidi_control_is_a_422_naming_note(
    client: FlaskClient, province: Province, bad: str
) -> None:
    application_id = province.applications["REVIEW"]
    version = client.get(
        f"/api/v1/applications/{application_id}", headers=province.headers("officer_S1")
    ).json
    before = db.session.scalar(sa.select(sa.func.count()).select_from(ApplicationAction))
    response, elapsed = timed(
        lambda: client.post(
            f"/api/v1/applications/{application_id}/actions",
            headers=province.headers("officer_S1"),
            json={"action": "reject", "note": f"收入{bad}核实不符", "version": version["version"]},
        )
    )
    assert response.status_code == 422 and "note" in response.json["errors"] and elapsed < FAST
    assert "bidirectional control" in response.json["errors"]["note"][0]
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ApplicationAction)) == before


def test_an_application_note_keeps_its_line_breaks(client: FlaskClient, province: Province) -> None:
    application_id = province.applications["REVIEW"]
    version = client.get(
        f"/api/v1/applications/{application_id}", headers=province.headers("officer_S1")
    ).json
    note = "一、收入核实不符；\r\n二、\t未提供证明。"
    response = client.post(
        f"/api/v1/applications/{application_id}/actions",
        headers=province.headers("officer_S1"),
        json={"action": "reject", "note": note, "version": version["version"]},
    )
    assert response.status_code == 200, response.json
    assert [h["note"] for h in response.json["history"] if h["action"] == "reject"] == [note]


@pytest.mark.parametrize("bad", ["\u202e", "\n", "\x1b"], ids=["RLO", "LF", "ESC"])
def test_the_cli_refuses_client_and_county_names_with_a_hidden_control(app: Flask, bad: str) -> None:
    runner = app.test_cli_runner()
    client = runner.invoke(args=["aid", "client", "create", f"民政{bad}局", "--source", "civil_affairs"])
    assert client.exit_code != 0 and "name" in client.output and "one line of plain text" in client.output
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ApiClient)) == 0
    county = runner.invoke(args=["aid", "regions", "add", "320199", f"新{bad}区"])
    assert county.exit_code != 0 and "one line of plain text" in county.output
    assert db.session.get(Region, "320199") is None
