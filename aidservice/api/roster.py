"""The roster API: PUT schools and students, GET a student with its determination, import students from a file."""

from __future__ import annotations

from typing import Any

from flask import Response, current_app, request
from flask_smorest.fields import Upload
from marshmallow import Schema, fields, validate

from aidservice.api.auth import current_actor, require_user
from aidservice.api.common import Blueprint, DateTime
from aidservice.api.jobs import JobSchema, idempotency_key, submit
from aidservice.api.reads import read_only
from aidservice.engine.result import LEVELS
from aidservice.errors import PROBLEM_MIMETYPE, ProblemSchema
from aidservice.extensions import db
from aidservice.jobs import kinds
from aidservice.requestid import current_request_id
from aidservice.services.accounts import id_probes
from aidservice.services.actors import ADMIN_ROLES
from aidservice.services.errors import PayloadTooLarge, ValidationFailed
from aidservice.services.roster import directory, import_guard, import_sheets, roster
from aidservice.services.roster.roster_schema import SchoolPayloadSchema, StudentPayloadSchema
from aidservice.services.standing.standing import SOURCES
from aidservice.unit_of_work import unit_of_work
from aidservice.wiring import id_probe_budget, settings

blp = Blueprint("roster", __name__, url_prefix="/api/v1", description="Schools and students (the roster)")

WRITERS = ("school_officer", *ADMIN_ROLES)
IMPORT_MAX_BYTES = 8 * 1024 * 1024
"""Default upload limit of one import file (AID_IMPORT_MAX_BYTES overrides it); ~10 MB of CSV is 50,000 rows."""
IMPORT_MAX_ROWS = 50_000
"""Default row limit of one import file (AID_IMPORT_MAX_ROWS overrides it)."""


def _money(**kwargs: Any) -> fields.Decimal:
    return fields.Decimal(as_string=True, places=2, metadata={"example": "1250.00"}, **kwargs)


class SchoolSchema(Schema):
    """A school; `city_code` is derived from the region (its first four digits and 00)."""

    code = fields.String(required=True)
    name = fields.String(required=True)
    region_code = fields.String(required=True)
    city_code = fields.String(required=True)
    stages = fields.List(fields.String(), required=True)
    kind = fields.String(required=True)
    inclusive_kindergarten = fields.Boolean(required=True)
    tuition_fee = _money(required=True, allow_none=True)
    central_university = fields.Boolean(required=True)


class GuardianViewSchema(Schema):
    """A guardian with the ID number masked (region and check character)."""

    id_number = fields.String(required=True, metadata={"example": "320102***********2"})
    name = fields.String(required=True)
    relation = fields.String(required=True)


class AwardViewSchema(Schema):
    """An award of the current determination."""

    program = fields.String(required=True)
    name = fields.String(required=True)
    kind = fields.String(required=True)
    amount = _money(required=True, allow_none=True)
    basis = fields.String(required=True)
    status = fields.String(required=True)


class DeterminationSchema(Schema):
    """The student's current determination for the configured school year, as stored (replayable)."""

    level = fields.String(required=True, validate=validate.OneOf(LEVELS))
    awards = fields.List(fields.Nested(AwardViewSchema), required=True)
    total = _money(required=True)
    reasons = fields.List(fields.Raw(), required=True)
    missing = fields.List(fields.String(), required=True)
    rule_set_version = fields.String(required=True)
    as_of = fields.Date(required=True)
    created_at = DateTime(required=True)


class StandingSchema(Schema):
    """The student's standing for the configured school year: the one answer every page shows.

    The approved decision when there is one (`source` decision: its level, its funded money), otherwise the
    system's pre-assessment (`source` pre_assessment, 系统预判: the current determination; it funds nothing).
    `funded_total` counts awarded grants, waivers and scholarships only; `unfunded_total` the amounts beyond a
    quota (名额不足未资助), never included in `funded_total`."""

    level = fields.String(required=True, validate=validate.OneOf(LEVELS))
    source = fields.String(required=True, validate=validate.OneOf(SOURCES))
    funded_total = _money(required=True)
    unfunded_total = _money(required=True)
    decided_at = DateTime(
        required=True,
        allow_none=True,
        metadata={"description": "the newest current decision, or when the pre-assessment was made"},
    )
    application_id = fields.Integer(
        required=True, allow_none=True, metadata={"description": "the approved application (source decision)"}
    )


class StudentSchema(Schema):
    """A student with ID numbers masked and the current determination (null until one is made)."""

    student_id = fields.String(required=True)
    id_number = fields.String(required=True, metadata={"example": "320102***********1"})
    name = fields.String(required=True)
    school_code = fields.String(required=True)
    class_name = fields.String(required=True)
    stage = fields.String(required=True)
    grade = fields.Integer(required=True)
    boarding = fields.Boolean(required=True)
    rural_hukou = fields.Boolean(required=True)
    agri_major = fields.Boolean(required=True)
    arts_performance_major = fields.Boolean(required=True)
    retired_soldier = fields.Boolean(required=True)
    salaried = fields.Boolean(required=True)
    east_west_cooperation = fields.Boolean(required=True, metadata={"description": "东西协作计划学生"})
    east_west_origin = fields.String(
        required=True, allow_none=True, metadata={"description": "partner region (rules: east_west_origin)"}
    )
    enrolment_state = fields.String(
        required=True, metadata={"description": "a value of the rules' enrolment_state (在读, 转出, …)"}
    )
    enrolment_date = fields.Date(required=True, allow_none=True)
    guardians = fields.List(fields.Nested(GuardianViewSchema), required=True)
    created_at = DateTime(required=True)
    updated_at = DateTime(required=True)
    determination = fields.Nested(DeterminationSchema, required=True, allow_none=True)
    standing = fields.Nested(
        StandingSchema,
        required=True,
        allow_none=True,
        metadata={"description": "null until the student has a determination or an approved application"},
    )


class ImportQuerySchema(Schema):
    partial = fields.Boolean(
        load_default=False, metadata={"description": "write the valid rows and report the invalid ones"}
    )
    run_async = fields.Boolean(
        data_key="async",
        load_default=False,
        metadata={
            "description": "run as a background job (202 and the job); so does the header `Prefer: respond-async`"
        },
    )
    key = fields.String(
        load_default=None,
        metadata={"description": "background import: idempotency key (or the Idempotency-Key header)"},
    )
    error_sheet = fields.Boolean(
        load_default=False,
        metadata={
            "description": "on a refusal, answer 422 with the uploaded sheet and 错误说明 as its first column "
            "(XLSX) instead of problem+json"
        },
    )


class ImportFileSchema(Schema):
    file = Upload(
        required=True, metadata={"description": "CSV (UTF-8) or XLSX; header row of payload field names"}
    )


class RowErrorSchema(Schema):
    """A problem in one row; `row` counts the header as row 1."""

    row = fields.Integer(required=True)
    field = fields.String(required=True, metadata={"example": "guardian1_id_number"})
    message = fields.String(required=True)


class ImportResultSchema(Schema):
    """What an import wrote, and (with partial=true) the rows it did not."""

    created = fields.Integer(required=True)
    updated = fields.Integer(required=True)
    unchanged = fields.Integer(required=True)
    rejected = fields.List(fields.Nested(RowErrorSchema), required=True)


@blp.route("/schools/<code>", methods=["PUT"])
@require_user(ADMIN_ROLES)
@blp.alt_response(401, response="UNAUTHORIZED", description="No valid bearer token")
@blp.arguments(SchoolPayloadSchema)
@blp.response(200, SchoolSchema)
@blp.alt_response(201, schema=SchoolSchema, description="Created")
@blp.alt_response(403, response="FORBIDDEN", description="Not an administrator over this region")
@blp.alt_response(415, response="UNSUPPORTED_MEDIA_TYPE", description="Body is not application/json")
def put_school(body: dict[str, Any], code: str) -> tuple[roster.SchoolView, int]:
    """Create or replace a school in the caller's region (201 when created)."""
    with unit_of_work() as uow:
        saved = roster.put_school(
            uow.session,
            actor=current_actor(),
            settings=settings(),
            code=code,
            payload=body,
            request_id=current_request_id(),
        )
    return roster.school_view(saved.record), 201 if saved.created else 200


@blp.route("/students/<student_id>", methods=["PUT"])
@require_user(WRITERS)
@blp.alt_response(401, response="UNAUTHORIZED", description="No valid bearer token")
@blp.arguments(StudentPayloadSchema)
@blp.response(200, StudentSchema)
@blp.alt_response(201, schema=StudentSchema, description="Created")
@blp.alt_response(
    403, response="FORBIDDEN", description="The student's current or new school is outside your scope"
)
@blp.alt_response(
    409, response="CONFLICT", description="Another student record has this identity number (no more said)"
)
@blp.alt_response(
    429,
    response="TOO_MANY_REQUESTS",
    description="Ten conflicts or lookup misses within an hour: saves refused until midnight (Beijing)",
)
@blp.alt_response(415, response="UNSUPPORTED_MEDIA_TYPE", description="Body is not application/json")
def put_student(body: dict[str, Any], student_id: str) -> tuple[roster.StudentView, int]:
    """Create or replace a student and re-evaluate it; answers with the student as GET shows it."""
    service_settings, budget, who = settings(), id_probe_budget(), current_actor()
    id_probes.check_not_locked(
        who, budget, fail_open=True
    )  # 429: a locked account's saves would answer "taken or not"
    try:
        with unit_of_work() as uow:
            saved = roster.put_student(
                uow.session,
                actor=who,
                settings=service_settings,
                student_id=student_id,
                payload=body,
                request_id=current_request_id(),
            )
            view = roster.student_view(uow.session, saved.record, service_settings)
    except id_probes.IdNumberTaken as exc:
        with unit_of_work() as uow:  # nothing of the save; the conflict is audited and charged on its own
            id_probes.charge_conflict(
                uow.session,
                actor=who,
                budget=budget,
                masked=exc.masked,
                channel="api save",
                request_id=current_request_id(),
            )
        raise
    return view, 201 if saved.created else 200


@blp.route("/students/<student_id>", methods=["GET"])
@require_user()
@blp.alt_response(401, response="UNAUTHORIZED", description="No valid bearer token")
@blp.response(200, StudentSchema)
@blp.alt_response(403, response="FORBIDDEN", description="Outside your scope, or an agency client")
@blp.alt_response(404, response="NOT_FOUND", description="No such student")
@read_only
def get_student(student_id: str) -> roster.StudentView:
    """The student with masked ID numbers and the current determination of the configured school year."""
    return roster.get_student(db.session(), actor=current_actor(), settings=settings(), student_id=student_id)


class RevealedIdNumberSchema(Schema):
    """A student's full ID number, for the aid officer of the student's school; each read is audited."""

    student_id = fields.String(required=True)
    id_number = fields.String(required=True, metadata={"example": "320102200803010011"})


@blp.route("/students/<student_id>/id-number", methods=["POST"])
@require_user(("school_officer",))
@blp.alt_response(401, response="UNAUTHORIZED", description="No valid bearer token")
@blp.response(200, RevealedIdNumberSchema)
@blp.alt_response(403, response="FORBIDDEN", description="Not the aid officer of the student's school")
@blp.alt_response(404, response="NOT_FOUND", description="No such student")
def reveal_id_number(student_id: str) -> tuple[dict[str, Any], int, dict[str, str]]:
    """The full ID number (POST: the read is recorded as an audit event); never cached."""
    with unit_of_work() as uow:
        number = directory.reveal_id_number(
            uow.session,
            actor=current_actor(),
            settings=settings(),
            student_id=student_id,
            request_id=current_request_id(),
            channel="api",
        )
    return {"student_id": student_id, "id_number": number}, 200, {"Cache-Control": "no-store"}


def _prefers_async() -> bool:
    """RFC 7240 `Prefer: respond-async`: the client asks for a job; without it the answer stays synchronous (200)."""
    prefer = request.headers.get("Prefer", "")
    return any(part.strip().lower() == "respond-async" for part in prefer.replace(";", ",").split(","))


REFUSED_WHOLE = (
    "The file is refused whole: problem+json with every problem by row and column (`rows`, `total_errors`), or "
    "with error_sheet=true the uploaded sheet with 错误说明 as its first column"
)


@blp.route("/students/import", methods=["POST"])
@require_user(WRITERS)
@blp.alt_response(401, response="UNAUTHORIZED", description="No valid bearer token")
@blp.arguments(ImportQuerySchema, location="query")
@blp.arguments(ImportFileSchema, location="files")
@blp.response(200, ImportResultSchema)
@blp.alt_response(
    202, schema=JobSchema, description="Accepted as a background job (async=true or Prefer: respond-async)"
)
@blp.alt_response(
    409, response="CONFLICT", description="Background import: the key was used for another file"
)
@blp.alt_response(413, response="REQUEST_ENTITY_TOO_LARGE", description="File over the size or row limit")
@blp.alt_response(
    422,
    schema=ProblemSchema,
    content_type=PROBLEM_MIMETYPE,
    description=REFUSED_WHOLE,
)
@blp.alt_response(
    422,
    schema={"type": "string", "format": "binary"},
    content_type=import_sheets.XLSX_TYPE,
    description=REFUSED_WHOLE,
)
@blp.alt_response(
    429,
    response="TOO_MANY_REQUESTS",
    description="Ten conflicts or lookup misses within an hour: imports refused until midnight (Beijing)",
)
def import_students(query: dict[str, Any], files: dict[str, Any]) -> dict[str, Any] | Response:
    """Import students from CSV or XLSX: all-or-nothing (422 listing every bad row) unless partial=true."""
    upload = files["file"]
    limit = int(current_app.config.get("AID_IMPORT_MAX_BYTES", IMPORT_MAX_BYTES))
    data = upload.stream.read(limit + 1)
    if len(data) > limit:
        raise PayloadTooLarge(f"The file is larger than the import limit of {limit} bytes.")
    who, budget = current_actor(), id_probe_budget()
    id_probes.check_not_locked(
        who, budget, fail_open=True
    )  # 429: its rows would answer "taken or not" for each number
    if query["run_async"] or _prefers_async():
        key = idempotency_key(query["key"])
        params, scope = kinds.prepare_import(
            db.session(), actor=who, filename=upload.filename or "", data=data, partial=query["partial"]
        )
        return submit(kinds.IMPORT, params, scope, key, payload=data)
    max_rows = int(current_app.config.get("AID_IMPORT_MAX_ROWS", IMPORT_MAX_ROWS))
    try:
        # on a refusal nothing of the file is written; the audit event and the charges of its taken rows are
        with unit_of_work(commit_on=(ValidationFailed, id_probes.LookupsLocked)) as uow:
            result = import_guard.import_charged(
                uow.session,
                actor=who,
                settings=settings(),
                budget=budget,
                channel="api import",
                filename=upload.filename or "",
                data=data,
                partial=query["partial"],
                max_rows=max_rows,
                request_id=current_request_id(),
            )
    except ValidationFailed as exc:
        sheet = _error_sheet(upload.filename or "", data, exc, max_rows) if query["error_sheet"] else None
        if sheet is None:
            raise
        return Response(sheet, status=422, mimetype=import_sheets.XLSX_TYPE)
    return {
        "created": result.created,
        "updated": result.updated,
        "unchanged": result.unchanged,
        "rejected": [{"row": e.row, "field": e.field, "message": e.message} for e in result.rejected],
    }


def _error_sheet(filename: str, data: bytes, refused: ValidationFailed, max_rows: int) -> bytes | None:
    """The refused file with 错误说明 first (None when the file itself could not be read: problem+json then)."""
    return import_sheets.import_report(
        filename, data, refused.errors, settings().rules.facts, max_rows=max_rows, shown=0
    ).workbook


@blp.route("/students/import/template", methods=["GET"])
@require_user(WRITERS)
@blp.alt_response(401, response="UNAUTHORIZED", description="No valid bearer token")
@blp.response(
    200, description="The import template (XLSX): 学生名册 with Chinese headers and drop-down lists, 说明"
)
@blp.alt_response(403, response="FORBIDDEN", description="Not a school officer or administrator")
@read_only
def import_template() -> Response:
    """The XLSX import template: Chinese headers in the officers' order, drop-down lists from the rules' labels
    (学段, 是/否, 与学生关系), and a 说明 sheet (each column, required or not, allowed values, an example row)."""
    body = import_sheets.template_workbook(settings().rules.facts)
    response = Response(body, mimetype=import_sheets.XLSX_TYPE)
    response.headers["Content-Disposition"] = "attachment; filename=student-import-template.xlsx"
    return response
