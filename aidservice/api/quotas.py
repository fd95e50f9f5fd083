"""Quotas: PUT/GET /api/v1/quotas/{school_code}/{program}/{school_year}."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields, validate

from aidservice import wiring
from aidservice.api.auth import current_actor, require_user
from aidservice.api.common import Blueprint, DateTime
from aidservice.extensions import db
from aidservice.requestid import current_request_id
from aidservice.services.actors import ADMIN_ROLES
from aidservice.services.applications import quotas
from aidservice.services.applications.quotas import QuotaView
from aidservice.unit_of_work import unit_of_work

blp = Blueprint(
    "quotas",
    __name__,
    url_prefix="/api/v1/quotas",
    description="Quotas (名额) per school, program and school year, and their allocation",
)


class QuotaBodySchema(Schema):
    places = fields.Integer(required=True, strict=True, metadata={"example": 30, "description": "0 or more"})
    reason = fields.String(
        load_default="",
        validate=validate.Length(max=2000),
        metadata={
            "description": "why the places change; kept in the audit trail",
            "example": "按指导比例调整",
        },
    )


class QuotaAllocationSchema(Schema):
    rank = fields.Integer(required=True)
    of = fields.Integer(required=True)
    application_id = fields.Integer(required=True)
    decision_id = fields.Integer(required=True)
    student_id = fields.String(required=True)
    name = fields.String(required=True)
    class_name = fields.String(required=True)
    level = fields.String(required=True)
    special = fields.Boolean(required=True)
    funded = fields.Boolean(required=True)
    explanation = fields.String(required=True, metadata={"example": "funded: rank 12 of 40 within quota 30"})


class QuotaSchema(Schema):
    """The quota with its allocation now; `shortfall` counts special-group students funded beyond it."""

    school_code = fields.String(required=True)
    program = fields.String(required=True)
    school_year = fields.String(required=True)
    places = fields.Integer(required=True)
    funded = fields.Integer(required=True)
    shortfall = fields.Integer(required=True)
    set_by = fields.String(required=True)
    updated_at = DateTime(required=True)
    allocations = fields.List(fields.Nested(QuotaAllocationSchema), required=True)


@blp.route("/<school_code>/<program>/<school_year>", methods=["PUT"])
@require_user(ADMIN_ROLES)
@blp.alt_response(401, response="UNAUTHORIZED", description="No valid bearer token")
@blp.arguments(QuotaBodySchema)
@blp.response(200, QuotaSchema)
@blp.alt_response(201, schema=QuotaSchema, description="Created")
@blp.alt_response(403, response="FORBIDDEN", description="Not an administrator over the school's region")
def put(body: dict[str, Any], school_code: str, program: str, school_year: str) -> tuple[QuotaView, int]:
    """Set the places (re-allocates the approved applications; decisions whose funding changes are superseded)."""
    settings = wiring.settings()
    with unit_of_work() as uow:
        quota, created = quotas.put_quota(
            uow.session,
            actor=current_actor(),
            settings=settings,
            school_code=school_code,
            program=program,
            school_year=school_year,
            places=body["places"],
            reason=body["reason"],
            request_id=current_request_id(),
        )
        rules = wiring.settings().rules
        view = quotas.quota_view(
            uow.session, quota, rules.procedure.quota_order, rules.vocabulary.group_statuses
        )
    return view, 201 if created else 200


@blp.route("/<school_code>/<program>/<school_year>", methods=["GET"])
@require_user()
@blp.alt_response(401, response="UNAUTHORIZED", description="No valid bearer token")
@blp.response(200, QuotaSchema)
@blp.alt_response(404, response="NOT_FOUND", description="No such school or no quota")
def get(school_code: str, program: str, school_year: str) -> QuotaView:
    """The quota with places, funded, shortfall and the allocation (rank, funded, explanation)."""
    return quotas.get_quota(
        db.session(),
        actor=current_actor(),
        settings=wiring.settings(),
        school_code=school_code,
        program=program,
        school_year=school_year,
    )
