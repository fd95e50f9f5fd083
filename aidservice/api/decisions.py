"""Decisions: GET /api/v1/decisions?student_id=… and POST /api/v1/decisions/{id}/replay."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields

from aidservice import wiring
from aidservice.api.auth import current_actor, require_user
from aidservice.api.common import Blueprint, DateTime
from aidservice.extensions import db
from aidservice.requestid import current_request_id
from aidservice.services import audit_trail
from aidservice.services.applications import decisions
from aidservice.services.applications.decisions import DecisionList, ReplayView
from aidservice.unit_of_work import unit_of_work

blp = Blueprint(
    "decisions",
    __name__,
    url_prefix="/api/v1/decisions",
    description="Approved awards, immutable and replayable",
)


class DecisionQuerySchema(Schema):
    student_id = fields.String(required=True)
    school_year = fields.String(load_default=None)
    current = fields.Boolean(load_default=False, metadata={"description": "only the current decisions"})


class DecisionSchema(Schema):
    """One program's decision; superseded ones stay, linked by `supersedes`."""

    id = fields.Integer(required=True)
    application_id = fields.Integer(required=True)
    student_id = fields.String(required=True, allow_none=True)
    school_code = fields.String(required=True)
    school_year = fields.String(required=True)
    program = fields.String(required=True)
    name = fields.String(required=True)
    kind = fields.String(required=True)
    level = fields.String(required=True)
    level_override = fields.String(required=True, allow_none=True)
    amount = fields.String(required=True, allow_none=True, metadata={"example": "1250.00"})
    instalments = fields.List(
        fields.Dict(), required=True, metadata={"description": "[{period, due, amount}]"}
    )
    status = fields.String(required=True, metadata={"description": "awarded | not_funded | withdrawn"})
    rule_status = fields.String(required=True, metadata={"description": "confirmed | provisional"})
    allocation = fields.Dict(required=True, allow_none=True)
    as_of = fields.Date(required=True)
    rule_set_version = fields.String(required=True)
    facts = fields.Dict(required=True)
    explanation = fields.Dict(required=True)
    basis = fields.String(required=True)
    decided_by = fields.String(required=True)
    decided_at = DateTime(required=True)
    current = fields.Boolean(required=True)
    supersedes = fields.Integer(required=True, allow_none=True)
    superseded_reason = fields.String(required=True, allow_none=True)
    needs_review = fields.Boolean(required=True)
    content_hash = fields.String(required=True)


class DecisionListSchema(Schema):
    items = fields.List(fields.Nested(DecisionSchema), required=True)


class ReplayDifferenceSchema(Schema):
    field = fields.String(required=True)
    recorded = fields.Raw(required=True, allow_none=True)
    replayed = fields.Raw(required=True, allow_none=True)


class ReplaySchema(Schema):
    """The recorded outcome beside the one its recorded rules, facts, date and level give again."""

    decision_id = fields.Integer(required=True)
    identical = fields.Boolean(required=True)
    recorded = fields.Dict(required=True)
    replayed = fields.Dict(required=True)
    differences = fields.List(fields.Nested(ReplayDifferenceSchema), required=True)
    content_hash_matches = fields.Boolean(required=True)


@blp.route("", methods=["GET"])
@require_user()
@blp.alt_response(401, response="UNAUTHORIZED", description="No valid bearer token")
@blp.arguments(DecisionQuerySchema, location="query")
@blp.response(200, DecisionListSchema)
@blp.alt_response(403, response="FORBIDDEN", description="The student is outside your scope")
@blp.alt_response(404, response="NOT_FOUND", description="No such student")
def list_(query: dict[str, Any]) -> DecisionList:
    """A student's decisions, superseded ones included (oldest first)."""
    return decisions.list_decisions(
        db.session(),
        actor=current_actor(),
        settings=wiring.settings(),
        student_id=query["student_id"],
        school_year=query["school_year"],
        current_only=query["current"],
    )


@blp.route("/<int:decision_id>/replay", methods=["POST"])
@require_user()
@blp.alt_response(401, response="UNAUTHORIZED", description="No valid bearer token")
@blp.response(200, ReplaySchema)
@blp.alt_response(403, response="FORBIDDEN", description="Outside your scope")
@blp.alt_response(404, response="NOT_FOUND", description="No such decision")
def replay(decision_id: int) -> ReplayView:
    """Re-evaluate with the recorded rule version (from the published rule sets), facts, date and level; the
    replay and its outcome are recorded in the audit trail (`decision.replayed`)."""
    with unit_of_work() as uow:
        replayed = audit_trail.replay_recorded(
            uow.session,
            actor=current_actor(),
            settings=wiring.settings(),
            decision_id=decision_id,
            request_id=current_request_id(),
        )
    return replayed.view
