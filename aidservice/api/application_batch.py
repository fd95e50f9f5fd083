"""Batch actions: POST /api/v1/applications/actions, one step of the procedure on many applications."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, ValidationError, fields, pre_load, validate

from aidservice import wiring
from aidservice.api.auth import current_actor, require_user
from aidservice.api.common import ROW_ID_MAX, Blueprint
from aidservice.engine.result import LEVELS
from aidservice.errors import ProblemSchema, problem_for
from aidservice.requestid import current_request_id
from aidservice.services.applications import batch
from aidservice.services.applications.values import ACTIONS, NOTE_MAX, RESOLUTIONS
from aidservice.unit_of_work import unit_of_work

blp = Blueprint(
    "application_batch",
    __name__,
    url_prefix="/api/v1/applications",
    description="Batch actions: one step of the procedure on many applications, each reported on its own",
)


class ApplicationBatchItemSchema(Schema):
    id = fields.Integer(required=True, strict=True, validate=validate.Range(min=1, max=ROW_ID_MAX))
    version = fields.Integer(required=True, strict=True, validate=validate.Range(min=0, max=ROW_ID_MAX))


class ApplicationBatchSchema(Schema):
    """One action, one shared note (审核意见), the applications with the versions you saw (at most
    `BATCH_MAX`, no id twice)."""

    action = fields.String(required=True, validate=validate.OneOf(ACTIONS))
    note = fields.String(
        load_default="",
        validate=validate.Length(max=NOTE_MAX),
        metadata={"description": "shared by every item; required for object, resolve, reject, reassess"},
    )
    level = fields.String(load_default=None, allow_none=True, validate=validate.OneOf(LEVELS))
    outcome = fields.String(load_default=None, allow_none=True, validate=validate.OneOf(RESOLUTIONS))
    items = fields.List(
        fields.Nested(ApplicationBatchItemSchema),
        required=True,
        validate=validate.Length(min=1, max=batch.BATCH_MAX),
        metadata={"maxItems": batch.BATCH_MAX},
    )

    @pre_load
    def bound_items(self, data: Any, **_kwargs: Any) -> Any:
        """Refuse an oversized list before reading its items."""
        items = data.get("items") if isinstance(data, dict) else None
        if isinstance(items, list) and len(items) > batch.BATCH_MAX:
            raise ValidationError([f"at most {batch.BATCH_MAX} items; got {len(items)}"], field_name="items")
        return data


class ApplicationAppliedSchema(Schema):
    id = fields.Integer(required=True)
    state = fields.String(required=True)
    version = fields.Integer(required=True)
    level = fields.String(required=True)


class ApplicationBatchProblemSchema(ProblemSchema):
    reason = fields.String(
        required=True,
        validate=validate.OneOf((*batch.REASONS, "stale")),
        metadata={"description": "why the item was refused: " + ", ".join((*batch.REASONS, "stale"))},
    )
    context = fields.Dict(
        keys=fields.String(),
        values=fields.String(),
        required=True,
        metadata={"description": "what the reason refers to: the state, the notice's last day (closes_on)"},
    )


class ApplicationBatchOutcomeSchema(Schema):
    id = fields.Integer(required=True)
    status = fields.String(required=True, validate=validate.OneOf(("done", "refused", "stale")))
    application = fields.Nested(ApplicationAppliedSchema, metadata={"description": "when done"})
    problem = fields.Nested(ApplicationBatchProblemSchema, metadata={"description": "when refused or stale"})


class ApplicationBatchResultSchema(Schema):
    results = fields.List(fields.Nested(ApplicationBatchOutcomeSchema), required=True)


@blp.route("/actions", methods=["POST"])
@require_user(("school_officer",))
@blp.alt_response(401, response="UNAUTHORIZED", description="No valid bearer token")
@blp.arguments(ApplicationBatchSchema)
@blp.response(200, ApplicationBatchResultSchema)
@blp.alt_response(
    422, response="UNPROCESSABLE_ENTITY", description="Bad action, note, too many or duplicate items"
)
def act_on_many(body: dict[str, Any]) -> dict[str, Any]:
    """One action on many applications: each item is applied in its own savepoint and reported on its own
    (200 with per-item results: done, refused with the reason, stale). Another school's application is
    refused as not found. A retry of the same batch applies nothing twice: the items done come back stale."""
    request = batch.BatchRequest(
        action=body["action"],
        note=body["note"],
        level=body["level"],
        outcome=body["outcome"],
        items=[batch.BatchItem(item["id"], item["version"]) for item in body["items"]],
    )
    request_id = current_request_id()
    with unit_of_work() as uow:
        results = batch.act_on_many(
            uow.session,
            actor=current_actor(),
            settings=wiring.settings(),
            request=request,
            request_id=request_id,
        )
    return {"results": [_result(r, request_id) for r in results]}


def _result(result: batch.ItemResult, request_id: str) -> dict[str, Any]:
    out: dict[str, Any] = {"id": result.id, "status": result.status}
    if result.application is not None:
        out["application"] = result.application
    if result.error is not None:
        problem = problem_for(result.error).to_json(request_id)
        out["problem"] = {**problem, "reason": result.reason, "context": result.context}
    return out
