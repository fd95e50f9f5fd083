"""What-if as an API job (`POST /api/v1/whatif`, `/whatif/upload`, `GET /whatif/<job>/xlsx`): a server draft
or an uploaded ZIP against the running rules, run in-process, the workbook read back with openpyxl."""

from __future__ import annotations

import io
import shutil
import zipfile
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from openpyxl import load_workbook

from aidservice.extensions import db
from aidservice.models import JobFile
from tests.unit.services.determinations.test_redetermine import province
from tests.world.factories import bearer, make_client, make_user

pytestmark = pytest.mark.databases
__all__ = ["province"]  # twelve students: Nanjing 320102 and Xuzhou 320302, with agency statuses
AS_OF = "2020-09-01"


@pytest.fixture
def app_env(tmp_path: Path) -> dict[str, str]:
    return {
        "AID_DRAFT_RULES_DIR": str(tmp_path / "drafts"),
        "AID_WHATIF_FILE": str(tmp_path / "whatif-last.json"),
        "AID_WHATIF_ZIP_MAX_BYTES": "200000",
    }


@pytest.fixture
def tokens(app: Flask, province: list[int]) -> dict[str, str]:
    session = db.session
    found = {
        "province_admin": make_user(session, "province_admin", region_code="320000")[1],
        "city_admin": make_user(session, "city_admin", region_code="320100")[1],
        "county_admin": make_user(session, "county_admin", region_code="320102")[1],
        "xuzhou_admin": make_user(session, "city_admin", username="xuzhou", region_code="320300")[1],
        "officer": make_user(session, "school_officer", school_code="3201020001")[1],
        "auditor": make_user(session, "auditor")[1],
        "client": make_client(session, "civil_affairs"),
    }
    session.commit()
    return found


@pytest.fixture
def raise_draft(app: Flask, rules_copy: Path) -> Path:
    """A draft on the server, `raise`: the compulsory living subsidy's 2000 becomes 2200."""
    path = rules_copy / "parameters" / "basic_education.yaml"
    path.write_text(
        path.read_text(encoding="utf-8").replace("values: {2018-09-01: 2000}", "values: {2018-09-01: 2200}"),
        encoding="utf-8",
    )
    target = Path(app.config["AID_DRAFT_RULES_DIR"]) / "raise"
    shutil.copytree(rules_copy, target)
    return target


def zipped(folder: Path, prefix: str = "", extra: dict[str, bytes] | None = None) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(folder.rglob("*.yaml")):
            archive.write(path, prefix + path.relative_to(folder).as_posix())
        for name, data in (extra or {}).items():
            archive.writestr(name, data)
    return out.getvalue()


def post(client: FlaskClient, token: str, **body: Any) -> Any:
    return client.post("/api/v1/whatif", json={"as_of": AS_OF, **body}, headers=bearer(token))


def upload(client: FlaskClient, token: str, data: bytes, **form: str) -> Any:
    return client.post(
        "/api/v1/whatif/upload",
        data={"file": (io.BytesIO(data), "draft.zip"), "as_of": AS_OF, **form},
        headers=bearer(token),
        content_type="multipart/form-data",
    )


def workbook(content: bytes) -> dict[str, list[list[Any]]]:
    book = load_workbook(io.BytesIO(content), read_only=True)
    return {name: [list(r) for r in book[name].iter_rows(values_only=True)] for name in book.sheetnames}


def test_a_server_draft_runs_as_a_job_and_its_workbook_lists_the_masked_students_and_deltas(
    client: FlaskClient, tokens: dict[str, str], raise_draft: Path
) -> None:
    listed = client.get("/api/v1/whatif/drafts", headers=bearer(tokens["city_admin"]))
    assert [d["name"] for d in listed.json["items"]] == ["raise"]
    response = post(client, tokens["city_admin"], draft="raise", region="320100", key="trial-1")
    assert response.status_code == 202, response.json
    job = response.json
    assert job["kind"] == "whatif" and job["state"] == "done", job
    result = job["result"]
    assert result["diff"]["students_gaining"] == 1 and result["diff"]["total_delta"] == "200.00"
    assert result["by_region"]["320102"]["money_delta"] == {"compulsory_living_subsidy": "200.00"}
    assert result["rules_dir_name"] == "raise" and not result["no_change"]
    assert "S02" not in str(result)  # the job's result names no student
    again = post(client, tokens["city_admin"], draft="raise", region="320100", key="trial-1")
    assert again.json["id"] == job["id"]  # the same key: the same job
    xlsx = client.get(result["download"], headers=bearer(tokens["city_admin"]))
    assert xlsx.status_code == 200 and xlsx.mimetype.endswith("spreadsheetml.sheet")
    assert "attachment" in xlsx.headers["Content-Disposition"]
    sheets = workbook(xlsx.data)
    header, *students = sheets["变化学生"]
    assert header[:9] == [
        "学号",
        "身份证号（脱敏）",
        "学校",
        "地区",
        "原认定等级",
        "新认定等级",
        "原资助合计",
        "新资助合计",
        "变化",
    ]
    (student,) = students
    assert student[0] == "S02" and student[1][:6].isdigit() and "*" in student[1] and student[8] == 200
    assert "320102" in student[3]
    summary = {row[0]: row[1] for row in sheets["汇总"] if row and row[0]}
    assert summary["资助增加的学生"] == 1


@pytest.mark.parametrize(
    ("who", "region", "status"),
    [
        ("province_admin", "320000", 202),
        ("city_admin", "320100", 202),
        ("city_admin", "320300", 403),
        ("county_admin", "320102", 202),
        ("county_admin", "320100", 403),
        ("xuzhou_admin", "320100", 403),
        ("officer", "320102", 403),
        ("auditor", "320000", 403),
        ("client", "320000", 403),
    ],
)
def test_only_administrators_run_a_whatif_and_only_within_their_region(
    client: FlaskClient, tokens: dict[str, str], who: str, region: str, status: int
) -> None:
    response = post(client, tokens[who], region=region)
    assert response.status_code == status, response.json
    if status != 202:
        assert response.mimetype == "application/problem+json"


@pytest.mark.parametrize(
    ("who", "status"),
    [
        ("city_admin", 200),
        ("province_admin", 200),
        ("auditor", 200),
        ("county_admin", 404),  # the job covers the whole city: not within a county's scope
        ("xuzhou_admin", 404),
        ("officer", 403),
        ("client", 403),
    ],
)
def test_the_workbook_is_for_administrators_over_the_region_and_auditors(
    client: FlaskClient, tokens: dict[str, str], raise_draft: Path, who: str, status: int
) -> None:
    job = post(client, tokens["city_admin"], draft="raise", region="320100").json
    response = client.get(f"/api/v1/whatif/{job['id']}/xlsx", headers=bearer(tokens[who]))
    assert response.status_code == status


def test_no_draft_is_no_change_and_an_uploaded_copy_of_the_running_rules_too(
    client: FlaskClient, tokens: dict[str, str], rules_copy: Path
) -> None:
    plain = post(client, tokens["province_admin"]).json
    assert plain["state"] == "done" and plain["result"]["no_change"] and not plain["result"]["draft"]
    assert plain["result"]["diff"]["students_changing"] == 0
    same = upload(client, tokens["province_admin"], zipped(rules_copy, prefix="rules/"))
    assert same.status_code == 202, same.json
    assert same.json["result"]["no_change"] and same.json["result"]["rules_dir_name"] == "draft.zip"
    assert db.session.get(JobFile, same.json["id"]) is not None
    sheets = workbook(client.get(same.json["result"]["download"], headers=bearer(tokens["auditor"])).data)
    assert len(sheets["变化学生"]) == 1


def test_an_uploaded_draft_that_does_not_load_is_a_problem_listing_the_rule_issues(
    client: FlaskClient, tokens: dict[str, str], broken_rules: Path
) -> None:
    response = upload(client, tokens["city_admin"], zipped(broken_rules), region="320100")
    assert response.status_code == 422 and response.mimetype == "application/problem+json"
    issues = response.json["errors"]["file"]
    assert any(line.startswith("zz_broken.yaml:2") for line in issues), issues
    assert not any("aid-draft-" in line for line in issues)  # no server path in the answer
    assert client.get("/api/v1/jobs", headers=bearer(tokens["city_admin"])).json["total"] == 0


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"../evil.yaml": b"a: 1"}, "outside its folder"),
        ({"/etc/evil.yaml": b"a: 1"}, "absolute"),
        ({"run.sh": b"echo"}, "not YAML"),
        ({"a/b/c/d/e.yaml": b"a: 1"}, "folders deep"),
    ],
)
def test_an_unsafe_archive_is_refused_before_anything_is_written(
    client: FlaskClient, tokens: dict[str, str], rules_copy: Path, extra: dict[str, bytes], message: str
) -> None:
    response = upload(client, tokens["city_admin"], zipped(rules_copy, extra=extra), region="320100")
    assert response.status_code == 422 and message in str(response.json["errors"]["file"]), response.json


def test_an_archive_over_the_size_bound_is_413_and_not_a_zip_is_422(
    client: FlaskClient, tokens: dict[str, str]
) -> None:
    assert upload(client, tokens["city_admin"], b"x" * 200_001).status_code == 413
    refused = upload(client, tokens["city_admin"], b"not a zip")
    assert refused.status_code == 422 and "not a ZIP" in str(refused.json["errors"])


def test_a_date_outside_the_draft_coverage_names_as_of_and_an_unknown_draft_is_404(
    client: FlaskClient, tokens: dict[str, str], raise_draft: Path
) -> None:
    coverage = raise_draft / "coverage.yaml"
    coverage.write_text(coverage.read_text(encoding="utf-8").replace("2021-08-31", "2020-08-31"), "utf-8")
    outside = post(client, tokens["city_admin"], draft="raise", region="320100")
    assert outside.status_code == 422 and "as_of" in outside.json["errors"]
    assert post(client, tokens["city_admin"], draft="nothing", region="320100").status_code == 404
    bad_name = post(client, tokens["city_admin"], draft="../raise", region="320100")
    assert bad_name.status_code == 422 and "draft" in bad_name.json["errors"]
