"""Liveness and readiness probes, unauthenticated and cheap (aidservice/services/health.py holds the checks).

- `GET /health/live` (and `/api/v1/health/live`): the process serves requests; touches nothing else, always 200.
- `GET /health/ready` (and `/api/v1/health/ready`): 200 when the database answers, is at the migration head, the
  keys match its fingerprints, the rules are loaded and Redis (when configured) answers; else 503 as problem+json
  listing the failing checks. A load balancer sends traffic only to a ready instance.
- `GET /api/v1/health`: the earlier interface, kept: the same checks as readiness, in its own body
  (`status` ok|degraded, `database` ok|unavailable, `rule_set_version`, and the `checks`).

The top-level `/health/...` paths are for load balancers (outside /api, no API prefix to configure); the live and
ready probes are exempt from the deferred start-up key check's refusal (aidservice.keycheck), so they report
instead; `/api/v1/health` is refused with the rest (503 naming the key), as before.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint as FlaskBlueprint
from flask import Response, current_app, jsonify
from marshmallow import Schema, fields, validate

from aidservice.api.common import Blueprint
from aidservice.errors import PROBLEM_MIMETYPE, Problem, ProblemSchema
from aidservice.extensions import SQLITE_BEGIN, db
from aidservice.keycheck import probe
from aidservice.migrations import migration_heads
from aidservice.requestid import current_request_id
from aidservice.rulesets import current_rules
from aidservice.services.health import Check, database_checks, passed, redis_check
from aidservice.wiring import id_vault

blp = Blueprint("health", __name__, url_prefix="/api/v1/health", description="Liveness and readiness")
probes = FlaskBlueprint("probes", __name__, url_prefix="/health")
NO_STORE = {"Cache-Control": "no-store"}
RETRY = {"Retry-After": "5", **NO_STORE}


class CheckSchema(Schema):
    name = fields.String(
        required=True,
        validate=validate.OneOf(["database", "migrations", "keys", "rules", "redis"]),
        metadata={"description": "database, migrations, keys, rules, redis (only when Redis is configured)"},
    )
    ok = fields.Boolean(required=True)
    reason = fields.String(
        required=True, metadata={"description": "Why the check failed, in English; empty when it passed"}
    )


class HealthSchema(Schema):
    """Health report; `degraded` (with status 503) means the instance is not ready (see `checks`)."""

    status = fields.String(required=True, validate=validate.OneOf(["ok", "degraded"]))
    rule_set_version = fields.String(required=True, metadata={"example": "sha256:0123456789abcdef"})
    database = fields.String(required=True, validate=validate.OneOf(["ok", "unavailable"]))
    checks = fields.List(fields.Nested(CheckSchema), required=True)


class LiveSchema(Schema):
    status = fields.String(required=True, validate=validate.OneOf(["live"]))


class ReadySchema(Schema):
    status = fields.String(required=True, validate=validate.OneOf(["ready"]))
    rule_set_version = fields.String(required=True, metadata={"example": "sha256:0123456789abcdef"})
    checks = fields.List(fields.Nested(CheckSchema), required=True)


class NotReadySchema(ProblemSchema):
    checks = fields.List(fields.Nested(CheckSchema), required=True)


def readiness_checks() -> list[Check]:
    """Every readiness check of this app against its database (the session is rolled back afterwards)."""
    session = db.session()
    try:
        checks = database_checks(
            session, migration_heads(current_app), id_vault(), begin={SQLITE_BEGIN: "DEFERRED"}
        )
    finally:
        session.rollback()
    checks.append(
        passed("rules")
    )  # loaded before the app serves (aidservice.load_rule_set refuses otherwise)
    redis = redis_check(current_app.config.get("AID_REDIS_URL"))
    if redis is not None:
        checks.append(redis)
    return checks


@probe
def live() -> tuple[dict[str, Any], int, dict[str, str]]:
    """The process serves requests; checks nothing else."""
    return {"status": "live"}, 200, NO_STORE


@probe
def ready() -> Response | tuple[dict[str, Any], int, dict[str, str]]:
    """200 with the checks when every one passes; 503 problem+json naming the failing ones."""
    checks = readiness_checks()
    failing = [check for check in checks if not check["ok"]]
    if not failing:
        return (
            {"status": "ready", "rule_set_version": current_rules().version, "checks": checks},
            200,
            NO_STORE,
        )
    problem = Problem(
        status=503,
        title="Not ready",
        detail="Failing checks: " + ", ".join(check["name"] for check in failing),
        type_suffix="not-ready",
        errors={check["name"]: [check["reason"]] for check in failing},
        headers=RETRY,
        extra={"checks": checks},
    )
    response = jsonify(problem.to_json(current_request_id()))
    response.status_code = 503
    response.mimetype = PROBLEM_MIMETYPE
    response.headers.update(problem.headers)
    return response


probes.add_url_rule("/live", "live", live, methods=["GET"])
probes.add_url_rule("/ready", "ready", ready, methods=["GET"])


@blp.route("", methods=["GET"])
@blp.response(200, HealthSchema)
@blp.alt_response(503, schema=HealthSchema, description="Not ready: a check failed (see `checks`)")
def health() -> tuple[dict[str, Any], int, dict[str, str]]:
    """The readiness checks in the earlier body (rule-set version, database state); needs no authentication."""
    checks = readiness_checks()
    ok = all(check["ok"] for check in checks)
    body = {
        "status": "ok" if ok else "degraded",
        "rule_set_version": current_rules().version,
        "database": "ok" if checks[0]["ok"] else "unavailable",
        "checks": checks,
    }
    return (body, 200, NO_STORE) if ok else (body, 503, RETRY)


@blp.route("/live", methods=["GET"])
@blp.response(200, LiveSchema)
@probe
def api_live() -> tuple[dict[str, Any], int, dict[str, str]]:
    """Liveness (also at /health/live): the process serves requests; always 200."""
    return live()


@blp.route("/ready", methods=["GET"])
@blp.response(200, ReadySchema)
@blp.alt_response(
    503,
    schema=NotReadySchema,
    content_type=PROBLEM_MIMETYPE,
    description="Not ready: the failing checks by name (`errors`, `checks`)",
)
@probe
def api_ready() -> Response | tuple[dict[str, Any], int, dict[str, str]]:
    """Readiness (also at /health/ready): database, migrations at head, keys, rules, Redis when configured."""
    return ready()
