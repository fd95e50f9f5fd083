"""Background jobs: start a re-determination or a report as a job, follow any job's progress (scoped)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from flask import Response, jsonify, request
from marshmallow import Schema, fields, validate

from aidservice import jobs as runner
from aidservice.api.auth import current_actor, require_user
from aidservice.api.common import ROW_ID_MAX, Blueprint
from aidservice.extensions import db
from aidservice.jobs import kinds
from aidservice.requestid import current_request_id
from aidservice.services import jobs
from aidservice.services.actors import ADMIN_ROLES
from aidservice.services.errors import ValidationFailed
from aidservice.unit_of_work import unit_of_work
from aidservice.wiring import settings

blp = Blueprint(
    "jobs",
    __name__,
    url_prefix="/api/v1",
    description="Background jobs: imports, re-determinations and reports, with progress",
)

KEY_HEADER = "Idempotency-Key"
KEY_FIELD = fields.String(
    load_default=None,
    metadata={
        "description": "idempotency key (or the Idempotency-Key header): the same key is the same job, never a "
        "second run; the same key with other parameters is a 409",
        "example": "redetermine-2020-autumn",
    },
)


class ProgressSchema(Schema):
    """How far the job is: `done` of `total` units (students, rows, reports); total null until known."""

    done = fields.Integer(required=True)
    total = fields.Integer(required=True, allow_none=True)
    percent = fields.Integer(required=True, allow_none=True)


class JobSchema(Schema):
    """A job: state queued | running | done | failed, progress, attempts, and its result or error."""

    id = fields.Integer(required=True)
    kind = fields.String(required=True, metadata={"example": "redetermine"})
    key = fields.String(required=True)
    state = fields.String(required=True, validate=validate.OneOf(jobs.STATES))
    params = fields.Dict(required=True)
    progress = fields.Nested(ProgressSchema, required=True)
    counts = fields.Dict(required=True)
    attempts = fields.Integer(required=True)
    max_attempts = fields.Integer(required=True)
    error = fields.String(required=True, allow_none=True)
    result = fields.Dict(required=True, allow_none=True)
    created_by = fields.String(required=True, allow_none=True)
    created_at = fields.String(required=True, allow_none=True)
    updated_at = fields.String(required=True, allow_none=True)
    started_at = fields.String(required=True, allow_none=True)
    finished_at = fields.String(required=True, allow_none=True)
    url = fields.String(required=True)


class JobListSchema(Schema):
    items = fields.List(fields.Nested(JobSchema), required=True)
    total = fields.Integer(required=True)


class JobQuerySchema(Schema):
    kind = fields.String(load_default=None, validate=validate.OneOf(sorted(kinds.HANDLERS)))
    state = fields.String(load_default=None, validate=validate.OneOf(jobs.STATES))
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=jobs.LIST_MAX))
    offset = fields.Integer(load_default=0, validate=validate.Range(min=0, max=ROW_ID_MAX))


class RedeterminationSchema(Schema):
    """Re-determine a region's students (default: your region) as of a date (default: this semester's start)."""

    region = fields.String(load_default=None, metadata={"example": "320100"})
    as_of = fields.Date(load_default=None)
    key = KEY_FIELD


class ReportJobSchema(Schema):
    """Generate a report into the archive; the job's result names the archived file to download."""

    period = fields.String(load_default=None, metadata={"example": "2020-2021-autumn"})
    region = fields.String(load_default=None, metadata={"example": "320100"})
    format = fields.String(load_default="xlsx", metadata={"description": "json | csv | xlsx | html"})
    as_of = fields.String(
        load_default=None, metadata={"description": "read history as of this time; default: now"}
    )
    key = KEY_FIELD


def idempotency_key(body_key: str | None) -> str | None:
    """The key from the body or the Idempotency-Key header (both given: they must agree)."""
    header = request.headers.get(KEY_HEADER)
    if header is not None and body_key is not None and header != body_key:
        raise ValidationFailed({"key": [f"differs from the {KEY_HEADER} header"]})
    key = body_key if body_key is not None else header
    jobs.check_key(key)
    return key


def submit(
    kind: str,
    params: dict[str, Any],
    scope: jobs.Scope,
    key: str | None,
    *,
    fixed: dict[str, Any] | None = None,
    payload: bytes | None = None,
) -> Response:
    """Record the job (idempotent by key), commit, dispatch it if new; 202 with the job and its Location."""
    actor = current_actor()
    job_id = runner.start(
        db.session(),
        actor=actor,
        kind=kind,
        params=params,
        scope=scope,
        key=key,
        fixed=fixed,
        payload=payload,
        request_id=current_request_id(),
    )
    return accepted(job_id)


def accepted(job_id: int) -> Response:
    """202 with the job as it is now (done already when it ran in-process) and its Location."""
    view = jobs.job_view(jobs.get_job(db.session(), actor=current_actor(), job_id=job_id))
    response = jsonify(JobSchema().dump(view))
    response.status_code = 202
    response.headers["Location"] = view["url"]
    return response


@blp.route("/jobs", methods=["GET"])
@require_user()
@blp.alt_response(401, response="UNAUTHORIZED", description="No valid bearer token")
@blp.arguments(JobQuerySchema, location="query")
@blp.response(200, JobListSchema)
def list_jobs(query: dict[str, Any]) -> jobs.JobList:
    """Jobs you started or that lie in your school or region, newest first."""
    return jobs.list_jobs(db.session(), actor=current_actor(), **query)


@blp.route("/jobs/<int:job_id>", methods=["GET"])
@require_user()
@blp.alt_response(401, response="UNAUTHORIZED", description="No valid bearer token")
@blp.alt_response(404, response="NOT_FOUND", description="No such job in your scope")
@blp.response(200, JobSchema)
def get_job(job_id: int) -> jobs.JobView:
    """A job's state, progress, attempts and result (or error)."""
    return jobs.job_view(jobs.get_job(db.session(), actor=current_actor(), job_id=job_id))


@blp.route("/jobs/<int:job_id>/retry", methods=["POST"])
@require_user()
@blp.alt_response(401, response="UNAUTHORIZED", description="No valid bearer token")
@blp.response(202, JobSchema, headers={"Location": {"description": "the job", "schema": {"type": "string"}}})
@blp.alt_response(
    403, response="FORBIDDEN", description="Neither the job's creator nor an administrator over it"
)
@blp.alt_response(404, response="NOT_FOUND", description="No such job in your scope")
@blp.alt_response(409, response="CONFLICT", description="The job has not failed")
def retry_job(job_id: int) -> Response:
    """Run a failed job again with fresh attempts; resumable work resumes from its cursor."""
    with unit_of_work() as uow:
        job = jobs.reopen(
            uow.session,
            actor=current_actor(),
            job_id=job_id,
            max_attempts=runner.max_attempts(),
            request_id=current_request_id(),
        )
    runner.dispatch(job)
    return accepted(job_id)


@blp.route("/redeterminations", methods=["POST"])
@require_user(ADMIN_ROLES)
@blp.alt_response(401, response="UNAUTHORIZED", description="No valid bearer token")
@blp.arguments(RedeterminationSchema)
@blp.response(202, JobSchema, headers={"Location": {"description": "the job", "schema": {"type": "string"}}})
@blp.alt_response(403, response="FORBIDDEN", description="Not an administrator over this region")
@blp.alt_response(409, response="CONFLICT", description="The key was used with other parameters")
@blp.alt_response(415, response="UNSUPPORTED_MEDIA_TYPE", description="Body is not application/json")
def post_redetermination(body: dict[str, Any]) -> Response:
    """Re-determine every student of a region as a background job (resumable; progress in students)."""
    key = idempotency_key(body["key"])
    params, scope = kinds.prepare_redetermine(
        db.session(), actor=current_actor(), settings=settings(), region=body["region"], as_of=body["as_of"]
    )
    return submit(kinds.REDETERMINE, params, scope, key)


@blp.route("/reports/<kind>/jobs", methods=["POST"])
@require_user()
@blp.alt_response(401, response="UNAUTHORIZED", description="No valid bearer token")
@blp.arguments(ReportJobSchema)
@blp.response(202, JobSchema, headers={"Location": {"description": "the job", "schema": {"type": "string"}}})
@blp.alt_response(403, response="FORBIDDEN", description="Region outside your scope")
@blp.alt_response(404, response="NOT_FOUND", description="No such report kind")
@blp.alt_response(409, response="CONFLICT", description="The key was used with other parameters")
@blp.alt_response(415, response="UNSUPPORTED_MEDIA_TYPE", description="Body is not application/json")
def post_report_job(body: dict[str, Any], kind: str) -> Response:
    """Generate a report as a job into the report archive; when done, `result.download` is the file."""
    key = idempotency_key(body["key"])
    params, fixed, scope = kinds.prepare_report(
        db.session(),
        actor=current_actor(),
        settings=settings(),
        kind=kind,
        period=body["period"],
        region=body["region"],
        fmt=body["format"],
        as_of=body["as_of"],
        now=datetime.now(UTC),
    )
    return submit(kinds.REPORT, params, scope, key, fixed=fixed)
