"""Public notices (公示): GET /api/v1/schools/{code}/notices, .../notices/{id} and
.../notices/{id}/revisions/{n}?format=json|csv|html; GET/PUT .../notice-settings (监督电话, 落款).

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
from aidservice.requestid import current_request_id
from aidservice.services.applications import notice_settings, notices
from aidservice.services.applications.notice_settings import NoticeSettingsView
from aidservice.services.applications.notices import NoticeList, NoticeView
from aidservice.unit_of_work import unit_of_work

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
    revision = fields.Integer(required=True, metadata={"description": "the revision shown (第N版); 1 first"})
    revised_on = fields.Date(required=True, metadata={"description": "the day of that revision"})
    entries_count = fields.Integer(required=True)


class NoticeChangeSchema(Schema):
    """From the previous revision: from_level null for an entry added, to_level null for one removed (撤销)."""

    name = fields.String(required=True)
    class_name = fields.String(required=True)
    from_level = fields.String(required=True, allow_none=True)
    from_label = fields.String(required=True, allow_none=True)
    to_level = fields.String(required=True, allow_none=True)
    to_label = fields.String(required=True, allow_none=True)


class RevisionSummarySchema(Schema):
    number = fields.Integer(required=True)
    revised_on = fields.Date(required=True)
    reason = fields.String(
        required=True, metadata={"description": "initial | addition | objection | reassess | rejection"}
    )
    reason_label = fields.String(required=True, metadata={"example": "异议复核调整等级"})
    entries_count = fields.Integer(required=True)


class NoticeSchema(NoticeHeaderSchema):
    entries = fields.List(fields.Nested(NoticeEntrySchema), required=True)
    reason = fields.String(required=True, metadata={"description": "why this revision was made"})
    reason_label = fields.String(required=True)
    changes = fields.List(fields.Nested(NoticeChangeSchema), required=True)
    revisions = fields.List(fields.Nested(RevisionSummarySchema), required=True)
    contact_phone = fields.String(required=True, metadata={"description": "监督电话; empty when not set"})
    signoff = fields.String(required=True, metadata={"description": "落款 (the school's, or the default)"})


class NoticeSettingsBodySchema(Schema):
    contact_phone = fields.String(
        required=True,
        validate=validate.Length(max=32),
        metadata={"example": "025-83456789", "description": "mobile, landline with area code, or empty"},
    )
    signoff = fields.String(
        required=True,
        validate=validate.Length(max=60),
        metadata={
            "example": "南京市第一中学学生资助工作领导小组",
            "description": "2-60 characters, or empty",
        },
    )


class NoticeSettingsSchema(Schema):
    school_code = fields.String(required=True)
    school_name = fields.String(required=True)
    contact_phone = fields.String(required=True)
    signoff = fields.String(required=True, metadata={"description": "empty: the default is printed"})
    default_signoff = fields.String(required=True)
    editable = fields.Boolean(required=True)


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
    return _formatted(notice, query["format"], f"notice-{code}-{notice_id}")


@blp.route("/<code>/notices/<int:notice_id>/revisions/<int:number>", methods=["GET"])
@require_user()
@blp.alt_response(401, response="UNAUTHORIZED", description="No valid bearer token")
@blp.alt_response(404, response="NOT_FOUND", description="No such notice or revision in your scope")
@blp.arguments(NoticeQuerySchema, location="query")
@blp.response(
    200, NoticeSchema, description="JSON; with format=csv a UTF-8 CSV, with format=html a printable page"
)
def revision(query: dict[str, Any], code: str, notice_id: int, number: int) -> Any:
    """One revision of a notice as it was published (entries frozen), with its changes from the one before."""
    notice = notices.get_revision(
        db.session(),
        actor=current_actor(),
        settings=wiring.settings(),
        school_code=code,
        notice_id=notice_id,
        number=number,
    )
    return _formatted(notice, query["format"], f"notice-{code}-{notice_id}-r{number}")


@blp.route("/<code>/notice-settings", methods=["GET"])
@require_user()
@blp.alt_response(401, response="UNAUTHORIZED", description="No valid bearer token")
@blp.alt_response(404, response="NOT_FOUND", description="No such school in your scope")
@blp.response(200, NoticeSettingsSchema)
def settings_get(code: str) -> NoticeSettingsView:
    """What the school's notices print: the phone for objections (监督电话) and the sign-off (落款)."""
    return notice_settings.get_settings(db.session(), actor=current_actor(), school_code=code)


@blp.route("/<code>/notice-settings", methods=["PUT"])
@require_user()
@blp.alt_response(401, response="UNAUTHORIZED", description="No valid bearer token")
@blp.alt_response(
    403, response="FORBIDDEN", description="Neither the school's officer nor an administrator of its region"
)
@blp.alt_response(404, response="NOT_FOUND", description="No such school in your scope")
@blp.arguments(NoticeSettingsBodySchema)
@blp.response(200, NoticeSettingsSchema)
def settings_put(body: dict[str, Any], code: str) -> NoticeSettingsView:
    """Set the school's notice phone and sign-off (empty values: none printed, the default sign-off); audited."""
    with unit_of_work() as uow:
        return notice_settings.update_settings(
            uow.session,
            actor=current_actor(),
            school_code=code,
            contact_phone=body["contact_phone"],
            signoff=body["signoff"],
            request_id=current_request_id(),
        )


def _formatted(notice: NoticeView, fmt: str, filename: str) -> Any:
    if fmt == "csv":
        return Response(
            _csv(notice),
            mimetype="text/csv",
            headers={"Content-Disposition": f'attachment; filename="{filename}.csv"'},
        )
    if fmt == "html":
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
