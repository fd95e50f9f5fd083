"""Scheduled reports: generated once per kind, period, region, format and as-of day; listed and downloaded in scope."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from aidservice.extensions import db
from aidservice.models import AuditEvent
from aidservice.models.report import ArchivedReport
from aidservice.services.actors import Actor
from aidservice.services.reports.archive import Due, archive_one
from tests.world.reports import (
    Province,
    as_json,
    province_fixture,  # noqa: F401 - fixture "province"
    settings_for,
)

pytestmark = pytest.mark.databases


def archived(province: Province, app: Flask, kind: str, region: str, fmt: str = "json") -> ArchivedReport:
    due = Due(kind, "2020-2021-autumn", region, fmt, datetime.now(UTC), "monthly")
    row = archive_one(db.session, actor=Actor.system("test"), settings=settings_for(app), due=due)
    db.session.commit()
    assert row is not None
    return row


def events(action: str) -> list[AuditEvent]:
    return list(db.session.execute(sa.select(AuditEvent).where(AuditEvent.action == action)).scalars())


def test_the_schedule_archives_what_is_due_once(app: Flask, province: Province) -> None:
    runner = app.test_cli_runner()
    args = [
        "aid",
        "report",
        "schedule",
        "--now",
        "2021-03-01T02:05:00+08:00",
        "--region",
        "320000",
        "--region",
        "320200",
        "--formats",
        "json,xlsx",
    ]
    first = runner.invoke(args=args)
    assert first.exit_code == 0, first.output
    assert (
        "16 archived, 0 already there" in first.output
    )  # autumn 2020-2021 as of 1 March: 4 kinds (dropout_control too) x 2 regions x 2
    again = runner.invoke(args=[*args[:4], "2021-03-20T10:00:00+08:00", *args[5:]])
    assert again.exit_code == 0 and "0 archived, 16 already there" in again.output
    rows = db.session.execute(sa.select(ArchivedReport)).scalars().all()
    assert len(rows) == 16 and {r.period for r in rows} == {"2020-2021-autumn"}
    assert {r.as_of_day.isoformat() for r in rows} == {"2021-03-01"}
    assert all(r.empty and r.trigger == "schedule" for r in rows)  # nothing existed on 1 March 2021
    for row in rows:
        assert row.content_hash == hashlib.sha256(row.content).hexdigest() and row.size == len(row.content)
    assert len(events("report.archived")) == 16
    bad = runner.invoke(args=["aid", "report", "schedule", "--formats", "pdf"])
    assert bad.exit_code == 1 and "format" in bad.output


def test_the_default_schedule_covers_the_province_and_every_city(app: Flask, province: Province) -> None:
    result = app.test_cli_runner().invoke(
        args=["aid", "report", "schedule", "--now", "2020-10-15T09:00:00+08:00", "--formats", "json"]
    )
    assert result.exit_code == 0, result.output
    regions = set(db.session.execute(sa.select(ArchivedReport.region_code)).scalars())
    assert len(regions) == 14 and "320000" in regions and "321300" in regions
    periods = set(db.session.execute(sa.select(ArchivedReport.period)).scalars())
    assert periods == {"2020-2021-autumn", "2019-2020-spring", "2019-2020"}


def test_an_archived_report_is_the_report_as_of_its_time(
    client: FlaskClient, app: Flask, province: Province
) -> None:
    row = archived(province, app, "special-groups", "320000")
    stored = as_json(row.content)
    assert stored["empty"] is False and row.rule_set_versions == stored["rule_set_versions"]
    assert row.feed_watermark == stored["feed_watermark"]
    api = client.get(
        "/api/v1/reports/special-groups",
        headers=province.headers("auditor"),
        query_string={"period": "2020-2021-autumn", "as_of": stored["as_of"]},
    )
    assert as_json(api.data)["sections"] == stored["sections"]
    assert (
        archive_one(
            db.session,
            actor=Actor.system("test"),
            settings=settings_for(app),
            due=Due("special-groups", "2020-2021-autumn", "320000", "json", datetime.now(UTC), "monthly"),
        )
        is None
    )


def test_the_archive_is_listed_and_downloaded_within_scope(
    client: FlaskClient, app: Flask, province: Province
) -> None:
    province_row = archived(province, app, "regions", "320000", "xlsx")
    wuxi_row = archived(province, app, "special-groups", "320200")
    school_row = archived(province, app, "programs", "S1", "csv")

    def listed(who: str) -> set[int]:
        response = client.get("/api/v1/reports/archive", headers=province.headers(who))
        assert response.status_code == 200, response.json
        assert response.json["total"] == len(response.json["items"])
        return {item["id"] for item in response.json["items"]}

    assert listed("province_admin") == listed("auditor") == {province_row.id, wuxi_row.id, school_row.id}
    assert listed("wuxi_admin") == {wuxi_row.id}
    assert listed("nanjing_admin") == listed("county_admin") == listed("officer_S1") == {school_row.id}
    assert listed("officer_S3") == set()
    filtered = client.get("/api/v1/reports/archive?kind=regions", headers=province.headers("auditor")).json
    assert [i["id"] for i in filtered["items"]] == [province_row.id]
    item = filtered["items"][0]
    assert (
        item["format"] == "xlsx"
        and item["content_hash"] == province_row.content_hash
        and "content" not in item
    )

    download = client.get(f"/api/v1/reports/archive/{wuxi_row.id}", headers=province.headers("wuxi_admin"))
    assert download.status_code == 200 and download.data == wuxi_row.content
    assert download.headers["X-Content-SHA256"] == hashlib.sha256(download.data).hexdigest()
    assert 'filename="special-groups_320200_2020-2021-autumn.json"' in download.headers["Content-Disposition"]
    assert len(events("report.downloaded")) == 1
    for who, row_id in (
        ("wuxi_admin", province_row.id),
        ("officer_S3", school_row.id),
        ("nanjing_admin", wuxi_row.id),
    ):
        response = client.get(f"/api/v1/reports/archive/{row_id}", headers=province.headers(who))
        assert response.status_code == 404 and response.mimetype == "application/problem+json"  # issue 16
    missing = client.get("/api/v1/reports/archive/99999", headers=province.headers("wuxi_admin"))
    assert missing.status_code == 404 and missing.json["detail"] == response.json["detail"]
    assert client.get(f"/api/v1/reports/archive/{wuxi_row.id}").status_code == 401
    client_token = client.get(
        f"/api/v1/reports/archive/{wuxi_row.id}", headers=province.headers("client_civil_affairs")
    )
    assert client_token.status_code == 403
