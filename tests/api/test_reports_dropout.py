"""The dropout-control report (控辍保学) and the special-groups report's east–west line, against the county of
tests/world/dropout.py."""

from __future__ import annotations

import logging
from datetime import date
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from aidservice.extensions import db
from aidservice.identity import mask
from aidservice.models import Decision, PersonBirth, School
from aidservice.services import reports
from aidservice.services.actors import Actor
from aidservice.services.reports import dropout
from aidservice.services.reports.dropout import age_on, years_before
from tests.world.dropout import CHILDREN, PERIOD, REPORT_MOMENT, County, build_county, enrol
from tests.world.reports import Province, as_json, csv_sections, settings_for, xlsx_sheets

pytestmark = pytest.mark.databases


@pytest.fixture
def county(app: Flask) -> County:
    return build_county(app)


def report(app: Flask, region: str, period: str = PERIOD) -> dict[str, Any]:
    """The report as of the world's report moment, as rows by section (JSON values through the renderer)."""
    ctx = reports.context(
        db.session,
        actor=Actor.system("test"),
        settings=settings_for(app),
        kind=dropout.KIND,
        period=period,
        region=region,
        now=REPORT_MOMENT,
    )
    return as_json(b"".join(reports.render(dropout.build(ctx), "json")))


def ended_ids(body: dict[str, Any]) -> list[str]:
    return [row["student_id"] for row in body["sections"]["ended"]["rows"]]


def child_masks(body: dict[str, Any]) -> set[str]:
    return {row["id_number"] for row in body["sections"]["unmatched_children"]["rows"]}


def test_ended_enrolments_of_special_group_pupils_are_listed_but_not_a_transfer_into_another_school(
    app: Flask, county: County
) -> None:
    body = report(app, "320102")
    assert body["kind"] == "dropout_control" and body["title"] == "控辍保学监测报告"
    assert ended_ids(body) == ["ST-DROP", "ST-GONE", "ST-SUSP"]
    rows = {row["student_id"]: row for row in body["sections"]["ended"]["rows"]}
    assert rows["ST-DROP"]["state_name"] == "辍学" and rows["ST-DROP"]["state_date"] == "2020-10-10"
    assert rows["ST-DROP"]["group_names"] == "建档立卡学生"  # through the guardian's household record
    assert rows["ST-GONE"]["state_name"] == "转出" and rows["ST-SUSP"]["state_name"] == "休学"
    assert rows["ST-SUSP"]["stage"] == "初中" and rows["ST-SUSP"]["id_number"] == mask(county.numbers["SUSP"])
    # the province adds Wuxi's pupil; MOVED (enrolled again at A2), PLAIN (no group), LATE (after the
    # period), VOC (vocational) and STAY (enrolled) are never listed
    assert ended_ids(report(app, "320000")) == ["ST-DROP", "ST-GONE", "ST-SUSP", "ST-WUXI"]


def test_a_transfer_listed_until_the_pupil_enrols_in_another_jiangsu_school(
    app: Flask, county: County
) -> None:
    assert "ST-GONE" in ended_ids(report(app, "320102"))
    enrol(db.session, "GONE-IN", db.session.get(School, "B1"), county.numbers["GONE"], "primary")
    db.session.commit()
    assert "ST-GONE" not in ended_ids(report(app, "320102"))


def test_agency_children_aged_6_to_15_matching_no_enrolled_pupil_are_listed_with_birthday_boundaries(
    app: Flask, county: County
) -> None:
    body = report(app, "320102")
    expected = {CHILDREN["SIX"], CHILDREN["FIFTEEN"], county.numbers["SUSP"], county.numbers["GONE"]}
    assert child_masks(body) == {mask(n) for n in expected}
    rows = {row["id_number"]: row for row in body["sections"]["unmatched_children"]["rows"]}
    six = rows[mask(CHILDREN["SIX"])]
    assert six["age"] == 6 and six["groups"] == "registered_poor;subsistence_allowance"
    assert six["sources"] == "civil_affairs;poverty_alleviation" and six["roster"] == "无学籍记录"
    assert rows[mask(CHILDREN["FIFTEEN"])]["age"] == 15
    assert rows[mask(county.numbers["GONE"])]["roster"] == "转出（transferred）"
    assert body["report_date"] == "2020-12-15"
    # 5 (FIVE: sixth birthday tomorrow), 16 (SIXTEEN and VOC: sixteenth birthday today), a lapsed record, an
    # enrolled pupil (STAY, MOVED at A2) and a number of another county (WUXI) are not listed
    province = child_masks(report(app, "320000"))
    assert province == {mask(n) for n in expected} | {mask(county.numbers["WUXI"])}


def test_age_and_birthday_arithmetic() -> None:
    assert age_on(date(2014, 12, 15), date(2020, 12, 15)) == 6
    assert age_on(date(2014, 12, 16), date(2020, 12, 15)) == 5
    assert years_before(date(2020, 2, 29), 6) == date(2014, 2, 28)
    assert age_on(date(2012, 2, 29), date(2020, 2, 28)) == 7


def test_birth_dates_are_kept_at_ingest_by_keyed_hash_only(app: Flask, county: County) -> None:
    births = dict(db.session.execute(sa.select(PersonBirth.person_hmac, PersonBirth.birth_date)).all())
    assert date(2014, 12, 15) in births.values()
    assert all(len(key) == 64 and not key.isdigit() for key in births)


def test_a_school_report_lists_its_own_ended_pupils_and_no_agency_children(
    app: Flask, county: County
) -> None:
    body = report(app, "A1")
    assert ended_ids(body) == ["ST-DROP", "ST-GONE", "ST-SUSP"]
    assert body["sections"]["unmatched_children"]["rows"] == []
    assert "学校报告不含此部分" in body["sections"]["unmatched_children"]["note"]


def test_nothing_to_follow_up_is_an_empty_report_with_a_message(app: Flask, county: County) -> None:
    body = report(app, "B1", period="2019-2020-autumn")  # Wuxi's school before its pupil left
    assert ended_ids(body) == [] and body["empty"] is True and "没有需跟进" in body["message"]


ACCESS = [
    ("county_admin", "320102", 200),
    ("county_admin", "320104", 403),
    ("county_admin", "320213", 403),
    ("other_county_admin", "320102", 403),
    ("city_admin", "320102", 200),
    ("wuxi_admin", "320102", 403),
    ("province_admin", "320000", 200),
    ("auditor", "320102", 200),
    ("officer_A1", "A1", 200),
    ("officer_A1", "320102", 403),
    ("officer_A1", "V1", 403),
    ("client_civil_affairs", "320102", 403),
]


@pytest.mark.parametrize(("who", "region", "status"), ACCESS)
def test_who_may_read_the_report(
    client: FlaskClient, county: County, who: str, region: str, status: int
) -> None:
    response = client.get(
        "/api/v1/reports/dropout_control",
        query_string={"period": PERIOD, "region": region},
        headers=county.headers(who),
    )
    assert response.status_code == status, response.get_data(as_text=True)[:300]


def test_csv_and_xlsx_carry_both_lists_in_chinese(client: FlaskClient, county: County) -> None:
    query = {"period": PERIOD, "region": "320102"}
    headers = county.headers("county_admin")
    data = client.get(
        "/api/v1/reports/dropout_control", query_string={**query, "format": "csv"}, headers=headers
    )
    assert data.status_code == 200
    sections = csv_sections(data.data)
    titles = [t for t in sections if t]
    assert any("学籍中止" in t for t in titles) and any("6至15周岁" in t for t in titles)
    book = client.get(
        "/api/v1/reports/dropout_control", query_string={**query, "format": "xlsx"}, headers=headers
    )
    sheets = xlsx_sheets(book.data)
    assert any("辍学" in str(cell) for rows in sheets.values() for row in rows for cell in row)


def test_no_id_number_or_birth_date_reaches_the_logs(
    client: FlaskClient, county: County, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    for fmt in ("json", "csv"):
        response = client.get(
            "/api/v1/reports/dropout_control",
            query_string={"period": PERIOD, "region": "320102", "format": fmt},
            headers=county.headers("county_admin"),
        )
        assert response.status_code == 200
        assert CHILDREN["SIX"].encode() not in response.data and b"2014-12-15" not in response.data
    logged = caplog.text
    assert all(n not in logged for n in [*CHILDREN.values(), *county.numbers.values()])
    assert "2014-12-15" not in logged and "20141215" not in logged


# ------------------------------------------------------------------------------- the east–west line


def test_the_special_groups_report_has_an_east_west_line_per_school(
    app: Flask, client: FlaskClient, county: County
) -> None:
    workflow = Province(app, county.tokens, students={"EW1": county.students["EW1"]})
    workflow.submit("EW1", "V1")
    workflow.approve("EW1", "V1")  # EW1 aided; EW2 never applied
    committed = db.session.execute(
        sa.select(sa.func.sum(Decision.amount_fen)).where(
            Decision.student_pk == county.students["EW1"].id,
            Decision.current.is_(True),
            Decision.status == "awarded",
            Decision.kind.in_(("grant", "waiver", "scholarship")),
        )
    ).scalar()
    assert committed and committed > 0
    response = client.get(
        "/api/v1/reports/special-groups",
        query_string={"period": PERIOD, "region": "320102"},
        headers=county.headers("county_admin"),
    )
    assert response.status_code == 200
    section = as_json(response.data)["sections"]["east_west"]
    assert section["title"] == "东西协作计划学生资助情况（按学校）"
    (row,) = section["rows"]  # A1 has none: no line
    assert row["school_code"] == "V1" and row["school_name"] == "玄武职校"
    assert row["origins"] == "贵州铜仁 1；青海海东 1"
    assert (row["students"], row["aided"], row["coverage"]) == (2, 1, 0.5)
    assert row["committed"] == f"{committed / 100:.2f}"


def test_a_report_on_a_past_period_counts_ages_on_the_periods_last_day(app: Flask, county: County) -> None:
    ctx = reports.context(
        db.session,
        actor=Actor.system("test"),
        settings=settings_for(app),
        kind=dropout.KIND,
        period="2020-09-01..2020-12-14",  # SIX turns 6 the day after this period
        region="320102",
        now=REPORT_MOMENT,
    )
    assert dropout.report_date(ctx) == date(2020, 12, 14)
    body = as_json(b"".join(reports.render(dropout.build(ctx), "json")))
    assert mask(CHILDREN["SIX"]) not in child_masks(body) and body["report_date"] == "2020-12-14"
