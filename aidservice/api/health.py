"""GET /api/v1/health: is the service usable, and with which rule set."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields, validate

from aidservice.api.common import Blueprint
from aidservice.api.reads import read_only
from aidservice.extensions import db
from aidservice.rulesets import current_rules
from aidservice.services.health import database_available

blp = Blueprint("health", __name__, url_prefix="/api/v1/health", description="Liveness and readiness")


class HealthSchema(Schema):
    """Health report; `degraded` (with status 503) means evaluation works but the database does not answer."""

    status = fields.String(required=True, validate=validate.OneOf(["ok", "degraded"]))
    rule_set_version = fields.String(required=True, metadata={"example": "sha256:0123456789abcdef"})
    database = fields.String(required=True, validate=validate.OneOf(["ok", "unavailable"]))


@blp.route("", methods=["GET"])
@read_only  # never waits for a writer's lock on SQLite
@blp.response(200, HealthSchema)
@blp.alt_response(
    503, schema=HealthSchema, description="The database does not answer (load balancers: not ready)"
)
def health() -> tuple[dict[str, Any], int, dict[str, str]]:
    """Report the rule-set version and whether the database answers; needs no authentication."""
    database_ok = database_available(db.session())
    body = {
        "status": "ok" if database_ok else "degraded",
        "rule_set_version": current_rules().version,
        "database": "ok" if database_ok else "unavailable",
    }
    return (body, 200, {}) if database_ok else (body, 503, {"Retry-After": "5"})
