"""Guide ratios and proposed places: GET /api/v1/quotas/guide?region=&school_year=&stage=&format=json|csv."""

from __future__ import annotations

import csv
import io
from dataclasses import asdict
from typing import Any

from flask import Response
from marshmallow import Schema, fields, validate

from aidservice import wiring
from aidservice.api.auth import current_actor, require_user
from aidservice.api.common import Blueprint
from aidservice.extensions import db
from aidservice.services.applications.guide import GuideView, quota_guide

blp = Blueprint(
    "quota_guide",
    __name__,
    url_prefix="/api/v1/quotas/guide",
    description="Guide ratios (动态调整资助比例) and proposed places per county and school",
)

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
CSV_COLUMNS = (
    ("level", "层级"),
    ("code", "代码"),
    ("name", "名称"),
    ("program", "项目代码"),
    ("program_name", "资助项目"),
    ("enrolled", "在校学生数"),
    ("identified", "认定人数"),
    ("identified_share", "认定比例"),
    ("aided", "资助人数"),
    ("aided_share", "资助比例"),
    ("special", "特殊群体学生数"),
    ("guide_share", "指导比例"),
    ("proposed_places", "建议名额"),
    ("places", "已设名额"),
    ("funded", "已资助"),
    ("not_funded", "未获资助"),
    ("shortfall", "缺口"),
    ("note", "说明"),
)


class GuideQuerySchema(Schema):
    region = fields.String(
        load_default=None,
        metadata={
            "description": "320000, a city, a county or a school code; default: your scope",
            "example": "320102",
        },
    )
    school_year = fields.String(
        load_default=None,
        metadata={"description": "default: the current school year", "example": "2020-2021"},
    )
    stage = fields.String(
        load_default="preschool", metadata={"description": "a stage of the rules' stage fact"}
    )
    format = fields.String(load_default="json", validate=validate.OneOf(["json", "csv"]))


class GuideRowSchema(Schema):
    level = fields.String(required=True, metadata={"description": "county | school"})
    code = fields.String(required=True)
    name = fields.String(required=True)
    county_code = fields.String(required=True)
    city_code = fields.String(required=True)
    program = fields.String(required=True)
    program_name = fields.String(required=True)
    enrolled = fields.Integer(required=True)
    identified = fields.Integer(required=True, metadata={"description": "approved, standing level ≥ general"})
    aided = fields.Integer(
        required=True, metadata={"description": "a current awarded decision of the program"}
    )
    special = fields.Integer(required=True, metadata={"description": "special-group students of the stage"})
    identified_share = fields.Float(required=True, allow_none=True)
    aided_share = fields.Float(required=True, allow_none=True)
    guide_share = fields.Float(
        required=True, allow_none=True, metadata={"description": "null: the stage has no guide (see note)"}
    )
    proposed_places = fields.Integer(
        required=True,
        allow_none=True,
        metadata={
            "description": "max(special, ceil(guide × enrolled)); a county: its schools' sum; null: no guide"
        },
    )
    places = fields.Integer(required=True, allow_none=True, metadata={"description": "the quota set, if any"})
    funded = fields.Integer(required=True)
    not_funded = fields.Integer(required=True)
    shortfall = fields.Integer(required=True)
    note = fields.String(required=True)


class GuideSchema(Schema):
    region = fields.Dict(keys=fields.String(), values=fields.String(), required=True)
    school_year = fields.String(required=True)
    stage = fields.String(required=True)
    stage_name = fields.String(required=True)
    guide_parameter = fields.String(required=True, allow_none=True)
    guide_label = fields.String(required=True)
    guide_status = fields.String(required=True)
    guide_note = fields.String(required=True)
    basis = fields.List(fields.String(), required=True)
    rows = fields.List(fields.Nested(GuideRowSchema), required=True)


@blp.route("", methods=["GET"])
@require_user()
@blp.alt_response(401, response="UNAUTHORIZED", description="No valid bearer token")
@blp.alt_response(
    403, response="FORBIDDEN", description="Not an administrator or auditor, or outside your scope"
)
@blp.arguments(GuideQuerySchema, location="query")
@blp.response(200, GuideSchema, description="JSON; with format=csv a UTF-8 CSV of the rows")
def get(query: dict[str, Any]) -> Any:
    """Enrolment, identified and aided shares against the stage's guide ratio, and the proposed places, for
    each county and school of the region (administrators and auditors)."""
    view = quota_guide(
        db.session(),
        actor=current_actor(),
        settings=wiring.settings(),
        region=query["region"],
        school_year=query["school_year"],
        stage=query["stage"],
    )
    if query["format"] == "csv":
        name = f"quota-guide-{view.region['code']}-{view.stage}-{view.school_year}.csv"
        return Response(
            _csv(view), mimetype="text/csv", headers={"Content-Disposition": f'attachment; filename="{name}"'}
        )
    return asdict(view)


def _csv(view: GuideView) -> str:
    out = io.StringIO()
    out.write("\ufeff")  # BOM: spreadsheet programs then read the UTF-8 Chinese correctly
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([label for _key, label in CSV_COLUMNS])
    for row in view.rows:
        values = asdict(row)
        writer.writerow([_cell(values[key]) for key, _label in CSV_COLUMNS])
    return out.getvalue()


def _cell(value: object) -> object:
    """Empty for None; text that spreadsheets would run as a formula (a school's name) is quoted."""
    if value is None:
        return ""
    return "'" + value if isinstance(value, str) and value.startswith(FORMULA_START) else value
