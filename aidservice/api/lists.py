"""The lists of the API: GET /api/v1/students (new) and the filter, sort, page and file download that
GET /api/v1/applications shares with it. The query string is checked once, by services.lists.filters (the
same parser the pages use): a bad value is a problem+json naming the field."""

from __future__ import annotations

from typing import Any

from flask import Response, request
from marshmallow import Schema, fields, validate

from aidservice import wiring
from aidservice.api.auth import current_actor, require_user
from aidservice.api.common import Blueprint, download, dumped_response
from aidservice.api.reads import read_only_when
from aidservice.api.roster import StandingSchema
from aidservice.extensions import db
from aidservice.services.lists import downloads, filters, students
from aidservice.services.lists.export import EXPORT_FORMATS, EXPORT_MAX_ROWS

blp = Blueprint(
    "lists",
    __name__,
    url_prefix="/api/v1",
    description="Lists: students, filtered, sorted, paged, downloadable",
)

FORMATS = ("json", *EXPORT_FORMATS)
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def json_wanted() -> bool:
    """A JSON page reads only; a CSV or XLSX download is audited (a write)."""
    return request.args.get("format", "json") == "json"


class ListArgsSchema(Schema):
    """The filter, sort and page of a list (checked by one parser: a bad value is a 422 naming the field)."""

    q = fields.String(
        load_default=None,
        metadata={
            "description": "name (contains), student number (starts with), class, a masked number as lists show "
            "it; for a school's own aid officer also the last 4 or 6 characters of the ID number. A full ID "
            "number is refused (use the audited lookup)",
            "maxLength": filters.QUERY_MAX,
        },
    )
    region = fields.String(
        load_default=None,
        metadata={
            "description": "a city's or county's 6-digit code: its schools only (nothing outside your scope)"
        },
    )
    school = fields.String(load_default=None, metadata={"description": "a school code in your scope"})
    state = fields.String(load_default=None, metadata={"description": "an application state"})
    level = fields.String(load_default=None, metadata={"description": "none | general | difficult | special"})
    group = fields.String(
        load_default=None,
        metadata={"description": "a special group's status (GET /api/v1/rules, special_groups)"},
    )
    stage = fields.String(load_default=None, metadata={"description": "a value of the rules' stage fact"})
    grade = fields.String(load_default=None, metadata={"description": f"1 to {filters.GRADE_MAX}"})
    class_name = fields.String(load_default=None, metadata={"description": "the class, exactly"})
    sort = fields.String(load_default=None, metadata={"description": "a column key (see the route)"})
    order = fields.String(load_default=None, validate=validate.OneOf(("asc", "desc")))
    page = fields.String(load_default=None, metadata={"description": "1 or more (JSON only)"})
    per_page = fields.String(load_default=None, metadata={"description": f"1 to {filters.PER_PAGE_MAX}"})
    format = fields.String(
        load_default="json",
        validate=validate.OneOf(FORMATS),
        metadata={
            "description": f"json: a page; csv (UTF-8 with BOM) or xlsx: every row of the filter, Chinese headers "
            f"and labels, masked numbers, audited; more than {EXPORT_MAX_ROWS} rows is a 422 naming `format`"
        },
    )


class StudentItemSchema(Schema):
    """A student of the list: the ID number masked; `level` the standing's (the approved decision's, else the
    system's pre-assessment, 系统预判: `decided` says which), `standing` the whole answer."""

    student_id = fields.String(required=True)
    name = fields.String(required=True)
    id_number = fields.String(required=True, metadata={"example": "320102***********1"})
    school_code = fields.String(required=True)
    school_name = fields.String(required=True)
    class_name = fields.String(required=True)
    stage = fields.String(required=True)
    grade = fields.Integer(required=True)
    level = fields.String(required=True, allow_none=True)
    decided = fields.Boolean(required=True)
    standing = fields.Nested(StandingSchema, required=True, allow_none=True)
    application_id = fields.Integer(required=True, allow_none=True)
    application_state = fields.String(required=True, allow_none=True)
    application_level = fields.String(required=True, allow_none=True)


class StudentPageSchema(Schema):
    items = fields.List(fields.Nested(StudentItemSchema), required=True)
    total = fields.Integer(required=True)
    page = fields.Integer(required=True)
    per_page = fields.Integer(required=True)
    pages = fields.Integer(required=True)


def list_response(component: str) -> dict[str, Any]:
    """The OpenAPI 200 of a list: a JSON page (`component`), or the whole list as CSV or XLSX."""
    binary = {"schema": {"type": "string", "format": "binary"}}
    return {
        "description": "format=json: a page; format=csv (UTF-8 with BOM) or xlsx: every row of the filter",
        "content": {
            "application/json": {"schema": {"$ref": f"#/components/schemas/{component}"}},
            "text/csv": binary,
            XLSX: binary,
        },
    }


def parse(kind: filters.Kind) -> filters.ListFilter:
    args = {k: v for k, v in request.args.items() if k in filters.KNOWN}
    return filters.parse(kind, args, wiring.settings().rules)


@blp.route("/students", methods=["GET"])
@require_user()
@blp.alt_response(401, response="UNAUTHORIZED", description="No valid bearer token")
@blp.arguments(ListArgsSchema, location="query")
@blp.response(200, StudentPageSchema)
@blp.doc(responses={"200": list_response("StudentPage")})
@blp.alt_response(403, response="FORBIDDEN", description="An agency token")
@read_only_when(json_wanted)
def list_students(query: dict[str, Any]) -> Response:
    """Students in your scope, numbers masked: filter, search, sort by student_id, name, school, class_name, stage,
    grade, level or state; a JSON page, or every row as CSV or XLSX (audited)."""
    flt = parse("students")
    settings = wiring.settings()
    made = download(query["format"], downloads.student_export, settings=settings, flt=flt)
    if made is not None:
        return made
    return dumped_response(students.page(db.session(), actor=current_actor(), settings=settings, flt=flt))
