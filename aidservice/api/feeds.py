"""Agency feeds: POST /api/v1/feeds/{source}/batches (registers in) and GET .../outcomes (aid outcomes out)."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from marshmallow import Schema, fields, validate

from aidservice.api.auth import current_actor, documented_as_guarded, require_client
from aidservice.api.common import Blueprint
from aidservice.engine.vocabulary import Vocabulary
from aidservice.extensions import db
from aidservice.requestid import current_request_id
from aidservice.rulesets import current_rules
from aidservice.services.errors import NotFound
from aidservice.services.registry import feeds
from aidservice.unit_of_work import unit_of_work
from aidservice.wiring import settings

blp = Blueprint(
    "feeds",
    __name__,
    url_prefix="/api/v1/feeds",
    description="Agency registers in, aid outcomes of their people out",
)
F = TypeVar("F", bound=Callable[..., Any])


def agency_client(view: F) -> F:
    """Authenticated first (401), then a known source (404), then the caller's own source (403)."""
    guarded = require_client()(view)

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        current_actor()
        agencies = current_rules().vocabulary.agency_ids
        if kwargs.get("source") not in agencies:
            raise NotFound(f"No agency source '{kwargs.get('source')}'; sources are {', '.join(agencies)}.")
        return guarded(*args, **kwargs)

    refusals = ((401, "UNAUTHORIZED"), (403, "FORBIDDEN"), (404, "NOT_FOUND"))
    return documented_as_guarded(wrapper, *refusals)  # type: ignore[return-value]


class RecordSchema(Schema):
    """One register record (documentation: records are validated one by one and rejected by index)."""

    id_number = fields.String(
        required=True,
        metadata={
            "example": "320102200803010012",
            "description": "18 characters: ASCII digits 0-9, the last may be X",
        },
    )
    name = fields.String(required=True, metadata={"example": "张三"})
    status = fields.String(
        required=True,
        metadata={
            "description": "one of the statuses the source sends: AgencyStatuses (from the loaded rules' sources.yaml)"
        },
    )
    valid_from = fields.Date(required=True, metadata={"description": "1900-01-01 to 2100-12-31"})
    valid_to = fields.Date(
        allow_none=True,
        metadata={
            "description": "exclusive, after valid_from, at most 2100-12-31; null or absent: open-ended"
        },
    )
    attributes = fields.Dict(
        metadata={
            "description": (
                "a flat object: at most 16 keys of 1-64 characters; values strings (at most 256 characters), true, false, "
                "null or finite numbers (|x| <= 10^15; NaN and Infinity are rejected); a status's attributes bound to "
                "facts (AgencyStatuses) must hold a value of their fact, and required ones must be there"
            )
        }
    )


def document_sources(spec: Any, vocabulary: Vocabulary) -> None:
    """The agency sources of the loaded rules and what each sends, as the `AgencyStatuses` component of the
    OpenAPI document (written when the app starts: the rules decide, not this module)."""
    properties = {
        source.id: {
            "description": source.label,
            "type": "string",
            "enum": list(source.status_names),
            "x-attributes": {
                st.name: [{"name": a.name, "fact": a.fact, "required": a.required} for a in st.attributes]
                for st in source.statuses
                if st.attributes
            },
        }
        for source in vocabulary.agencies
    }
    spec.components.schema(
        "AgencyStatuses",
        {
            "type": "object",
            "description": "Per agency source (the {source} of the feed paths): the statuses its records may carry",
            "properties": properties,
        },
    )


class BatchSchema(Schema):
    """A batch: `batch_id` makes a retry safe; at most 10,000 records."""

    batch_id = fields.String(required=True, metadata={"example": "2020-09-civil-0001"})
    records = fields.List(
        fields.Raw(allow_none=True, metadata={"type": "object"}),
        required=True,
        metadata={"description": "RecordSchema objects"},
    )


class RejectionSchema(Schema):
    index = fields.Integer(required=True)
    field = fields.String(required=True)
    message = fields.String(required=True)


class BatchResultSchema(Schema):
    """What was applied; a replay of the same batch returns this same answer."""

    batch_id = fields.String(required=True)
    accepted = fields.Integer(required=True)
    rejected = fields.List(fields.Nested(RejectionSchema), required=True)
    matched_students = fields.Integer(
        required=True,
        metadata={
            "description": (
                "students reached by the accepted records inside the rules' coverage; records outside it match nobody"
            )
        },
    )
    reevaluated = fields.Integer(
        required=True, metadata={"description": "students whose level or awards changed"}
    )


class OutcomesQuerySchema(Schema):
    cursor = fields.String(load_default=None, metadata={"description": "next_cursor of the previous page"})
    limit = fields.Integer(load_default=100, validate=validate.Range(min=1, max=feeds.OUTCOMES_MAX))


class OutcomeAwardSchema(Schema):
    program = fields.String(required=True)
    amount = fields.String(required=True, allow_none=True, metadata={"example": "1250.00"})


class OutcomeReferenceSchema(Schema):
    batch_id = fields.String(
        required=True, metadata={"description": "the batch that carried the matched record"}
    )
    index = fields.Integer(required=True, metadata={"description": "its position in that batch"})


class OutcomeSchema(Schema):
    """A determination of a student this source reached with a record valid in its school year.

    Only what the agency needs: no student number, school code or school name."""

    person = fields.String(required=True, metadata={"description": "masked ID number of the matched person"})
    reference = fields.Nested(
        OutcomeReferenceSchema,
        required=True,
        metadata={
            "description": "the record the student was matched through (the student's own, else a guardian's)"
        },
    )
    school_year = fields.String(required=True)
    level = fields.String(required=True)
    awards = fields.List(fields.Nested(OutcomeAwardSchema), required=True)
    total = fields.String(required=True, metadata={"example": "3300.00"})
    as_of = fields.String(required=True)
    rule_set_version = fields.String(required=True)
    seq = fields.Integer(required=True)
    changed = fields.Boolean(
        required=True, metadata={"description": "level or awards differ from the previous"}
    )


class OutcomesSchema(Schema):
    items = fields.List(fields.Nested(OutcomeSchema), required=True)
    next_cursor = fields.String(
        required=True, metadata={"description": "pass it back to resume after this page"}
    )


@blp.route("/<source>/batches", methods=["POST"])
@agency_client
@blp.arguments(BatchSchema)
@blp.response(200, BatchResultSchema)
@blp.alt_response(409, response="CONFLICT", description="batch_id already received with another body")
@blp.alt_response(413, response="REQUEST_ENTITY_TOO_LARGE", description="more than 10,000 records")
def post_batch(body: dict[str, Any], source: str) -> dict[str, Any]:
    """Apply a batch of register records; replaying the same batch returns the first answer and changes nothing."""
    with unit_of_work() as uow:
        outcome = feeds.apply_batch(
            uow.session,
            actor=current_actor(),
            settings=settings(),
            source=source,
            body=body,
            request_id=current_request_id(),
        )
        if outcome.replayed:
            uow.rollback()  # a replay wrote nothing: nothing to commit
    return outcome.response


@blp.route("/<source>/outcomes", methods=["GET"])
@agency_client
@blp.arguments(OutcomesQuerySchema, location="query")
@blp.response(200, OutcomesSchema)
def get_outcomes(query: dict[str, Any], source: str) -> dict[str, Any]:
    """Aid outcomes of the people this source reached with a record valid in the school year, in change order;
    resume with `next_cursor`."""
    return feeds.outcomes(
        db.session(),
        actor=current_actor(),
        source=source,
        vocabulary=current_rules().vocabulary,
        cursor=query["cursor"],
        limit=query["limit"],
    )
