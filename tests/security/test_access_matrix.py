"""The access matrix (issue 7): every API route and UI page, called as every role, against ONE table of outcomes.

Each row of `MATRIX` is a (rule, method) of the app's URL map, a concrete request for it, and the status each
role gets. `test_every_route_has_a_row` fails when a route is added without a row. Denied calls (401, 403,
404, and the UI's redirect to the login page) are checked to change nothing in the database; every call runs
inside a savepoint rolled back afterwards, so the cells do not depend on each other.

Roles: anonymous; the aid officers of school A (Nanjing, 玄武区) and school B (Wuxi, 梁溪区); the county and
city administrators over school A, the city administrator over school B, the province administrator; the
auditor; one agency client per source; a revoked session (province administrator) and an expired one
(officer of school A); a revoked agency token (civil affairs) and an expired one (poverty alleviation). API calls carry only the bearer token; UI calls carry only the session cookie (agency
clients have no UI login: they call the UI with their bearer token, which the UI ignores).
"""

from __future__ import annotations

import hashlib
import io
import secrets
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from flask import Flask, g
from flask.testing import FlaskClient
from itsdangerous import URLSafeTimedSerializer
from sqlalchemy import select, update

from aidservice import create_app, wiring
from aidservice.extensions import db
from aidservice.models import Base, Determination, School, Student
from tests.conftest import _bind_session_to, make_config
from tests.world import security as mw
from tests.world import web as w

pytestmark = pytest.mark.databases

ROLES = mw.ROLES
USERS = tuple(mw.USERS)
AGENCIES = SOURCES = mw.SOURCES
NO_LOGIN = dict.fromkeys(("anonymous", "revoked", "expired", "revoked_client", "expired_client"), 401)

S1_READERS = {"officer_a", "county_a", "city_a", "province", "auditor"}
S1_ADMINS = {"county_a", "city_a", "province"}
S1_WRITERS = {"officer_a", *S1_ADMINS}
COUNTY_A_READERS = S1_READERS - {"officer_a"}
EVERY_ADMIN = {"county_a", "city_a", "city_b", "province"}
ANY_WRITER = {"officer_a", "officer_b", "county_a", "city_a", "city_b", "province"}
NO_SESSION = (*NO_LOGIN, *SOURCES)
TRAIL_READERS = {"province", "auditor"}


def outcomes(default: int, **by_role: int) -> dict[str, int]:
    """The status of every role: `default` unless named (keyword names are roles)."""
    unknown = set(by_role) - set(ROLES)
    assert not unknown, unknown
    return {role: by_role.get(role, default) for role in ROLES}


def public(status: int = 200) -> dict[str, int]:
    """Everyone, signed in or not (health, rules, documentation, sign-in)."""
    return outcomes(status)


def api_users(allowed: set[str] | tuple[str, ...], ok: int = 200, denied: int = 403) -> dict[str, int]:
    """A user-only API route: 401 without a valid token, 403 for agency clients and users outside `allowed`."""
    return {**outcomes(denied, **dict.fromkeys(allowed, ok)), **NO_LOGIN}


def api_agency(source: str, ok: int = 200) -> dict[str, int]:
    """An agency route of one source: that source's client only."""
    return {**outcomes(403, **{source: ok}), **NO_LOGIN}


def api_scoped(allowed: set[str] | tuple[str, ...], ok: int = 200) -> dict[str, int]:
    """A user-only API route naming one record: outside the scope it does not exist (404, issue 16); agency
    clients may not use the route at all (403, whatever the id)."""
    return {**api_users(allowed, ok, denied=404), **dict.fromkeys(AGENCIES, 403)}


def ui(allowed: set[str] | tuple[str, ...], ok: int = 200, denied: int = 403) -> dict[str, int]:
    """A UI page: without a valid session (agency clients too), a redirect to the login page."""
    return {**outcomes(denied, **dict.fromkeys(allowed, ok)), **dict.fromkeys(NO_SESSION, 302)}


@dataclass(frozen=True)
class Row:
    """One (rule, method) of the URL map, the request that exercises it, and each role's status."""

    rule: str
    method: str
    path: str
    expected: dict[str, int]
    json: Any = None
    data: dict[str, Any] | None = None
    files: dict[str, tuple[bytes, str]] = field(default_factory=dict)
    why: str = ""
    audited: bool = False
    """A denied call is itself recorded (audit event, lookup budget): only RECORD_TABLES may change."""

    @property
    def key(self) -> tuple[str, str]:
        return self.rule, self.method

    @property
    def is_api(self) -> bool:
        return self.rule.startswith("/api/")


SCHOOL_A = {
    "name": "南京市玄武区第一中学",
    "region_code": "320102",
    "stages": ["junior"],
    "kind": "public",
    "inclusive_kindergarten": False,
    "tuition_fee": None,
    "central_university": False,
}
CSV_ROW = (
    "student_id,id_number,name,school_code,class_name,stage,grade,boarding,rural_hukou\r\n"
    "S1-009,{number},新同学,3201020001,初一(2)班,junior,1,false,false\r\n"
)
FEED = {"batch_id": "matrix-new", "records": []}
PERIOD = "period=2020-2021-autumn&region=320102"
ALL = ROLES
EVERY_USER = set(USERS)

MATRIX: tuple[Row, ...] = (
    # ---------------------------------------------------------------- public API
    Row("/api/v1/health", "GET", "/api/v1/health", public(), why="load balancers ask it without a token"),
    Row("/api/v1/health/live", "GET", "/api/v1/health/live", public(), why="liveness probe, no token"),
    Row("/api/v1/health/ready", "GET", "/api/v1/health/ready", public(), why="readiness probe, no token"),
    Row("/health/live", "GET", "/health/live", public(), why="load balancers' liveness probe, no token"),
    Row("/health/ready", "GET", "/health/ready", public(), why="load balancers' readiness probe, no token"),
    Row(
        "/metrics",
        "GET",
        "/metrics",
        public(),
        why="the test client is 127.0.0.1; remote callers: tests/metrics",
    ),
    Row("/api/v1/openapi.json", "GET", "/api/v1/openapi.json", public(), why="the interface, not data"),
    Row("/api/v1/docs", "GET", "/api/v1/docs", public()),
    Row("/api/v1/docs/assets/<path:filename>", "GET", "/api/v1/docs/assets/index.css", public()),
    Row("/api/v1/rules", "GET", "/api/v1/rules", public(), why="the published policy"),
    Row(
        "/api/v1/evaluate",
        "POST",
        "/api/v1/evaluate",
        public(),
        json={"as_of": "2020-09-01", "facts": {"stage": "junior", "grade": 2}},
        why="stateless: the caller's own facts",
    ),
    Row(
        "/api/v1/auth/login",
        "POST",
        "/api/v1/auth/login",
        public(),
        json={"username": "officer1", "password": w.PASSWORD},
        why="a bearer token is neither needed nor used",
    ),
    Row("/api/v1/auth/logout", "POST", "/api/v1/auth/logout", api_users(EVERY_USER, 204)),
    # ---------------------------------------------------------------- roster
    Row("/api/v1/schools/<code>", "PUT", f"/api/v1/schools/{w.S1}", api_users(S1_ADMINS), json=SCHOOL_A),
    Row(
        "/api/v1/students/<student_id>",
        "PUT",
        "/api/v1/students/S1-005",
        api_users(S1_WRITERS),
        json="student",
    ),
    Row("/api/v1/students/<student_id>", "GET", "/api/v1/students/S1-001", api_scoped(S1_READERS)),
    Row(
        "/api/v1/students/<student_id>/id-number",
        "POST",
        "/api/v1/students/S1-001/id-number",
        api_users({"officer_a"}),
        why="the full number: only the aid officer of the student's school (audited)",
    ),
    Row(
        "/api/v1/students/import",
        "POST",
        "/api/v1/students/import",
        {**api_users(S1_WRITERS), "officer_b": 422, "city_b": 422},
        files={"file": (b"csv", "students.csv")},
        why="a writer elsewhere may import, but a row of another school is refused by row (422), nothing written",
    ),
    Row(
        "/api/v1/students/import/template",
        "GET",
        "/api/v1/students/import/template",
        api_users(ANY_WRITER),
        why="the blank template: any school officer or administrator",
    ),
    # ---------------------------------------------------------------- applications, decisions, quotas, notices
    Row(
        "/api/v1/applications",
        "POST",
        "/api/v1/applications",
        {**api_users({"officer_a"}, 201), "officer_b": 404},
        json={
            "student_id": "S1-003",
            "school_year": w.YEAR,
            "commitment_signed": True,
            "declared": {"household_size": 3, "per_capita_income": "6000.00"},
        },
    ),
    Row(
        "/api/v1/applications",
        "GET",
        "/api/v1/applications",
        api_users(EVERY_USER),
        why="each user gets the applications in their scope",
    ),
    Row(
        "/api/v1/students",
        "GET",
        "/api/v1/students",
        api_users(EVERY_USER),
        why="each user gets the students in their scope (masked numbers); format=csv|xlsx the same rows",
    ),
    Row(
        "/api/v1/applications/<int:application_id>",
        "GET",
        "/api/v1/applications/{approved}",
        api_scoped(S1_READERS),
    ),
    Row(
        "/api/v1/applications/<int:application_id>/actions",
        "POST",
        "/api/v1/applications/{submitted}/actions",
        {**api_users({"officer_a"}), "officer_b": 404},
        json={"action": "review", "version": "{submitted_version}"},
        why="only officers act (403 for the other roles, whatever the id); another school's officer: not found",
    ),
    Row(
        "/api/v1/applications/actions",
        "POST",
        "/api/v1/applications/actions",
        api_users({"officer_a", "officer_b"}),
        json={"action": "review", "items": [{"id": "{submitted}", "version": "{submitted_version}"}]},
        why="only officers act in batch (403 for the other roles); another school's officer gets 200 with the "
        "item refused as not found, nothing written",
    ),
    Row(
        "/api/v1/applications/<int:application_id>/declarations/<int:declaration_id>/verify",
        "POST",
        "/api/v1/applications/{submitted}/declarations/{declaration}/verify",
        {**api_users({"officer_a"}, ok=409), "officer_b": 404},
        json={"result": "verified", "version": "{submitted_version}"},
        why="only the school's officer verifies; the world's declaration was rejected already (409 for them)",
    ),
    Row(
        "/api/v1/decisions",
        "GET",
        "/api/v1/decisions?student_id=S1-001",
        api_scoped(S1_READERS),
        why="the student_id names one record: outside the scope it does not exist",
    ),
    Row(
        "/api/v1/decisions/<int:decision_id>/replay",
        "POST",
        "/api/v1/decisions/{decision}/replay",
        api_scoped(S1_READERS),
    ),
    Row(
        "/api/v1/quotas/<school_code>/<program>/<school_year>",
        "PUT",
        f"/api/v1/quotas/{w.S1}/{mw.QUOTA_PROGRAM}/{w.YEAR}",
        {**api_users(S1_ADMINS), "city_b": 404},
        json={"places": 4},
        why="a non-administrator is refused the route (403); another region's quota is 404",
    ),
    Row(
        "/api/v1/quotas/<school_code>/<program>/<school_year>",
        "GET",
        f"/api/v1/quotas/{w.S1}/{mw.QUOTA_PROGRAM}/{w.YEAR}",
        api_scoped(S1_READERS),
    ),
    Row(
        "/api/v1/quotas/guide",
        "GET",
        f"/api/v1/quotas/guide?region=320102&school_year={w.YEAR}",
        api_users(COUNTY_A_READERS),
        why="guide ratios and proposed places are for administrators (and auditors) over the county",
    ),
    Row("/api/v1/schools/<code>/notices", "GET", f"/api/v1/schools/{w.S1}/notices", api_users(S1_READERS)),
    Row(
        "/api/v1/schools/<code>/notices/<int:notice_id>",
        "GET",
        f"/api/v1/schools/{w.S1}/notices/{{notice}}",
        api_scoped(S1_READERS),
    ),
    Row(
        "/api/v1/schools/<code>/notices/<int:notice_id>/revisions/<int:number>",
        "GET",
        f"/api/v1/schools/{w.S1}/notices/{{notice}}/revisions/1",
        api_scoped(S1_READERS),
    ),
    Row(
        "/api/v1/schools/<code>/notice-settings",
        "GET",
        f"/api/v1/schools/{w.S1}/notice-settings",
        api_scoped(S1_READERS),
    ),
    Row(
        "/api/v1/schools/<code>/notice-settings",
        "PUT",
        f"/api/v1/schools/{w.S1}/notice-settings",
        {**api_scoped(S1_WRITERS), "auditor": 403},
        json={"contact_phone": "025-83456789", "signoff": "学生资助工作领导小组"},
        why="the school's officer and the administrators of its region; the auditor reads only",
    ),
    # ---------------------------------------------------------------- reports, audit
    Row(
        "/api/v1/reports/<kind>",
        "GET",
        f"/api/v1/reports/programs?{PERIOD}",
        api_users(COUNTY_A_READERS),
        why="an officer's reports cover the school, not its county",
    ),
    Row("/api/v1/reports/archive", "GET", "/api/v1/reports/archive", api_users(EVERY_USER)),
    Row(
        "/api/v1/reports/archive/<int:report_id>",
        "GET",
        "/api/v1/reports/archive/{archive}",
        api_scoped(COUNTY_A_READERS),
    ),
    Row("/api/v1/audit", "GET", "/api/v1/audit?subject=student:S1-001", api_users(S1_READERS)),
    # ---------------------------------------------------------------- background jobs
    Row(
        "/api/v1/jobs", "GET", "/api/v1/jobs", api_users(EVERY_USER), why="each user lists the jobs in scope"
    ),
    Row(
        "/api/v1/jobs/<int:job_id>",
        "GET",
        "/api/v1/jobs/{job}",
        {**api_users(COUNTY_A_READERS, denied=404), **dict.fromkeys(AGENCIES, 403)},
        why="to a user, a job outside the scope is 'not found'; agency clients may not ask",
    ),
    Row(
        "/api/v1/jobs/<int:job_id>/retry",
        "POST",
        "/api/v1/jobs/{job}/retry",
        {**api_users(S1_ADMINS, 409, denied=404), **dict.fromkeys(AGENCIES, 403), "auditor": 403},
        why="the creator or an administrator over its region retries a failed job (this one is queued: 409); "
        "the auditor sees it but may not",
    ),
    Row(
        "/api/v1/redeterminations",
        "POST",
        "/api/v1/redeterminations",
        api_users(S1_ADMINS, 202),
        json={"region": mw.ARCHIVED_REGION},
    ),
    Row(
        "/api/v1/reports/<kind>/jobs",
        "POST",
        "/api/v1/reports/programs/jobs",
        api_users(COUNTY_A_READERS, 202),
        json={"period": "2020-2021-autumn", "region": mw.ARCHIVED_REGION, "format": "json"},
    ),
    # ---------------------------------------------------------------- what-if (draft rules against the running ones)
    Row("/api/v1/whatif/drafts", "GET", "/api/v1/whatif/drafts", api_users(EVERY_ADMIN | {"auditor"})),
    Row(
        "/api/v1/whatif",
        "POST",
        "/api/v1/whatif",
        api_users(S1_ADMINS, 202),
        json={"region": mw.ARCHIVED_REGION},
        why="administrators over the region run it (no draft: no change); auditors read, officers neither",
    ),
    Row(
        "/api/v1/whatif/upload",
        "POST",
        "/api/v1/whatif/upload",
        api_users(S1_ADMINS, 422),
        data={"region": mw.ARCHIVED_REGION},
        files={"file": (b"csv", "draft.zip")},
        why="the scope is checked before the archive (this one is not a ZIP: 422)",
    ),
    Row(
        "/api/v1/whatif/<int:job_id>/xlsx",
        "GET",
        "/api/v1/whatif/{whatif_job}/xlsx",
        {**api_users(COUNTY_A_READERS), "city_b": 404},
        why="the workbook lists students (masked): administrators over the job's region and auditors",
    ),
    # ---------------------------------------------------------------- agency feeds
    Row(
        "/api/v1/feeds/<source>/batches",
        "POST",
        "/api/v1/feeds/poverty_alleviation/batches",
        api_agency("poverty_alleviation"),
        json=FEED,
    ),
    Row(
        "/api/v1/feeds/<source>/outcomes",
        "GET",
        "/api/v1/feeds/civil_affairs/outcomes",
        api_agency("civil_affairs"),
    ),
    # ---------------------------------------------------------------- web UI
    Row("/static/<path:filename>", "GET", "/static/aid.css", public(), why="the stylesheet"),
    Row(
        "/login",
        "GET",
        "/login",
        outcomes(200, **dict.fromkeys(USERS, 302)),
        why="signed in: to the dashboard",
    ),
    Row("/login", "POST", "/login", public(302), data={"username": "officer1", "password": w.PASSWORD}),
    Row("/logout", "POST", "/logout", public(302)),
    Row("/", "GET", "/", ui(EVERY_USER)),
    Row("/students", "GET", "/students", ui(EVERY_USER)),
    Row(
        "/students/lookup",
        "POST",
        "/students/lookup",
        {**ui({"officer_a", "county_a"}, 302), "officer_b": 404},
        data={"id_number": "{id_number}"},
        why="officers and county admins only (audited, budgeted); outside their "
        "scope the number is 'not found' (its existence hidden); others search by name and masked number (403)",
        audited=True,
    ),
    Row("/students/<student_id>", "GET", "/students/S1-001", ui(S1_READERS, denied=404)),
    Row("/students/<student_id>/id-number", "POST", "/students/S1-001/id-number", ui({"officer_a"})),
    Row("/students/import", "GET", "/students/import", ui(ANY_WRITER)),
    Row("/students/import/template", "GET", "/students/import/template", ui(ANY_WRITER)),
    Row(
        "/students/import",
        "POST",
        "/students/import",
        {**ui(S1_WRITERS, 302), "officer_b": 422, "city_b": 422},
        files={"file": (b"csv", "students.csv")},
    ),
    Row(
        "/students/<student_id>/apply",
        "GET",
        "/students/S1-003/apply",
        {**ui({"officer_a"}), "officer_b": 404, "city_b": 404},
    ),
    Row(
        "/students/<student_id>/apply",
        "POST",
        "/students/S1-003/apply",
        {**ui({"officer_a"}, 302), "officer_b": 404, "city_b": 404},
        data={"household_size": "3", "per_capita_income": "6000.00", "commitment": "y"},
    ),
    Row("/applications", "GET", "/applications", ui(EVERY_USER)),
    Row(
        "/applications/approved",
        "GET",
        "/applications/approved?format=csv",
        ui(EVERY_USER),
        why="the approved list of the caller's scope (masked numbers), an audited download",
    ),
    Row("/applications/<int:application_id>", "GET", "/applications/{approved}", ui(S1_READERS, denied=404)),
    Row(
        "/applications/<int:application_id>/<any(review, publish_notice, object, resolve, approve, reject, reassess):action>",
        "POST",
        "/applications/{submitted}/review",
        {**ui({"officer_a"}, 302), "officer_b": 404, "city_b": 404},
        data={"review-version": "{submitted_version}"},
    ),
    Row(
        "/applications/batch/confirm",
        "POST",
        "/applications/batch/confirm",
        {**ui({"officer_a"}), "officer_b": 302},
        data={"action": "review", "ids": "{submitted}:{submitted_version}"},
        why="officers only; another school's officer chose nothing in their scope: back to the list",
    ),
    Row(
        "/applications/batch",
        "POST",
        "/applications/batch",
        ui({"officer_a", "officer_b"}),
        data={"action": "review", "ids": "{submitted}:{submitted_version}"},
        why="officers only; another school's officer gets the result page with the item refused, nothing written",
    ),
    Row(
        "/applications/<int:application_id>/declarations/<int:declaration_id>/<any(verified, rejected):result>",
        "POST",
        "/applications/{submitted}/declarations/{declaration}/verified",
        {**ui({"officer_a"}, 302), "officer_b": 404, "city_b": 404},
        data={"decl{declaration}-version": "{submitted_version}"},
        why="the school's officer is sent back to the page (the world's declaration is decided: a message)",
    ),
    Row(
        "/schools/<school_code>/notices/<int:notice_id>",
        "GET",
        f"/schools/{w.S1}/notices/{{notice}}",
        ui(S1_READERS, denied=404),
    ),
    Row(
        "/schools/<school_code>/notices/<int:notice_id>/download",
        "GET",
        f"/schools/{w.S1}/notices/{{notice}}/download?format=csv",
        ui(S1_READERS, denied=404),
        why="the notice's list (name, class, level) as a file, audited",
    ),
    Row(
        "/schools/<school_code>/notices/<int:notice_id>/revisions/<int:number>",
        "GET",
        f"/schools/{w.S1}/notices/{{notice}}/revisions/1",
        ui(S1_READERS, denied=404),
    ),
    Row("/notices", "GET", f"/notices?school={w.S1}", ui(S1_READERS, denied=404)),
    Row(
        "/notices/settings",
        "POST",
        "/notices/settings",
        {**ui(S1_WRITERS, 303), "auditor": 403, "officer_b": 404, "city_b": 404},
        data={"school_code": w.S1, "contact_phone": "025-83456789", "signoff": "学生资助工作领导小组"},
        why="the school's officer and the administrators of its region set the phone and sign-off",
    ),
    Row("/reports", "GET", "/reports", ui(EVERY_USER)),
    Row(
        "/reports/<kind>/download",
        "GET",
        f"/reports/programs/download?{PERIOD}&format=csv",
        ui(COUNTY_A_READERS),
    ),
    Row(
        "/quotas",
        "GET",
        f"/quotas?region=320102&school_year={w.YEAR}",
        ui(COUNTY_A_READERS),
        why="administrators (and auditors) over the county; officers and other regions are refused",
    ),
    Row(
        "/quotas/places",
        "POST",
        "/quotas/places",
        {**ui(S1_ADMINS, 303), "city_b": 404},
        data={
            "school_code": w.S1,
            "program": mw.QUOTA_PROGRAM,
            "school_year": w.YEAR,
            "places": "4",
            "reason": "按指导比例调整",
        },
        why="administrators over the school set places (the quota service); another region's school is 404",
    ),
    Row("/rules", "GET", "/rules", ui(EVERY_USER)),
    Row("/help", "GET", "/help", ui(EVERY_USER), why="every role's guide, their own section first"),
    Row("/account/password", "GET", "/account/password", ui(EVERY_USER)),
    Row(
        "/account/password",
        "POST",
        "/account/password",
        ui(EVERY_USER, 303),
        data={
            "current": w.PASSWORD,
            "new": "Quince-harbour-lantern-47",
            "repeat": "Quince-harbour-lantern-47",
        },
        why="everyone changes their own password (and nobody else's: the form names no account)",
    ),
    Row("/jobs", "GET", "/jobs", ui(EVERY_USER)),
    Row("/jobs/<int:job_id>", "GET", "/jobs/{job}", ui(COUNTY_A_READERS, denied=404)),
    Row(
        "/regions/<code>",
        "GET",
        "/regions/320102",
        ui(COUNTY_A_READERS),
        why="the drill-down of county A: its administrators above it and the auditor; officers and city B refused",
    ),
    Row(
        "/regions/redetermine",
        "POST",
        "/regions/redetermine",
        ui(EVERY_ADMIN, 303),
        data={"reason": "部门数据更新", "confirm": "y"},
        why="an administrator re-determines their own region (a job); officers and the auditor get no button",
    ),
    Row("/whatif", "GET", "/whatif", ui(EVERY_ADMIN | {"auditor"})),
    Row(
        "/whatif",
        "POST",
        "/whatif",
        ui(S1_ADMINS, 302),
        data={"region": mw.ARCHIVED_REGION, "as_of": "2020-09-01"},
        why="administrators over the region start a what-if job (then its results); city B's region is not theirs",
    ),
    Row(
        "/whatif/<int:job_id>.xlsx",
        "GET",
        "/whatif/{whatif_job}.xlsx",
        {**ui(COUNTY_A_READERS), "city_b": 404},
    ),
    Row("/jobs/<int:job_id>/status", "GET", "/jobs/{job}/status", ui(COUNTY_A_READERS, denied=404)),
    Row(
        "/audit",
        "GET",
        "/audit?subject=student:S1-001&since=2020-01-01",
        ui(TRAIL_READERS),
        why="the whole trail: those who read every subject through the API (auditors, the province)",
    ),
    Row(
        "/audit/verify",
        "POST",
        "/audit/verify",
        ui(TRAIL_READERS, 302),
        why="starts the chain's verification as a job, back to /audit with its link",
    ),
    Row(
        "/decisions/<int:decision_id>/replay",
        "POST",
        "/decisions/{decision}/replay",
        ui(TRAIL_READERS),
        why="replay from the application page, recorded in the trail",
    ),
    Row(
        "/jobs/<int:job_id>/import-errors",
        "POST",
        "/jobs/{job}/import-errors",
        ui(COUNTY_A_READERS, ok=403, denied=404),
        files={"file": (b"csv", "students.csv")},
        why="an import job's error sheet (the same file again); the matrix job is a re-determination: 403 to "
        "those who see it, 404 to the others",
    ),
)
"""THE table: one row per (rule, method) of the URL map."""

NOT_IN_MATRIX: dict[tuple[str, str], str] = {}
"""(rule, method) deliberately left out, with the reason (none: static files and docs have rows too)."""

DENIED = {401, 403, 404}


# ------------------------------------------------------------------ the world, built once per database


@dataclass
class Setup:
    app: Flask
    world: mw.MatrixWorld
    connection: Any
    baseline: str  # the fingerprint of the world: every cell starts from it (each is rolled back)
    recorded_baseline: str = ""  # the same without RECORD_TABLES (rows whose denied calls are audited)


@pytest.fixture(scope="module")
def matrix(db_url: str) -> Iterator[Setup]:
    """One app and one world per database for the whole table, in a transaction rolled back at the end."""
    application = create_app(make_config(db_url))
    application.before_request_funcs.setdefault(None, []).insert(0, lambda: g.__dict__.clear())
    patch = pytest.MonkeyPatch()
    original = wiring.settings
    patch.setattr(wiring, "settings", lambda: _pinned(original))
    with application.app_context():
        connection = db.engine.connect()
        outer = connection.begin()
        saved = db.session
        db.session = _bind_session_to(connection)
        try:
            built = mw.build(db.session, application)
            db.session.commit()
            yield Setup(
                application,
                built,
                connection,
                fingerprint(connection),
                fingerprint(connection, RECORD_TABLES),
            )
        finally:
            db.session.remove()
            db.session = saved
            outer.rollback()
            connection.close()
            db.engine.dispose()
            patch.undo()


def _pinned(original: Any) -> Any:
    import dataclasses

    return dataclasses.replace(original(), today=w.AFTER_NOTICE)


# ------------------------------------------------------------------ calling a row as a role


def _csrf(app: Flask, client: FlaskClient) -> str:
    """A valid CSRF token for this client's session, made as Flask-WTF makes them (the server checks it)."""
    raw = hashlib.sha1(secrets.token_bytes(32)).hexdigest()
    with client.session_transaction() as session:
        session["csrf_token"] = raw
    return URLSafeTimedSerializer(app.secret_key, salt="wtf-csrf-token").dumps(raw)


def _client(setup: Setup, row: Row, role: str) -> tuple[FlaskClient, dict[str, str], str | None]:
    """A fresh client for the role: the bearer header for the API, the session cookie for the UI."""
    caller = setup.world.callers[role]
    client = setup.app.test_client()
    headers: dict[str, str] = {}
    if caller.token and (row.is_api or caller.web_user is None):
        headers["Authorization"] = f"Bearer {caller.token}"
    csrf = None
    if not row.is_api:
        if caller.web_user is not None:
            with client.session_transaction() as session:
                session["token"], session["user"] = caller.token, caller.web_user
        csrf = _csrf(setup.app, client)
    return client, headers, csrf


def _fill(value: Any, ids: dict[str, Any]) -> Any:
    if isinstance(value, str):
        whole = value.strip("{}")
        if value.startswith("{") and value.endswith("}") and whole in ids:
            return ids[whole]
        return value.format(**ids)
    if isinstance(value, dict):
        return {k: _fill(v, ids) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v, ids) for v in value]
    return value


def _student_payload(setup: Setup) -> dict[str, Any]:
    pupil = setup.world.base.pupils["S1-005"]
    return {
        "id_number": pupil.id_number,
        "name": "刘洋",
        "school_code": w.S1,
        "class_name": "初一(3)班",
        "stage": "junior",
        "grade": 1,
        "boarding": False,
        "rural_hukou": False,
        "guardians": [{"id_number": pupil.guardian, "name": "刘家长", "relation": "father"}],
    }


def _csv(setup: Setup) -> bytes:
    from tests.world.factories import id_number

    return CSV_ROW.format(number=id_number(99, county="320102")).encode()


def call(setup: Setup, row: Row, role: str) -> Any:
    """Make the row's request as the role; the body is read (a report streams), nothing is kept."""
    client, headers, csrf = _client(setup, row, role)
    ids = setup.world.ids
    kwargs: dict[str, Any] = {"headers": headers}
    if csrf:
        headers["X-CSRFToken"] = csrf
    if row.json == "student":
        kwargs["json"] = _student_payload(setup)
    elif row.json is not None:
        kwargs["json"] = _fill(row.json, ids)
    if row.data is not None or row.files or csrf:
        data: dict[str, Any] = {k.format(**ids): _fill(v, ids) for k, v in (row.data or {}).items()}
        if csrf and row.method == "POST":
            data["csrf_token"] = csrf
        for name, (_content, filename) in row.files.items():
            data[name] = (io.BytesIO(_csv(setup)), filename)
        if row.method == "POST":
            kwargs["data"] = data
    if row.path.startswith("/api/v1/feeds/") and row.method == "POST":
        kwargs["json"] = {"batch_id": f"matrix-{role}", "records": []}
    response = client.open(_fill(row.path, ids), method=row.method, **kwargs)
    response.get_data()
    return response


RECORD_TABLES = frozenset({"audit_events", "counters", "login_failures"})
"""Where a denied but audited call writes: the audit trail, its chain head, the lookup budget."""


def fingerprint(connection: Any, skip: frozenset[str] = frozenset()) -> str:
    """Every row of every table (but `skip`): a denied call must leave this unchanged."""
    digest = hashlib.sha256()
    for table in Base.metadata.sorted_tables:
        if table.name in skip:
            continue
        rows = connection.execute(select(table)).all()
        digest.update(table.name.encode())
        digest.update(repr(sorted(map(repr, rows))).encode())
    return digest.hexdigest()


def run_cell(setup: Setup, row: Row, role: str) -> tuple[int, bool]:
    """(status, whether a denied call changed the database), inside a savepoint rolled back afterwards."""
    db.session.commit()  # the session holds no savepoint of its own across cells
    savepoint = setup.connection.begin_nested()
    try:
        response = call(setup, row, role)
        db.session.close()
        denied = _denied(row, role, response.status_code)
        if denied and row.audited:
            return response.status_code, fingerprint(
                setup.connection, RECORD_TABLES
            ) != setup.recorded_baseline
        return response.status_code, denied and fingerprint(setup.connection) != setup.baseline
    finally:
        savepoint.rollback()
        db.session.close()


def _denied(row: Row, role: str, status: int) -> bool:
    """401/403/404, or a page sent to the login page (not the login form itself, whose 302 is a sign-in)."""
    to_login = status == 302 and not row.is_api and role in NO_SESSION and row.rule != "/login"
    return status in DENIED or to_login


# ------------------------------------------------------------------ the tests


def test_every_route_has_a_row(app: Flask) -> None:
    """A route added without a row (or a row for a route that is gone) fails here."""
    routes = {
        (rule.rule, method)
        for rule in app.url_map.iter_rules()
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }
    rows = [row.key for row in MATRIX]
    assert len(rows) == len(set(rows)), "one row per (rule, method)"
    missing = routes - set(rows) - set(NOT_IN_MATRIX)
    assert not missing, f"routes without a row in MATRIX: {sorted(missing)}"
    assert not set(rows) - routes, f"rows for routes that do not exist: {sorted(set(rows) - routes)}"


@pytest.mark.parametrize("row", MATRIX, ids=lambda row: f"{row.method} {row.rule}")
def test_each_role_gets_exactly_its_outcome(matrix: Setup, row: Row) -> None:
    """Every role's status for this row, and no change to the database by any denied call."""
    wrong = []
    for role in ROLES:
        status, changed = run_cell(matrix, row, role)
        if status != row.expected[role]:
            wrong.append(f"{role}: {status}, expected {row.expected[role]}")
        elif changed:
            wrong.append(f"{role}: denied ({status}) but the database changed")
    assert not wrong, wrong


def test_the_fingerprint_sees_any_change(matrix: Setup) -> None:
    """The check behind "denied calls change nothing" notices a changed field, not only a new row."""
    db.session.commit()
    savepoint = matrix.connection.begin_nested()
    try:
        assert fingerprint(matrix.connection) == matrix.baseline
        matrix.connection.execute(update(School).where(School.code == w.S1).values(name="改过的名字"))
        assert fingerprint(matrix.connection) != matrix.baseline
    finally:
        savepoint.rollback()
    assert fingerprint(matrix.connection) == matrix.baseline


# ------------------------------------------------------------------ what lists show each role


def _application_students(response: Any) -> set[str]:
    return {item["student"]["student_id"] for item in response.get_json()["items"]}


def _archive_regions(response: Any) -> set[str]:
    return {item["region"] for item in response.get_json()["items"]}


def _outcome_students(response: Any) -> set[str]:
    """The students of the outcome items, found by their determinations' seq (items name no student, issue 16)."""
    seqs = [item["seq"] for item in response.get_json()["items"]]
    query = select(Student.student_id).join(Determination, Determination.student_pk == Student.id)
    return set(db.session.scalars(query.where(Determination.seq.in_(seqs))))


def _names_on_page(response: Any) -> set[str]:
    html = response.get_data(as_text=True)
    return {name for name in ("王小明", "李娜", "张伟", "陈静", "刘洋", "赵六") if name in html}


S1_APPLICANTS = frozenset({"S1-001", "S1-002"})
S1_NAMES = frozenset({"王小明", "李娜", "张伟", "陈静", "刘洋"})
LISTS: tuple[tuple[str, str, Any, dict[str, Any]], ...] = (
    (
        "GET",
        "/api/v1/applications",
        _application_students,
        {**dict.fromkeys(S1_READERS, S1_APPLICANTS), "officer_b": set(), "city_b": set()},
    ),
    (
        "GET",
        f"/api/v1/applications?school={w.S1}",
        _application_students,
        {**dict.fromkeys(S1_READERS, S1_APPLICANTS), "officer_b": {"status 403"}, "city_b": {"status 403"}},
    ),
    (
        "GET",
        "/api/v1/reports/archive",
        _archive_regions,
        {
            **dict.fromkeys(COUNTY_A_READERS, frozenset({mw.ARCHIVED_REGION})),
            "officer_a": set(),
            "officer_b": set(),
            "city_b": set(),
        },
    ),
    (
        "GET",
        "/api/v1/feeds/poverty_alleviation/outcomes",
        _outcome_students,
        {"poverty_alleviation": {"S1-002", "S1-004"}},
    ),
    (
        "GET",
        "/api/v1/feeds/civil_affairs/outcomes",
        _outcome_students,
        {"civil_affairs": {"S1-001", "S1-003", "S1-004"}},
    ),
    (
        "GET",
        "/students",
        _names_on_page,
        {
            "county_a": S1_NAMES,
            "city_a": S1_NAMES,
            "officer_a": S1_NAMES,
            "officer_b": {"赵六"},
            "city_b": {"赵六"},
            "province": {*S1_NAMES, "赵六"},
            "auditor": {*S1_NAMES, "赵六"},
        },
    ),
    (
        "GET",
        f"/students?school={w.S1}",
        _names_on_page,
        {"officer_a": S1_NAMES, "officer_b": set(), "city_b": set(), "county_a": S1_NAMES},
    ),
    (
        "GET",
        "/applications",
        _names_on_page,
        {**dict.fromkeys(S1_READERS, frozenset({"王小明", "李娜"})), "officer_b": set(), "city_b": set()},
    ),
    (  # the region filter narrows the scope, never widens it: outside it, nothing
        "GET",
        "/applications?region=320102",
        _names_on_page,
        {**dict.fromkeys(S1_READERS, frozenset({"王小明", "李娜"})), "officer_b": set(), "city_b": set()},
    ),
    (
        "GET",
        "/api/v1/applications?region=320102",
        _application_students,
        {**dict.fromkeys(S1_READERS, S1_APPLICANTS), "officer_b": set(), "city_b": set()},
    ),
)


@pytest.mark.parametrize(
    ("method", "path", "seen", "expected"), LISTS, ids=[f"{m} {p}" for m, p, _s, _e in LISTS]
)
def test_lists_show_each_role_only_its_scope(
    matrix: Setup, method: str, path: str, seen: Any, expected: dict[str, set[str]]
) -> None:
    """Allowed is not enough: a list must hold nothing outside the caller's scope (and all that is inside)."""
    row = Row(path.split("?")[0], method, path, {})
    wrong = []
    for role, want in expected.items():
        response = run_call(matrix, row, role)
        got = seen(response) if response.status_code == 200 else {f"status {response.status_code}"}
        if got != want:
            wrong.append(f"{role}: {sorted(got)}, expected {sorted(want)}")
    assert not wrong, wrong


def run_call(setup: Setup, row: Row, role: str) -> Any:
    """The row's response as the role, in a savepoint rolled back afterwards."""
    db.session.commit()
    savepoint = setup.connection.begin_nested()
    try:
        response = call(setup, row, role)
        db.session.close()
        return response
    finally:
        savepoint.rollback()
        db.session.close()


# ------------------------------------------------------------------ reaching out of scope by the body or the query

S2_STUDENT = "S2-001"
S2_COUNTY = "320213"


def _moved_student(setup: Setup, student_id: str, school: str) -> dict[str, Any]:
    """The student's own payload, with its school changed."""
    pupil = setup.world.base.pupils[student_id]
    stage, grade = ("junior", 1) if school == w.S1 else ("primary", 3)
    return {
        "id_number": pupil.id_number,
        "name": pupil.name,
        "school_code": school,
        "class_name": "一班",
        "stage": stage,
        "grade": grade,
        "boarding": False,
        "rural_hukou": False,
        "guardians": [{"id_number": pupil.guardian, "name": "家长", "relation": "father"}],
    }


ACROSS: tuple[tuple[str, str, str, Any, int, str], ...] = (
    # role, method, path, body (callable of setup or plain), status, why
    (
        "officer_a",
        "PUT",
        f"/api/v1/students/{S2_STUDENT}",
        lambda s: _moved_student(s, S2_STUDENT, w.S1),
        403,
        "taking another school's student into one's own",
    ),
    (
        "officer_b",
        "PUT",
        "/api/v1/students/S1-005",
        lambda s: _moved_student(s, "S1-005", w.S2),
        403,
        "moving a student of another school into one's own",
    ),
    (
        "county_a",
        "PUT",
        f"/api/v1/schools/{w.S2}",
        {**SCHOOL_A, "name": "无锡市梁溪区实验小学"},
        403,
        "moving another region's school into one's own region",
    ),
    (
        "city_a",
        "PUT",
        f"/api/v1/quotas/{w.S2}/{mw.QUOTA_PROGRAM}/{w.YEAR}",
        {"places": 1},
        404,
        "a quota of another city's school",
    ),
    (
        "county_a",
        "GET",
        f"/api/v1/quotas/{w.S2}/{mw.QUOTA_PROGRAM}/{w.YEAR}",
        None,
        404,
        "another county's quota",
    ),
    (
        "officer_a",
        "POST",
        "/api/v1/applications",
        {"student_id": S2_STUDENT, "school_year": w.YEAR, "commitment_signed": True, "declared": {}},
        404,
        "applying for another school's student",
    ),
    (
        "officer_a",
        "GET",
        f"/api/v1/decisions?student_id={S2_STUDENT}",
        None,
        404,
        "another school's decisions",
    ),
    (
        "city_a",
        "GET",
        f"/api/v1/reports/programs?period=2020-2021-autumn&region={S2_COUNTY}",
        None,
        403,
        "another city's county",
    ),
    (
        "officer_b",
        "GET",
        f"/api/v1/reports/programs?period=2020-2021-autumn&region={w.S1}",
        None,
        403,
        "another school's report",
    ),
    (
        "officer_a",
        "GET",
        f"/api/v1/reports/programs?period=2020-2021-autumn&region={w.S1}",
        None,
        200,
        "the officer's own school",
    ),
    ("county_a", "GET", f"/api/v1/audit?subject=school:{w.S2}", None, 403, "another county's school's trail"),
    ("county_a", "GET", "/api/v1/audit?subject=user:officer1", None, 403, "accounts are the auditor's"),
    ("auditor", "GET", "/api/v1/audit?subject=user:officer1", None, 200, "the auditor reads every subject"),
    ("officer_a", "GET", f"/api/v1/schools/{w.S2}/notices", None, 403, "another school's notices"),
    (
        "poverty_alleviation",
        "GET",
        "/api/v1/students/S1-002",
        None,
        403,
        "agencies read outcomes, not the roster",
    ),
    ("county_other", "GET", "/api/v1/students/S1-001", None, 404, "a county is not its whole city"),
    (
        "county_other",
        "PUT",
        f"/api/v1/quotas/{w.S1}/{mw.QUOTA_PROGRAM}/{w.YEAR}",
        {"places": 1},
        404,
        "a quota of the neighbouring county's school",
    ),
    (
        "county_other",
        "GET",
        f"/api/v1/reports/programs?period=2020-2021-autumn&region={mw.ARCHIVED_REGION}",
        None,
        403,
        "the neighbouring county's report",
    ),
    (
        "county_other",
        "GET",
        "/api/v1/reports/archive/{archive}",
        None,
        404,
        "the neighbouring county's archive",
    ),
    (
        "county_other",
        "GET",
        "/api/v1/audit?subject=student:S1-001",
        None,
        403,
        "the neighbouring county's trail",
    ),
    ("officer_a", "GET", f"/api/v1/audit?subject=student:{S2_STUDENT}", None, 403, "another school's trail"),
    ("county_a", "GET", f"/api/v1/applications?school={w.S2}", None, 403, "another county's applications"),
)


@pytest.mark.parametrize(
    ("role", "method", "path", "body", "status", "why"),
    ACROSS,
    ids=[f"{r} {m} {p}" for r, m, p, _b, _s, _w in ACROSS],
)
def test_scope_cannot_be_left_through_the_body_or_the_query(
    matrix: Setup, role: str, method: str, path: str, body: Any, status: int, why: str
) -> None:
    db.session.commit()
    savepoint = matrix.connection.begin_nested()
    try:
        caller = matrix.world.callers[role]
        payload = body(matrix) if callable(body) else body
        response = matrix.app.test_client().open(
            _fill(path, matrix.world.ids),
            method=method,
            json=payload,
            headers={"Authorization": f"Bearer {caller.token}"},
        )
        response.get_data()
        db.session.close()
        assert response.status_code == status, (why, response.get_json())
        if status >= 400:
            assert fingerprint(matrix.connection) == matrix.baseline, why
    finally:
        savepoint.rollback()
        db.session.close()
