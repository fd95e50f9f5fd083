"""Report requests: bad input, access, empty periods, audit, regeneration from history (as_of), the CLI."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from openpyxl import load_workbook

from aidservice.extensions import db
from aidservice.models import AuditEvent
from aidservice.services.actors import Actor
from aidservice.services.applications.quotas import put_quota
from tests.world.factories import id_number
from tests.world.reports import (
    YEAR,
    Province,
    as_json,
    csv_sections,
    province_fixture,  # noqa: F401 - fixture "province"
    rec,
    rows_by,
    settings_for,
)

pytestmark = pytest.mark.databases
KINDS = ("special-groups", "programs", "regions")
PROBLEM = "application/problem+json"


def get(
    client: FlaskClient,
    province: Province,
    kind: str = "special-groups",
    who: str = "province_admin",
    **query: str,
):  # type: ignore[no-untyped-def]
    params = {"period": "2020-2021-autumn", **query}
    return client.get(f"/api/v1/reports/{kind}", query_string=params, headers=province.headers(who))


def problem(response, status: int) -> dict:  # type: ignore[no-untyped-def]
    assert response.status_code == status, response.data[:500]
    assert response.mimetype == PROBLEM
    return response.json


# ------------------------------------------------------------------------------------------ bad input


def test_an_unknown_kind_is_404(client: FlaskClient, province: Province) -> None:
    body = problem(get(client, province, "coverage"), 404)
    assert body["type"].endswith("/not-found") and "special-groups" in body["detail"]
    problem(get(client, province, "coverage", period="nonsense"), 404)  # the kind is checked first


def test_unknown_format_malformed_period_and_future_as_of_are_422_naming_the_field(
    client: FlaskClient, province: Province
) -> None:
    assert list(problem(get(client, province, format="pdf"), 422)["errors"]) == ["format"]
    for bad in ("2020", "2020-2021-winter", "2020-09-01..2020-08-01", "2020-08-01..2020-09-30", ""):
        body = problem(get(client, province, period=bad), 422)
        assert list(body["errors"]) == ["period"], bad
    missing = client.get("/api/v1/reports/regions", headers=province.headers("province_admin"))
    assert list(problem(missing, 422)["errors"]) == ["period"]
    both = problem(get(client, province, period="autumn", format="docx"), 422)
    assert set(both["errors"]) == {"period", "format"}
    assert list(problem(get(client, province, as_of="2999-01-01"), 422)["errors"]) == ["as_of"]
    assert list(problem(get(client, province, as_of="last week"), 422)["errors"]) == ["as_of"]
    assert list(problem(get(client, province, region="999999"), 422)["errors"]) == ["region"]


@pytest.mark.parametrize(
    ("who", "region"),
    [
        ("wuxi_admin", "320100"),
        ("wuxi_admin", "320000"),
        ("nanjing_admin", "320213"),
        ("nanjing_admin", "S3"),
        ("county_admin", "320100"),
        ("county_admin", "320104"),
        ("officer_S1", "S3"),
        ("officer_S1", "320102"),
        ("officer_S1", "320000"),
    ],
)
def test_a_region_outside_the_callers_scope_is_403(
    client: FlaskClient, province: Province, who: str, region: str
) -> None:
    for kind in KINDS:
        body = problem(get(client, province, kind, who, region=region), 403)
        assert body["type"].endswith("/forbidden")


def test_agency_tokens_are_403_and_anonymous_callers_401(client: FlaskClient, province: Province) -> None:
    for kind in KINDS:
        problem(get(client, province, kind, "client_civil_affairs"), 403)
        problem(get(client, province, kind, "nobody"), 401)
        bad = client.get(f"/api/v1/reports/{kind}?period=2020-2021", headers={"Authorization": "Bearer nope"})
        problem(bad, 401)
    problem(client.get("/api/v1/reports/archive", headers=province.headers("client_civil_affairs")), 403)
    problem(client.get("/api/v1/reports/archive"), 401)


def test_a_period_with_no_data_is_an_empty_report_that_says_so(
    client: FlaskClient, province: Province
) -> None:
    for kind in KINDS:
        report = as_json(get(client, province, kind, period="2015-2016").data)
        assert report["empty"] is True and "本报告为空" in report["message"], kind
        assert report["period"]["school_year"] == "2015-2016"
        for fmt in ("csv", "xlsx", "html"):
            response = get(client, province, kind, period="2015-2016", format=fmt)
            assert response.status_code == 200 and response.data, (
                kind,
                fmt,
            )  # read it: the stream holds the request
        record = dict(
            row[:2]
            for row in csv_sections(get(client, province, kind, period="2015-2016", format="csv").data)[""]
        )
        assert "本报告为空" in record["说明"]
        assert 'class="empty"' in get(client, province, kind, period="2015-2016", format="html").data.decode()
    special = as_json(get(client, province, period="2015-2016").data)
    assert special["sections"]["unaided"]["rows"] == []
    assert rows_by(special["sections"]["groups"], "group", "stage")[("any", "all")]["students"] == 0


def test_each_report_is_audited_without_personal_data(client: FlaskClient, province: Province) -> None:
    get(client, province, "special-groups", format="csv", region="320100")
    (event,) = db.session.execute(
        sa.select(AuditEvent).where(AuditEvent.action == "report.generated")
    ).scalars()
    assert event.subject == "report:special-groups/320100/2020-2021-autumn"
    assert event.actor == "user:province_admin-320000"
    assert set(event.summary) == {"kind", "period", "region", "as_of", "format", "feed_watermark"}
    assert "学生" not in json.dumps(event.summary, ensure_ascii=False)


# --------------------------------------------------------------------------------------- reproducible


def _sections(report: dict) -> dict:
    return report["sections"]


def test_regenerating_as_of_a_past_time_gives_the_same_numbers(
    client: FlaskClient, province: Province, app: Flask
) -> None:
    first = {kind: as_json(get(client, province, kind, period="2020-2021").data) for kind in KINDS}
    as_of = first["special-groups"]["as_of"]
    # afterwards: REVIEW is approved, NOAPP's orphan record ends before the year, the quota at S1 grows
    province.approve("REVIEW", "S1")
    province.agency("civil_affairs", [rec(id_number(102), "orphan", valid_to="2020-08-01")])
    put_quota(
        db.session,
        actor=Actor.system("test"),
        settings=settings_for(app),
        school_code="S1",
        program="compulsory_living_subsidy",
        school_year=YEAR,
        places=5,
    )
    db.session.commit()
    now = as_json(get(client, province, period="2020-2021").data)
    outcomes = {r["student_id"]: r["reason"] for r in now["sections"]["unaided"]["rows"] if r["student_id"]}
    assert outcomes == {"ST-REJECT": "rejected", "ST-CONFLICT": "data_conflict", "ST-NOAWARD": "no_award"}
    assert now["feed_watermark"] != first["special-groups"]["feed_watermark"]
    for kind in KINDS:
        again = as_json(get(client, province, kind, period="2020-2021", as_of=as_of).data)
        assert _sections(again) == _sections(first[kind]), kind
        assert again["as_of"] == as_of and again["feed_watermark"] == first[kind]["feed_watermark"]
        assert again["rule_set_versions"] == first[kind]["rule_set_versions"]
    later = as_json(get(client, province, "programs", period="2020-2021").data)
    assert (
        rows_by(later["sections"]["programs"], "program", "stage")[("compulsory_living_subsidy", "all")][
            "recipients"
        ]
        == 4
    )  # AIDED, PLAIN, REVIEW and QUOTA (now within the quota)
    again_csv = get(client, province, "regions", period="2020-2021", as_of=as_of, format="csv").data
    assert again_csv == get(client, province, "regions", period="2020-2021", as_of=as_of, format="csv").data


def test_the_report_as_of_before_anything_happened_is_empty(client: FlaskClient, province: Province) -> None:
    report = as_json(get(client, province, as_of="2020-01-01T00:00:00+08:00").data)
    assert report["empty"] is True and report["feed_watermark"] == []
    assert report["as_of"] == "2019-12-31T16:00:00.000000+00:00"


# ------------------------------------------------------------------------------------------------ CLI


def test_every_kind_in_every_format_from_the_command_line(
    app: Flask, province: Province, tmp_path: Path, client: FlaskClient
) -> None:
    runner = app.test_cli_runner()
    for kind in KINDS:
        for fmt in ("json", "csv", "xlsx", "html"):
            out = tmp_path / f"{kind}.{fmt}"
            result = runner.invoke(
                args=[
                    "aid",
                    "report",
                    kind,
                    "--period",
                    "2020-2021-autumn",
                    "--format",
                    fmt,
                    "--output",
                    str(out),
                ]
            )
            assert result.exit_code == 0, result.output
            data = out.read_bytes()
            if fmt == "json":
                api = as_json(get(client, province, kind).data)
                assert _sections(as_json(data)) == _sections(api)
            elif fmt == "csv":
                assert data.startswith("\ufeff".encode())
            elif fmt == "xlsx":
                assert load_workbook(io.BytesIO(data)).sheetnames[0] == "说明"
            else:
                assert b"<svg" in data
    assert list(tmp_path.glob(".*.part")) == []
    wuxi = tmp_path / "wuxi.json"
    result = runner.invoke(
        args=[
            "aid",
            "report",
            "regions",
            "--period",
            "2020-2021",
            "--region",
            "320200",
            "--format",
            "json",
            "--output",
            str(wuxi),
            "--as-of",
            "2020-06-01",
        ]
    )
    assert result.exit_code == 0, result.output
    assert as_json(wuxi.read_bytes())["region"]["code"] == "320200" and as_json(wuxi.read_bytes())["empty"]


def test_bad_input_on_the_command_line(app: Flask, province: Province, tmp_path: Path) -> None:
    runner = app.test_cli_runner()
    out = tmp_path / "r.json"
    unknown = runner.invoke(
        args=["aid", "report", "coverage", "--period", "2020-2021", "--format", "json", "--output", str(out)]
    )
    assert unknown.exit_code == 2 and "No such command" in unknown.output
    bad_format = runner.invoke(
        args=["aid", "report", "regions", "--period", "2020-2021", "--format", "pdf", "--output", str(out)]
    )
    assert bad_format.exit_code == 2
    bad_period = runner.invoke(
        args=["aid", "report", "regions", "--period", "2020-21", "--format", "json", "--output", str(out)]
    )
    assert bad_period.exit_code == 1 and "period" in bad_period.output
    bad_region = runner.invoke(
        args=[
            "aid",
            "report",
            "regions",
            "--period",
            "2020-2021",
            "--region",
            "X9",
            "--format",
            "json",
            "--output",
            str(out),
        ]
    )
    assert bad_region.exit_code == 1 and "region" in bad_region.output
    assert not out.exists()
