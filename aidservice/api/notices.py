"""Public notices (公示): GET /api/v1/schools/{code}/notices and .../notices/{id}?format=json|csv|html.

Entries carry name, class and level only, in every format.
"""

from __future__ import annotations

import csv
import io
from typing import Any

from flask import Response, render_template
from marshmallow import Schema, fields, validate

from aidservice import wiring
from aidservice.api.auth import current_actor, require_user
from aidservice.api.common import Blueprint
from aidservice.extensions import db
from aidservice.services.applications import notices
from aidservice.services.applications.notices import NoticeList, NoticeView

blp = Blueprint(
    "notices",
    __name__,
    url_prefix="/api/v1/schools",
    description="Public notices of identification results (name, class, level only)",
)
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
HTML_POLICY = "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
"""The printable page runs no script and loads nothing: its only style is the inline sheet."""


class NoticeQuerySchema(Schema):
    format = fields.String(load_default="json", validate=validate.OneOf(["json", "csv", "html"]))


class NoticeEntrySchema(Schema):
    name = fields.String(required=True)
    class_name = fields.String(required=True)
    level = fields.String(required=True)
    level_label = fields.String(required=True, metadata={"example": "困难"})


class NoticeHeaderSchema(Schema):
    id = fields.Integer(required=True)
    school_code = fields.String(required=True)
    school_name = fields.String(required=True)
    school_year = fields.String(required=True)
    opened_on = fields.Date(required=True)
    closes_on = fields.Date(required=True, metadata={"description": "last day of the notice period"})
    working_days = fields.Integer(required=True)
    open = fields.Boolean(required=True)


class NoticeSchema(NoticeHeaderSchema):
    entries = fields.List(fields.Nested(NoticeEntrySchema), required=True)


class NoticeListSchema(Schema):
    items = fields.List(fields.Nested(NoticeHeaderSchema), required=True)


@blp.route("/<code>/notices", methods=["GET"])
@require_user()
@blp.alt_response(401, response="UNAUTHORIZED", description="No valid bearer token")
@blp.response(200, NoticeListSchema)
def list_(code: str) -> NoticeList:
    """The school's notices, newest first."""
    return notices.list_notices(
        db.session(), actor=current_actor(), settings=wiring.settings(), school_code=code
    )


@blp.route("/<code>/notices/<int:notice_id>", methods=["GET"])
@require_user()
@blp.alt_response(401, response="UNAUTHORIZED", description="No valid bearer token")
@blp.arguments(NoticeQuerySchema, location="query")
@blp.response(
    200, NoticeSchema, description="JSON; with format=csv a UTF-8 CSV, with format=html a printable page"
)
def get(query: dict[str, Any], code: str, notice_id: int) -> Any:
    """One notice: JSON, CSV (姓名, 班级, 认定等级) or a printable zh-CN page."""
    notice = notices.get_notice(
        db.session(),
        actor=current_actor(),
        settings=wiring.settings(),
        school_code=code,
        notice_id=notice_id,
    )
    if query["format"] == "csv":
        return Response(
            _csv(notice),
            mimetype="text/csv",
            headers={"Content-Disposition": f'attachment; filename="notice-{code}-{notice_id}.csv"'},
        )
    if query["format"] == "html":
        response = Response(render_template("notice.html", notice=notice), mimetype="text/html")
        response.headers["Content-Security-Policy"] = HTML_POLICY
        return response
    return notice


def _cell(text: str) -> str:
    """Spreadsheets run cells that start like a formula; such a name is quoted."""
    return "'" + text if text.startswith(FORMULA_START) else text


def _csv(notice: NoticeView) -> str:
    out = io.StringIO()
    out.write("\ufeff")  # BOM: spreadsheet programs then read the UTF-8 Chinese correctly
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(["姓名", "班级", "认定等级"])
    for entry in notice["entries"]:
        writer.writerow([_cell(entry["name"]), _cell(entry["class_name"]), entry["level_label"]])
    return out.getvalue()
