"""POST /api/v1/evaluate: stateless evaluation of one student's facts on a date, with the explanation."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from marshmallow import Schema, fields, validate

from aidservice.api.common import Blueprint, Date
from aidservice.engine.result import LEVELS, Result, TraceEntry, fen_to_yuan
from aidservice.ratelimit import rate_limited
from aidservice.rulesets import current_rules
from aidservice.services.determinations.evaluation import evaluate_facts

blp = Blueprint(
    "evaluate", __name__, url_prefix="/api/v1/evaluate", description="Evaluate facts against the loaded rules"
)

STATUSES = validate.OneOf(["confirmed", "provisional"])


def _money(description: str = "", **kwargs: Any) -> fields.Decimal:
    """Money in yuan as a string with two places ("1250.00"), never a float."""
    metadata = {"example": "1250.00", "description": description or "yuan, two places"}
    return fields.Decimal(as_string=True, places=2, metadata=metadata, **kwargs)


class EvaluateQuerySchema(Schema):
    """Query options."""

    trace = fields.Boolean(load_default=None, metadata={"description": "include the trace (default true)"})


class EvaluateRequestSchema(Schema):
    """One student's facts, already true on `as_of`; fact names as in GET /api/v1/rules."""

    as_of = Date(required=True, metadata={"description": "evaluation date (ISO 8601, years 1900-2100)"})
    facts = fields.Dict(
        keys=fields.String(),
        values=fields.Raw(allow_none=True),
        required=True,
        metadata={"example": {"stage": "junior", "grade": 1, "orphan": True}},
    )
    trace = fields.Boolean(load_default=None, metadata={"description": "include the trace (default true)"})


class ReasonSchema(Schema):
    """A clause that fired, explaining the level."""

    clause = fields.String(required=True)
    level = fields.String(required=True, validate=validate.OneOf(LEVELS))
    label = fields.String(required=True)
    status = fields.String(required=True, validate=STATUSES)
    basis = fields.String(required=True, metadata={"example": "教财〔2018〕16号 二(二)"})


class AwardSchema(Schema):
    """A program awarded; `amount` is null when a fact it needs is unknown (named in `missing`)."""

    program = fields.String(required=True)
    name = fields.String(required=True)
    kind = fields.String(required=True, validate=validate.OneOf(["grant", "waiver", "scholarship", "loan"]))
    amount = _money(required=True, allow_none=True)
    basis = fields.String(required=True)
    status = fields.String(required=True, validate=STATUSES)
    missing = fields.List(fields.String(), required=True)


class TraceEntrySchema(Schema):
    """One rule item evaluated: what it read (facts, parameters) and what it decided."""

    item = fields.String(required=True, metadata={"example": "clause:special_orphan"})
    label = fields.String(required=True)
    result = fields.Raw(
        required=True, allow_none=True, metadata={"description": "true/false/null (unknown); amounts as yuan"}
    )
    facts = fields.Dict(keys=fields.String(), values=fields.Raw(allow_none=True), required=True)
    parameters = fields.List(fields.Dict(), required=True)
    missing = fields.List(fields.String(), required=True)
    status = fields.String(required=True, validate=STATUSES)
    basis = fields.String(required=True)
    note = fields.String(required=True)


class EvaluationSchema(Schema):
    """The level, the awards and why, for one student on one date, under one rule-set version."""

    rule_set_version = fields.String(required=True)
    as_of = fields.Date(required=True)
    level = fields.String(required=True, validate=validate.OneOf(LEVELS))
    reasons = fields.List(fields.Nested(ReasonSchema), required=True)
    awards = fields.List(fields.Nested(AwardSchema), required=True)
    total = _money("sum of grants, waivers and scholarships; loans excluded", required=True)
    missing = fields.List(fields.String(), required=True)
    trace = fields.List(fields.Nested(TraceEntrySchema), required=True, allow_none=True)


@blp.route("", methods=["POST"])
@rate_limited("evaluate")
@blp.arguments(EvaluateQuerySchema, location="query", as_kwargs=False)
@blp.arguments(EvaluateRequestSchema)
@blp.response(200, EvaluationSchema)
@blp.alt_response(400, response="BAD_REQUEST", description="Malformed JSON body")
@blp.alt_response(413, response="REQUEST_ENTITY_TOO_LARGE", description="Body over the size limit")
@blp.alt_response(415, response="UNSUPPORTED_MEDIA_TYPE", description="Body is not application/json")
@blp.alt_response(
    429,
    response="TOO_MANY_REQUESTS",
    description="Too many requests from this address (AID_RATELIMIT_EVALUATE)",
)
def evaluate(query: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
    """Validate the facts against the fact catalogue, evaluate them on `as_of`, explain the result."""
    rules = current_rules()
    trace = _first_given(body["trace"], query["trace"], default=True)
    result = evaluate_facts(rules, body["facts"], body["as_of"], trace=trace)
    return present(rules, result)


def _first_given(*options: bool | None, default: bool) -> bool:
    return next((o for o in options if o is not None), default)


def present(rules: Any, result: Result) -> dict[str, Any]:
    """The result as the schema dumps it; trace values leave the engine's internal units (fen) here."""
    return {
        "rule_set_version": result.rule_set_version,
        "as_of": result.as_of,
        "level": result.level,
        "reasons": result.reasons,
        "awards": result.awards,
        "total": result.total,
        "missing": result.missing,
        "trace": None if result.trace is None else [_trace_entry(rules, e) for e in result.trace],
    }


def _trace_entry(rules: Any, entry: TraceEntry) -> dict[str, Any]:
    return {
        "item": entry.item,
        "label": entry.label,
        "result": _trace_result(entry),
        "facts": {name: rules.fact_to_json(name, value) for name, value in entry.facts.items()},
        "parameters": [_jsonable(p) for p in entry.parameters],
        "missing": list(entry.missing),
        "status": entry.status,
        "basis": entry.basis,
        "note": entry.note,
    }


def _trace_result(entry: TraceEntry) -> object:
    """Conditions are true/false/null; an amount item's result is fen, shown as yuan like every amount."""
    if entry.item.startswith("amount:") and type(entry.result) is int:
        return str(fen_to_yuan(entry.result))
    return _jsonable(entry.result)


def _jsonable(value: object) -> object:
    """Dates as ISO strings and exact numbers as strings; containers recursively."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)
