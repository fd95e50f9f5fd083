"""Applications: POST /api/v1/applications, GET one or a list, POST .../actions (the identification procedure)."""

from __future__ import annotations

from typing import Any

from flask import Response, request
from marshmallow import Schema, fields, validate

from aidservice import wiring
from aidservice.api.auth import current_actor, require_user
from aidservice.api.common import ROW_ID_MAX, Blueprint, DateTime, download, dumped_response
from aidservice.api.lists import ListArgsSchema, json_wanted, list_response, parse
from aidservice.api.reads import read_only, read_only_when
from aidservice.engine.result import LEVELS
from aidservice.extensions import db
from aidservice.models.application import STATES
from aidservice.requestid import current_request_id
from aidservice.services.applications import actions, declarations, reading, submission, views
from aidservice.services.applications.values import ACTIONS, NOTE_MAX, RESOLUTIONS, ActionRequest
from aidservice.services.applications.views import ApplicationView
from aidservice.services.lists import applications as lists
from aidservice.services.lists import downloads
from aidservice.unit_of_work import unit_of_work

blp = Blueprint(
    "applications",
    __name__,
    url_prefix="/api/v1/applications",
    description="Applications and their procedure: review, public notice, objection, approval",
)
OFFICERS = ("school_officer",)


class ApplicationCreateSchema(Schema):
    """A new application; `commitment_signed` must be true (the written commitment, 承诺书)."""

    student_id = fields.String(required=True, validate=validate.Length(min=1, max=32))
    school_year = fields.String(required=True, metadata={"example": "2020-2021"})
    declared = fields.Dict(
        keys=fields.String(),
        values=fields.Raw(allow_none=True),
        load_default=dict,
        metadata={
            "description": "household_size, per_capita_income, major_illness, disaster, unemployed_parent, "
            "single_parent, covid_impact, covid_infected_family, academic_rank_pct; agency "
            "statuses the family claims are compared with the records (the record wins); "
            "checked against the fact catalogue, errors named declared.<fact>",
            "example": {"household_size": 4, "per_capita_income": "5000.00", "major_illness": True},
        },
    )
    commitment_signed = fields.Raw(load_default=None, metadata={"type": "boolean", "example": True})
    out_of_province = fields.List(
        fields.Nested(lambda: DeclarationInSchema()),
        load_default=None,
        metadata={
            "description": f"statuses held in another province, each with its document (at most "
            f"{declarations.MAX_DECLARATIONS}, one per status); each is pending until the school's officer "
            "verifies it (POST .../declarations/{id}/verify), and counts only once verified; errors named "
            "out_of_province.<i>.<field>",
            "maxItems": declarations.MAX_DECLARATIONS,
        },
    )


class DocumentSchema(Schema):
    """The supporting document: its kind (建档立卡证明, 低保证, 特困供养证), who issued it, its number and date."""

    kind = fields.String(
        required=True, metadata={"example": "建档立卡证明", "maxLength": declarations.KIND_MAX}
    )
    issuer = fields.String(
        required=True, metadata={"example": "阜阳市乡村振兴局", "maxLength": declarations.ISSUER_MAX}
    )
    number = fields.String(
        required=True, metadata={"example": "AH-2020-0017", "maxLength": declarations.NUMBER_MAX}
    )
    date = fields.Date(required=True, metadata={"description": "not in the future", "example": "2020-06-30"})


class DeclarationInSchema(Schema):
    """A status held in another province: one the rule set lets a student declare (sources of kind declared)."""

    status = fields.String(
        required=True,
        metadata={
            "enum_from_rules": lambda rules: list(declarations.declarable(rules)),
            "description": "a status of the rule set's declared sources (GET /api/v1/rules, sources)",
        },
    )
    province = fields.String(
        required=True,
        metadata={"description": "another province than Jiangsu: name (安徽) or division code (34, 340000)"},
    )
    document = fields.Nested(DocumentSchema, required=True)


class VerifySchema(Schema):
    """The school's officer's finding on a declaration, naming the application version they saw."""

    result = fields.String(required=True, validate=validate.OneOf(declarations.RESULTS))
    version = fields.Integer(required=True, strict=True)
    note = fields.String(
        load_default="",
        validate=validate.Length(max=declarations.NOTE_MAX),
        metadata={"description": "required when rejected: why"},
    )


class DeclarationDocumentSchema(Schema):
    kind = fields.String(required=True)
    issuer = fields.String(required=True)
    number = fields.String(required=True)
    date = fields.Date(required=True)


class DeclarationSchema(Schema):
    """An out-of-province declaration and what the school's officer found (pending | verified | rejected)."""

    id = fields.Integer(required=True)
    position = fields.Integer(required=True)
    source = fields.String(required=True, metadata={"example": "declared_verified"})
    source_label = fields.String(required=True)
    status = fields.String(required=True)
    status_label = fields.String(required=True, metadata={"example": "外省建档立卡"})
    province = fields.String(required=True, metadata={"example": "34"})
    province_name = fields.String(required=True, metadata={"example": "安徽省"})
    document = fields.Nested(DeclarationDocumentSchema, required=True)
    state = fields.String(required=True, validate=validate.OneOf(("pending", *declarations.RESULTS)))
    state_label = fields.String(required=True)
    verified_by = fields.String(required=True, allow_none=True)
    verified_at = DateTime(required=True, allow_none=True)
    note = fields.String(required=True)


class ActionSchema(Schema):
    """One step: `version` is the one you loaded (stale → 409); `note` is the reason where one is required
    (object, resolve, reject, reassess, and a level adjustment in review)."""

    action = fields.String(required=True, validate=validate.OneOf(ACTIONS))
    version = fields.Integer(required=True, strict=True)
    note = fields.String(load_default="", validate=validate.Length(max=NOTE_MAX))
    level = fields.String(
        load_default=None,
        allow_none=True,
        validate=validate.OneOf(LEVELS),
        metadata={"description": "review: adjusted level; resolve (upheld): the new level"},
    )
    outcome = fields.String(
        load_default=None,
        allow_none=True,
        validate=validate.OneOf(RESOLUTIONS),
        metadata={"description": "resolve: upheld or dismissed"},
    )


class ApplicationListQuerySchema(ListArgsSchema):
    """The list's filter, sort and page (sort: id, student_id, name, school, class_name, grade, state, level,
    conflicts, submitted_at; newest first by default); `limit`/`offset` or `page`/`per_page`."""

    state = fields.String(load_default=None, validate=validate.OneOf(STATES))
    school_year = fields.String(load_default=None)
    limit = fields.Integer(load_default=100, validate=validate.Range(min=1, max=reading.LIST_MAX))
    offset = fields.Integer(load_default=0, validate=validate.Range(min=0, max=ROW_ID_MAX))


class StudentBriefSchema(Schema):
    """The student, ID number masked (region and check character)."""

    student_id = fields.String(required=True)
    name = fields.String(required=True)
    id_number = fields.String(required=True, metadata={"example": "320102***********1"})
    class_name = fields.String(required=True)
    stage = fields.String(required=True)
    grade = fields.Integer(required=True)


class ApplicationAwardSchema(Schema):
    program = fields.String(required=True)
    name = fields.String(required=True)
    kind = fields.String(required=True)
    amount = fields.String(required=True, allow_none=True, metadata={"example": "1250.00"})
    basis = fields.String(required=True)
    status = fields.String(required=True)
    missing = fields.List(fields.String(), required=True)


class DeclaredConflictSchema(Schema):
    """A status the family declared that the agency records contradict or lack: the record wins."""

    fact = fields.String(required=True)
    label = fields.String(required=True)
    declared = fields.Raw(required=True)
    agency = fields.Raw(required=True, allow_none=True)
    source = fields.String(required=True)
    record_ids = fields.List(fields.Integer(), required=True)
    resolution = fields.String(required=True)


class NoticeRefSchema(Schema):
    id = fields.Integer(required=True)
    published_on = fields.Date(required=True)
    closes_on = fields.Date(required=True)
    open = fields.Boolean(required=True)


class ApplicationHistorySchema(Schema):
    action = fields.String(required=True)
    from_state = fields.String(required=True)
    to_state = fields.String(required=True)
    version = fields.Integer(required=True)
    note = fields.String(required=True)
    details = fields.Dict(required=True)
    actor = fields.String(required=True)
    at = DateTime(required=True)


class ApplicationSchema(Schema):
    """An application with its evaluation, where every fact came from, conflicts, history, notice, decisions."""

    id = fields.Integer(required=True)
    student = fields.Nested(StudentBriefSchema, required=True)
    school_code = fields.String(required=True)
    school_year = fields.String(required=True)
    state = fields.String(required=True, validate=validate.OneOf(STATES))
    version = fields.Integer(required=True)
    allowed_actions = fields.List(fields.String(), required=True)
    commitment_signed_at = DateTime(required=True)
    declared = fields.Dict(required=True)
    as_of = fields.Date(required=True)
    rule_set_version = fields.String(required=True)
    level = fields.String(required=True, validate=validate.OneOf(LEVELS))
    evaluated_level = fields.String(required=True, validate=validate.OneOf(LEVELS))
    level_adjustment = fields.Dict(required=True, allow_none=True)
    reasons = fields.List(fields.Dict(), required=True)
    awards = fields.List(fields.Nested(ApplicationAwardSchema), required=True)
    total = fields.String(required=True, metadata={"example": "1250.00"})
    missing = fields.List(fields.String(), required=True)
    facts = fields.Dict(
        keys=fields.String(),
        values=fields.Dict(),
        required=True,
        metadata={
            "description": "{fact: {value, source, record_ids}}; source roster | school | declared | an agency | "
            "a declared source (declared_verified: a verified out-of-province status, with declaration_ids)"
        },
    )
    conflicts = fields.List(fields.Nested(DeclaredConflictSchema), required=True)
    out_of_province = fields.List(fields.Nested(DeclarationSchema), required=True)
    notice = fields.Nested(NoticeRefSchema, required=True, allow_none=True)
    history = fields.List(fields.Nested(ApplicationHistorySchema), required=True)
    decisions = fields.List(fields.Dict(), required=True)
    submitted_at = DateTime(required=True)
    created_by = fields.String(required=True)
    updated_at = DateTime(required=True)


class ApplicationItemSchema(Schema):
    id = fields.Integer(required=True)
    student = fields.Nested(StudentBriefSchema, required=True)
    school_code = fields.String(required=True)
    school_name = fields.String(required=True)
    region_code = fields.String(metadata={"description": "the school's county (lists)", "example": "320102"})
    region_name = fields.String(metadata={"description": "the county's name (lists)", "example": "玄武区"})
    school_year = fields.String(required=True)
    state = fields.String(required=True)
    version = fields.Integer(required=True)
    level = fields.String(required=True)
    conflicts = fields.Integer(required=True)
    notice_closes_on = fields.Date(required=True, allow_none=True)
    submitted_at = DateTime(required=True)


class ApplicationListSchema(Schema):
    items = fields.List(fields.Nested(ApplicationItemSchema), required=True)
    total = fields.Integer(required=True)
    page = fields.Integer(required=True)
    per_page = fields.Integer(required=True)
    pages = fields.Integer(required=True)


@blp.route("", methods=["POST"])
@require_user(OFFICERS)
@blp.alt_response(401, response="UNAUTHORIZED", description="No valid bearer token")
@blp.arguments(ApplicationCreateSchema)
@blp.response(201, ApplicationSchema)
@blp.alt_response(403, response="FORBIDDEN", description="Not the officer of the student's school")
@blp.alt_response(404, response="NOT_FOUND", description="No such student")
@blp.alt_response(409, response="CONFLICT", description="An open or approved application exists for the year")
def create(body: dict[str, Any]) -> ApplicationView:
    """Take an application with the signed commitment; evaluates it at once (level, awards, reasons, sources)."""
    settings = wiring.settings()
    with unit_of_work() as uow:
        application = submission.create_application(
            uow.session,
            actor=current_actor(),
            settings=settings,
            payload=body,
            request_id=current_request_id(),
        )
        view = views.application_view(uow.session, application, settings)
    return view


@blp.route("", methods=["GET"])
@require_user()
@blp.alt_response(401, response="UNAUTHORIZED", description="No valid bearer token")
@blp.arguments(ApplicationListQuerySchema, location="query")
@blp.response(200, ApplicationListSchema)
@blp.doc(responses={"200": list_response("ApplicationList")})
@read_only_when(json_wanted)
def list_(query: dict[str, Any]) -> Response:
    """Applications in your scope (ID numbers masked), newest first; filter by school, state, level, special group,
    grade, class, school year, search, sort; a JSON page, or every row as CSV or XLSX (audited)."""
    flt = parse("applications")
    settings = wiring.settings()
    made = download(
        query["format"],
        downloads.application_export,
        settings=settings,
        flt=flt,
        school_year=query["school_year"],
    )
    if made is not None:
        return made
    paged = "page" in request.args or "per_page" in request.args
    # the service builds each item in ApplicationItemSchema's shape (tests/api/test_applications.py holds it equal
    # to the schema's dump), so the hundred items skip the marshmallow pass
    return dumped_response(
        lists.page(
            db.session(),
            actor=current_actor(),
            settings=settings,
            flt=flt,
            school_year=query["school_year"],
            limit=None if paged else query["limit"],
            offset=None if paged else query["offset"],
        )
    )


@blp.route("/<int:application_id>", methods=["GET"])
@require_user()
@blp.alt_response(401, response="UNAUTHORIZED", description="No valid bearer token")
@blp.response(200, ApplicationSchema)
@blp.alt_response(403, response="FORBIDDEN", description="Outside your scope")
@blp.alt_response(404, response="NOT_FOUND", description="No such application")
@read_only
def get(application_id: int) -> ApplicationView:
    """One application with state, version, allowed actions, history, notice and decisions."""
    return reading.get_application(
        db.session(), actor=current_actor(), settings=wiring.settings(), application_id=application_id
    )


@blp.route("/<int:application_id>/actions", methods=["POST"])
@require_user(OFFICERS)
@blp.alt_response(401, response="UNAUTHORIZED", description="No valid bearer token")
@blp.arguments(ActionSchema)
@blp.response(200, ApplicationSchema)
@blp.alt_response(
    409, response="CONFLICT", description="Stale version, action not allowed now, notice still open"
)
def act(body: dict[str, Any], application_id: int) -> ApplicationView:
    """review · publish_notice · object · resolve · approve · reject · reassess, naming the version you saw."""
    settings = wiring.settings()
    with unit_of_work() as uow:
        application = actions.act(
            uow.session,
            actor=current_actor(),
            settings=settings,
            application_id=application_id,
            request=ActionRequest(
                action=body["action"],
                version=body["version"],
                note=body["note"],
                level=body["level"],
                outcome=body["outcome"],
            ),
            request_id=current_request_id(),
        )
        view = views.application_view(uow.session, application, settings)
    return view


@blp.route("/<int:application_id>/declarations/<int:declaration_id>/verify", methods=["POST"])
@require_user(OFFICERS)
@blp.alt_response(401, response="UNAUTHORIZED", description="No valid bearer token")
@blp.arguments(VerifySchema)
@blp.response(200, ApplicationSchema)
@blp.alt_response(403, response="FORBIDDEN", description="Not the officer of the application's school")
@blp.alt_response(404, response="NOT_FOUND", description="No such application or declaration")
@blp.alt_response(
    409, response="CONFLICT", description="Stale version, application past submitted, declaration decided"
)
def verify_declaration(body: dict[str, Any], application_id: int, declaration_id: int) -> ApplicationView:
    """Verify (核实) or reject (不予核实, with a reason) an out-of-province declaration before review; a verified
    one counts as the Jiangsu status does and the application is evaluated again at once."""
    settings = wiring.settings()
    with unit_of_work() as uow:
        application = declarations.verify(
            uow.session,
            actor=current_actor(),
            settings=settings,
            application_id=application_id,
            declaration_id=declaration_id,
            request=declarations.VerifyRequest(body["result"], body["version"], body["note"]),
            request_id=current_request_id(),
        )
        view = views.application_view(uow.session, application, settings)
    return view
