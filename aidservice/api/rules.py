"""GET /api/v1/rules: the loaded rule set, with statuses and citations, as the engine describes it."""

from __future__ import annotations

from typing import Any

from marshmallow import INCLUDE, Schema, fields, post_dump

from aidservice.api.common import Blueprint
from aidservice.rulesets import current_rules

blp = Blueprint("rules", __name__, url_prefix="/api/v1/rules", description="The loaded rule set")


def _section(description: str) -> fields.List:
    """A list of JSON objects, one per item of that section."""
    return fields.List(fields.Dict(), required=True, metadata={"description": description})


class CoverageSchema(Schema):
    """The dates the rule set describes (inclusive); evaluation outside them is refused with a 422 naming as_of."""

    from_ = fields.String(
        required=True, data_key="from", attribute="from", metadata={"example": "2018-09-01"}
    )
    to = fields.String(required=True, metadata={"example": "2021-08-31"})


class RulesDescriptionSchema(Schema):
    """Top-level keys of `describe()`; keys the engine adds later pass through unchanged."""

    class Meta:
        unknown = INCLUDE  # documented as open: sections the engine adds later are allowed

    version = fields.String(required=True, metadata={"example": "sha256:0123456789abcdef"})
    coverage = fields.Nested(CoverageSchema, required=True)
    documents = _section("policy documents the rules cite")
    facts = _section("the fact catalogue: type, bounds, source, label")
    derived = _section("derived facts: their type and formula")
    levels = _section("identification levels, highest first, with their clauses")
    programs = _section("aid programs: conditions, amounts, kinds, statuses and citations")
    parameters = _section("effective-dated parameters with statuses, notes and citations")
    combinations = _section("exclusivity rules between programs")
    sources = _section("who sends which status: each source, its statuses, their reach and attributes")
    special_groups = _section("the special groups (特殊群体) in report order, with their names")
    procedure = fields.Dict(
        required=True,
        allow_none=True,
        metadata={
            "description": "the procedure as policy: notice_working_days and quota_order (each with value, "
            "status, note, basis) and guide_ratios (stage -> parameter); null only for a set published before it"
        },
    )

    @post_dump(pass_original=True)
    def keep_other_sections(self, data: dict[str, Any], original: Any, **_: Any) -> dict[str, Any]:
        """Keep sections not declared here, so the API shows everything the engine describes."""
        extra = {k: v for k, v in original.items() if k not in data} if isinstance(original, dict) else {}
        return {**data, **extra}


@blp.route("", methods=["GET"])
@blp.response(200, RulesDescriptionSchema)
def describe_rules() -> dict[str, Any]:
    """Everything the loaded rule set says: facts, levels, programs, parameters (with provisional marks)."""
    return current_rules().describe()
