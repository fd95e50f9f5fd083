"""Background jobs without Redis (the in-process fallback): idempotent keys, progress, retry, scope, each kind."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from aidservice.extensions import db
from aidservice.jobs import kinds
from aidservice.services.determinations import region as bulk
from tests.world.factories import id_number
from tests.world.jobs import (
    AS_OF,
    Province,
    audit_actions,
    current_determinations,
    determinations,
    import_csv,
    job_row,
    make_province,
    post_import,
)

pytestmark = pytest.mark.databases


@pytest.fixture
def app_env() -> dict[str, str]:
    """Small chunks, so a run has several checkpoints to resume from."""
    return {"AID_REDETERMINE_CHUNK": "2", "AID_JOB_ATTEMPTS": "3"}


@pytest.fixture
def province(app: Flask) -> Province:
    return make_province()


def redetermine(client: FlaskClient, province: Province, who: str = "city_admin", **body: Any) -> Any:
    headers = province.headers(who)
    key = body.pop("header_key", None)
    if key is not None:
        headers["Idempotency-Key"] = key
    return client.post(
        "/api/v1/redeterminations", json={"region": "320100", "as_of": AS_OF, **body}, headers=headers
    )


def test_a_redetermination_runs_in_process_without_redis_and_reports_its_progress(
    client: FlaskClient, province: Province
) -> None:
    response = redetermine(client, province)
    assert response.status_code == 202, response.json
    job = response.json
    assert response.headers["Location"] == f"/api/v1/jobs/{job['id']}"
    assert job["kind"] == "redetermine" and job["state"] == "done", job
    assert job["progress"] == {"done": 6, "total": 6, "percent": 100}
    assert job["result"]["students"] == 6 and job["result"]["region"] == "320100"
    assert job["attempts"] == 1 and job["error"] is None
    nanjing = province.students["320102"] + province.students["320104"]
    assert current_determinations(nanjing) == 6
    assert current_determinations(province.students["320213"]) == 0  # Wuxi is outside the region
    assert client.get(job["url"], headers=province.headers("city_admin")).json == job
    assert audit_actions(f"job:{job['id']}") == ["job.enqueued", "job.done"]


@pytest.mark.parametrize("where", ["header", "body"])
def test_the_same_key_is_the_same_job_and_never_a_second_run(
    client: FlaskClient, province: Province, where: str
) -> None:
    send = {"header_key": "autumn-1"} if where == "header" else {"key": "autumn-1"}
    first = redetermine(client, province, **send)
    again = redetermine(client, province, **send)
    assert first.status_code == again.status_code == 202
    assert again.json["id"] == first.json["id"] and again.json["attempts"] == 1
    assert audit_actions(f"job:{first.json['id']}") == ["job.enqueued", "job.done"]
    assert determinations(province.students["320102"]) == 3  # stored once


def test_the_same_key_with_other_parameters_is_a_conflict(client: FlaskClient, province: Province) -> None:
    first = redetermine(client, province, key="k1")
    clash = redetermine(client, province, key="k1", region="320102")
    assert clash.status_code == 409 and clash.mimetype == "application/problem+json"
    assert f"#{first.json['id']}" in clash.json["detail"]


def test_keys_belong_to_their_requester(client: FlaskClient, province: Province) -> None:
    mine = redetermine(client, province, key="shared")
    theirs = redetermine(client, province, who="province_admin", key="shared")
    assert theirs.status_code == 202 and theirs.json["id"] != mine.json["id"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"key": "has space"}, "key"),
        ({"key": "x" * 81}, "key"),
        ({"region": "32"}, "region"),
        ({"as_of": "2020-13-01"}, "as_of"),
        ({"header_key": "a", "key": "b"}, "key"),
    ],
)
def test_bad_requests_are_refused_and_create_no_job(
    client: FlaskClient, province: Province, body: dict[str, Any], field: str
) -> None:
    response = redetermine(client, province, **body)
    assert response.status_code == 422, response.json
    assert field in response.json["errors"] or field in str(response.json["errors"])
    assert client.get("/api/v1/jobs", headers=province.headers("city_admin")).json["total"] == 0


@pytest.mark.parametrize(
    ("who", "region", "status"),
    [
        ("wuxi_admin", "320100", 403),
        ("county_admin", "320100", 403),
        ("officer_a", "320102", 403),
        ("auditor", "320100", 403),
        ("client", "320100", 403),
        ("county_admin", "320102", 202),
    ],
)
def test_only_administrators_redetermine_and_only_within_their_region(
    client: FlaskClient, province: Province, who: str, region: str, status: int
) -> None:
    assert redetermine(client, province, who=who, region=region).status_code == status


def test_a_failed_attempt_is_retried_and_resumes_after_the_last_checkpoint(
    client: FlaskClient, province: Province, monkeypatch: pytest.MonkeyPatch
) -> None:
    real, calls = bulk.read_chunk, []

    def flaky(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        if len(calls) == 2:  # the second chunk of the first attempt: the database went away
            raise ConnectionError("lost the database")
        return real(*args, **kwargs)

    monkeypatch.setattr(bulk, "read_chunk", flaky)
    job = redetermine(client, province).json
    assert job["state"] == "done" and job["attempts"] == 2, job
    assert job["result"]["resumed_after"] > 0  # the first chunk was kept and not done again
    assert job["result"]["students"] == 6 and job["progress"]["done"] == 6
    assert determinations(province.students["320102"] + province.students["320104"]) == 6


def test_a_job_that_keeps_failing_ends_failed_with_an_error_naming_no_person(
    client: FlaskClient, province: Province, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = id_number(1)

    def broken(*_args: Any, **_kwargs: Any) -> Any:
        raise RuntimeError(f"bad row for {secret}")

    monkeypatch.setattr(bulk, "read_chunk", broken)
    job = redetermine(client, province).json
    assert job["state"] == "failed" and job["attempts"] == 3
    assert "RuntimeError" in job["error"] and secret not in job["error"]
    assert audit_actions(f"job:{job['id']}") == ["job.enqueued", "job.failed"]
    assert current_determinations(province.students["320102"]) == 0


def test_a_job_cut_off_mid_run_is_resumed_by_the_sweep(
    app: Flask, client: FlaskClient, province: Province, monkeypatch: pytest.MonkeyPatch
) -> None:
    class Killed(BaseException):
        """Stands in for kill -9: nothing after it runs, not even the failure bookkeeping."""

    real, calls = bulk.read_chunk, []

    def dies(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        if len(calls) == 2:
            raise Killed
        return real(*args, **kwargs)

    monkeypatch.setattr(bulk, "read_chunk", dies)
    with pytest.raises(Killed):
        redetermine(client, province)
    db.session.rollback()
    [job] = client.get("/api/v1/jobs", headers=province.headers("city_admin")).json["items"]
    assert job["state"] == "running" and 0 < job["progress"]["done"] < 6
    monkeypatch.setattr(bulk, "read_chunk", real)
    result = app.test_cli_runner().invoke(args=["aid", "jobs", "resume", "--older-than", "0"])
    assert result.exit_code == 0, result.output
    assert f": {job['id']}" in result.output
    done = client.get(job["url"], headers=province.headers("city_admin")).json
    assert done["state"] == "done" and done["attempts"] == 2 and done["result"]["resumed_after"] > 0
    assert determinations(province.students["320102"] + province.students["320104"]) == 6


# ------------------------------------------------------------------------------------------ scope


@pytest.mark.parametrize(
    ("who", "visible"),
    [
        ("officer_a", True),
        ("officer_b", False),
        ("county_admin", True),
        ("other_county_admin", False),
        ("city_admin", True),
        ("wuxi_admin", False),
        ("province_admin", True),
        ("auditor", True),
    ],
)
def test_a_schools_job_is_seen_only_within_its_scope(
    client: FlaskClient, province: Province, who: str, visible: bool
) -> None:
    job = post_import(client, province, import_csv("N1")).json
    response = client.get(job["url"], headers=province.headers(who))
    assert response.status_code == (200 if visible else 404)
    listed = client.get("/api/v1/jobs", headers=province.headers(who)).json
    assert [j["id"] for j in listed["items"]] == ([job["id"]] if visible else [])


def test_agency_clients_have_no_jobs(client: FlaskClient, province: Province) -> None:
    assert client.get("/api/v1/jobs", headers=province.headers("client")).status_code == 403


def test_the_job_list_filters_by_kind_and_state(client: FlaskClient, province: Province) -> None:
    redetermine(client, province)
    post_import(client, province, import_csv("N1"), who="officer_a")
    headers = province.headers("province_admin")
    assert client.get("/api/v1/jobs?kind=roster.import", headers=headers).json["total"] == 1
    assert client.get("/api/v1/jobs?state=done", headers=headers).json["total"] == 2
    assert client.get("/api/v1/jobs?state=paused", headers=headers).status_code == 422


# ------------------------------------------------------------------------------------------ imports


def test_a_background_import_writes_the_students_and_keeps_no_upload(
    client: FlaskClient, province: Province
) -> None:
    response = post_import(client, province, import_csv("N1", "N2"))
    assert response.status_code == 202, response.json
    job = response.json
    assert job["kind"] == "roster.import" and job["state"] == "done"
    assert job["result"] == {"created": 2, "updated": 0, "unchanged": 0, "rejected": []}
    assert job["progress"] == {"done": 2, "total": 2, "percent": 100}
    assert client.get("/api/v1/students/N2", headers=province.headers("officer_a")).json["determination"]
    assert job_row(job["id"]).payload is None


def test_a_background_import_with_a_bad_row_fails_listing_it_and_writes_nothing(
    client: FlaskClient, province: Province
) -> None:
    job = post_import(client, province, import_csv("N1", "N2", bad_grade="99")).json
    assert job["state"] == "failed" and job["attempts"] == 1  # bad input is not retried
    assert "rows.2.grade" in job["result"]["errors"]
    assert client.get("/api/v1/students/N2", headers=province.headers("officer_a")).status_code == 404


def test_the_same_import_key_with_another_file_is_a_conflict(client: FlaskClient, province: Province) -> None:
    first = post_import(client, province, import_csv("N1"), **{"Idempotency-Key": "roster-1"})
    again = post_import(client, province, import_csv("N1"), **{"Idempotency-Key": "roster-1"})
    other = post_import(client, province, import_csv("N9"), **{"Idempotency-Key": "roster-1"})
    assert first.json["id"] == again.json["id"] and again.json["attempts"] == 1
    assert other.status_code == 409


def test_an_api_import_stays_synchronous_whatever_its_size_unless_the_client_asks_for_a_job(
    app: Flask, client: FlaskClient, province: Province
) -> None:
    content = import_csv("N1", "N2", "N3")
    app.config["AID_IMPORT_ASYNC_BYTES"] = 1  # the web UI's threshold; agencies' integrations expect 200
    assert post_import(client, province, content, query="").status_code == 200
    asked = post_import(
        client, province, import_csv("N4", seed=600), query="", Prefer="respond-async, wait=5"
    )
    assert asked.status_code == 202 and asked.json["kind"] == "roster.import", asked.json
    assert asked.json["state"] == "done", asked.json["error"]


# ------------------------------------------------------------------------------------------ reports


def test_a_report_job_archives_the_report_for_download(client: FlaskClient, province: Province) -> None:
    body = {"period": "2020-2021-autumn", "region": "320100", "format": "csv"}
    response = client.post("/api/v1/reports/programs/jobs", json=body, headers=province.headers("city_admin"))
    assert response.status_code == 202, response.json
    job = response.json
    assert job["state"] == "done" and job["result"]["reused"] is False, job
    download = client.get(job["result"]["download"], headers=province.headers("city_admin"))
    assert (
        download.status_code == 200 and download.headers["X-Content-SHA256"] == job["result"]["content_hash"]
    )
    assert client.get(job["result"]["download"], headers=province.headers("wuxi_admin")).status_code == 404
    again = client.post(
        "/api/v1/reports/programs/jobs", json=body, headers=province.headers("city_admin")
    ).json
    assert again["result"]["archive_id"] == job["result"]["archive_id"] and again["result"]["reused"] is True


@pytest.mark.parametrize(
    ("kind", "body", "who", "status"),
    [
        ("nonsense", {}, "city_admin", 404),
        ("programs", {"period": "someday"}, "city_admin", 422),
        ("programs", {"format": "pdf"}, "city_admin", 422),
        ("programs", {"region": "320200"}, "city_admin", 403),
        ("programs", {"region": "B"}, "officer_a", 403),
    ],
)
def test_bad_report_jobs_are_refused_before_any_job_exists(
    client: FlaskClient, province: Province, kind: str, body: dict[str, Any], who: str, status: int
) -> None:
    body = {"period": "2020-2021-autumn", **body}
    response = client.post(f"/api/v1/reports/{kind}/jobs", json=body, headers=province.headers(who))
    assert response.status_code == status, response.json
    assert client.get("/api/v1/jobs", headers=province.headers("province_admin")).json["total"] == 0


def test_every_kind_has_a_handler() -> None:
    assert set(kinds.HANDLERS) == {kinds.REDETERMINE, kinds.IMPORT, kinds.REPORT, kinds.WHATIF, kinds.VERIFY}


# ------------------------------------------------------------------------------------------ manual retry


def test_a_failed_job_can_be_retried_and_resumes_from_its_cursor(
    client: FlaskClient, province: Province, monkeypatch: pytest.MonkeyPatch
) -> None:
    real, calls = bulk.read_chunk, []

    def fails_after_one_chunk(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        if len(calls) > 1:
            raise ConnectionError("database gone for a while")
        return real(*args, **kwargs)

    monkeypatch.setattr(bulk, "read_chunk", fails_after_one_chunk)
    job = redetermine(client, province).json
    assert job["state"] == "failed" and job["attempts"] == 3
    monkeypatch.setattr(bulk, "read_chunk", real)
    assert client.post(job["url"] + "/retry", headers=province.headers("auditor")).status_code == 403
    assert client.post(job["url"] + "/retry", headers=province.headers("wuxi_admin")).status_code == 404
    retried = client.post(job["url"] + "/retry", headers=province.headers("city_admin"))
    assert retried.status_code == 202 and retried.headers["Location"] == job["url"]
    done = retried.json
    assert done["state"] == "done" and done["attempts"] == 1 and done["error"] is None
    assert done["result"]["resumed_after"] > 0 and done["result"]["students"] == 6
    assert audit_actions(f"job:{job['id']}") == ["job.enqueued", "job.failed", "job.retried", "job.done"]
    again = client.post(job["url"] + "/retry", headers=province.headers("city_admin"))
    assert again.status_code == 409 and "only a failed job" in again.json["detail"]
