"""GET /api/v1/audit: the audit events about one subject, for auditors and the administrators over it."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields, validate
from werkzeug.exceptions import Forbidden

from aidservice.api.auth import current_actor, require_user
from aidservice.api.common import Blueprint, DateTime
from aidservice.extensions import db
from aidservice.services.audit import events_for, subject_in_scope

blp = Blueprint("audit", __name__, url_prefix="/api/v1/audit", description="The tamper-evident audit trail")


class AuditQuerySchema(Schema):
    """Which subject, e.g. `student:S0001`, `school:3201020001`, `batch:civil_affairs/B-1`."""

    subject = fields.String(required=True, validate=validate.Length(min=3, max=160))
    limit = fields.Integer(load_default=500, validate=validate.Range(min=1, max=5000))


class AuditEventSchema(Schema):
    """One event: who did what, when, with the hash that chains it to the one before."""

    seq = fields.Integer(required=True)
    occurred_at = DateTime(required=True)
    actor = fields.String(required=True)
    action = fields.String(required=True)
    subject = fields.String(required=True)
    summary = fields.Dict(required=True)
    request_id = fields.String(allow_none=True, required=True)
    prev_hash = fields.String(required=True)
    hash = fields.String(required=True)


class AuditListSchema(Schema):
    items = fields.List(fields.Nested(AuditEventSchema), required=True)


@blp.route("", methods=["GET"])
@require_user()  # before the arguments: an anonymous caller gets 401, not a description of the query
@blp.arguments(AuditQuerySchema, location="query")
@blp.response(200, AuditListSchema)
def list_events(query: dict[str, Any]) -> dict[str, Any]:
    """Events for one subject, oldest first; only subjects within the caller's scope."""
    actor = current_actor()
    session = db.session()
    if not subject_in_scope(session, actor, query["subject"]):
        raise Forbidden("This subject is outside your scope.")
    return {"items": events_for(session, query["subject"], query["limit"])}
