"""What-if as a background job: a draft rule set against the running rules on the real roster, one date.

The draft is a folder deployed on the server (AID_DRAFT_RULES_DIR/<name>, listed by `GET /whatif/drafts`):
the way a province reviews and ships rules. For a quick trial an administrator may upload a ZIP of a rules
folder instead (`POST /whatif/upload`, bounded and checked, YAML only). Administrators only, within their
region; the job's result holds the totals (no student) and the URL of the XLSX workbook that lists every
changing student with a masked ID number, downloadable by administrators over the region and auditors.
"""

from __future__ import annotations

from typing import Any

from flask import Response, current_app
from flask_smorest.fields import Upload
from marshmallow import Schema, fields

from aidservice.api.auth import current_actor, require_user
from aidservice.api.common import Blueprint
from aidservice.api.jobs import KEY_FIELD, JobSchema, idempotency_key, submit
from aidservice.extensions import db
from aidservice.jobs import kinds
from aidservice.jobs.whatif_job import zip_limits
from aidservice.services.actors import ADMIN_ROLES
from aidservice.services.determinations import whatif_drafts, whatif_files
from aidservice.services.errors import PayloadTooLarge
from aidservice.wiring import settings

blp = Blueprint(
    "whatif",
    __name__,
    url_prefix="/api/v1/whatif",
    description="What-if: draft rules against the running rules at the same date, as a job with an XLSX",
)
READERS = (*ADMIN_ROLES, "auditor")
JOB_HEADERS = {"Location": {"description": "the job", "schema": {"type": "string"}}}


class WhatIfSchema(Schema):
    """Compare a server draft (by name; none: the running rules against themselves, so no change)."""

    draft = fields.String(load_default=None, metadata={"example": "2021-raise-living-subsidy"})
    region = fields.String(
        load_default=None, metadata={"description": "default: your region", "example": "320100"}
    )
    as_of = fields.Date(load_default=None, metadata={"description": "default: this semester's first day"})
    key = KEY_FIELD


class WhatIfFormSchema(Schema):
    region = fields.String(load_default=None, metadata={"example": "320100"})
    as_of = fields.Date(load_default=None)
    key = KEY_FIELD


class WhatIfFileSchema(Schema):
    file = Upload(required=True, metadata={"description": "ZIP of a rules folder: .yaml files only"})


class DraftSchema(Schema):
    name = fields.String(required=True)
    modified = fields.DateTime(required=True)


class DraftListSchema(Schema):
    items = fields.List(fields.Nested(DraftSchema), required=True)


@blp.route("/drafts", methods=["GET"])
@require_user(READERS)
@blp.alt_response(401, response="UNAUTHORIZED", description="No valid bearer token")
@blp.alt_response(403, response="FORBIDDEN", description="Not an administrator or auditor")
@blp.response(200, DraftListSchema)
def list_drafts() -> dict[str, Any]:
    """The draft rule folders deployed on this server (AID_DRAFT_RULES_DIR)."""
    return {"items": whatif_drafts.list_drafts(current_app.config["AID_DRAFT_RULES_DIR"])}


@blp.route("", methods=["POST"])
@require_user(ADMIN_ROLES)
@blp.alt_response(401, response="UNAUTHORIZED", description="No valid bearer token")
@blp.arguments(WhatIfSchema)
@blp.response(202, JobSchema, headers=JOB_HEADERS)
@blp.alt_response(403, response="FORBIDDEN", description="Not an administrator over this region")
@blp.alt_response(404, response="NOT_FOUND", description="No draft of that name on this server")
@blp.alt_response(409, response="CONFLICT", description="The key was used with other parameters")
@blp.alt_response(415, response="UNSUPPORTED_MEDIA_TYPE", description="Body is not application/json")
def post_whatif(body: dict[str, Any]) -> Response:
    """Compare a server draft with the running rules as a job (422 listing the rule issues of a broken draft,
    or naming `as_of` outside either rule set's coverage); `result.download` is the workbook."""
    key = idempotency_key(body["key"])
    params, scope = kinds.prepare_whatif(
        db.session(),
        actor=current_actor(),
        settings=settings(),
        config=current_app.config,
        region=body["region"],
        as_of=body["as_of"],
        draft=body["draft"],
        upload=None,
    )
    return submit(kinds.WHATIF, params, scope, key)


@blp.route("/upload", methods=["POST"])
@require_user(ADMIN_ROLES)
@blp.alt_response(401, response="UNAUTHORIZED", description="No valid bearer token")
@blp.arguments(WhatIfFormSchema, location="form")
@blp.arguments(WhatIfFileSchema, location="files")
@blp.response(202, JobSchema, headers=JOB_HEADERS)
@blp.alt_response(403, response="FORBIDDEN", description="Not an administrator over this region")
@blp.alt_response(409, response="CONFLICT", description="The key was used with another file")
@blp.alt_response(
    413, response="REQUEST_ENTITY_TOO_LARGE", description="Archive over AID_WHATIF_ZIP_MAX_BYTES"
)
def post_whatif_upload(form: dict[str, Any], files: dict[str, Any]) -> Response:
    """Compare an uploaded ZIP of a rules folder with the running rules as a job (bounded: size, entries,
    depth, inflated size; no absolute path or `..`; YAML only)."""
    upload = files["file"]
    limit = zip_limits(current_app.config).max_bytes
    data = upload.stream.read(limit + 1)
    if len(data) > limit:
        raise PayloadTooLarge(
            f"The rules archive is larger than {limit} bytes.", {"file": [f"over {limit} bytes"]}
        )
    key = idempotency_key(form["key"])
    params, scope = kinds.prepare_whatif(
        db.session(),
        actor=current_actor(),
        settings=settings(),
        config=current_app.config,
        region=form["region"],
        as_of=form["as_of"],
        draft=None,
        upload=(upload.filename or "rules.zip", data),
    )
    return submit(kinds.WHATIF, params, scope, key, payload=data)


@blp.route("/<int:job_id>/xlsx", methods=["GET"])
@require_user(READERS)
@blp.alt_response(401, response="UNAUTHORIZED", description="No valid bearer token")
@blp.alt_response(403, response="FORBIDDEN", description="Not an administrator or auditor")
@blp.alt_response(404, response="NOT_FOUND", description="No finished what-if job of that id in your scope")
@blp.response(200, description="The workbook: a summary sheet and every changing student (masked ID numbers)")
def download(job_id: int) -> Response:
    """The what-if job's XLSX workbook."""
    found = whatif_files.download(db.session(), actor=current_actor(), job_id=job_id)
    return Response(
        found.content,
        content_type=found.media_type,
        headers={
            "Content-Disposition": f'attachment; filename="{found.filename}"',
            "Cache-Control": "no-store",
        },
    )
