"""Periodic reports: GET /api/v1/reports/{kind} (JSON, CSV, XLSX, HTML; streamed) and the archive of scheduled ones."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from flask import Response, stream_with_context
from marshmallow import Schema, fields, validate
from sqlalchemy.orm import Session

from aidservice import wiring
from aidservice.api.auth import current_actor, require_user
from aidservice.api.common import ROW_ID_MAX, Blueprint
from aidservice.extensions import db
from aidservice.requestid import current_request_id
from aidservice.services import reports
from aidservice.services.reports import archive
from aidservice.unit_of_work import unit_of_work

blp = Blueprint(
    "reports",
    __name__,
    url_prefix="/api/v1/reports",
    description="Periodic reports: special-group coverage, programs, regions; the archive",
)

HTML_POLICY = "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"


class ReportQuerySchema(Schema):
    """Checked by the service, so a bad value is a 422 naming its field (and an unknown kind a 404 first)."""

    period = fields.String(
        load_default=None,
        metadata={
            "description": "2020-2021-autumn, 2020-2021-spring, 2020-2021 or 2020-09-01..2021-01-31",
            "example": "2020-2021-autumn",
        },
    )
    region = fields.String(
        load_default=None,
        metadata={
            "description": "320000, a city, a county or a school code; default: your scope",
            "example": "320100",
        },
    )
    format = fields.String(load_default="json", metadata={"description": "json | csv | xlsx | html"})
    as_of = fields.String(
        load_default=None,
        metadata={
            "description": "regenerate from history as of this ISO time (naive = Jiangsu time); default: now",
            "example": "2021-03-01T00:00:00+08:00",
        },
    )


class ArchiveQuerySchema(Schema):
    kind = fields.String(load_default=None)
    period = fields.String(load_default=None)
    region = fields.String(load_default=None)
    limit = fields.Integer(load_default=100, validate=validate.Range(min=1, max=archive.LIST_MAX))
    offset = fields.Integer(load_default=0, validate=validate.Range(min=0, max=ROW_ID_MAX))


class ArchiveEntrySchema(Schema):
    """An archived report: what makes it reproducible and the hash of its bytes."""

    id = fields.Integer(required=True)
    kind = fields.String(required=True)
    period = fields.String(required=True)
    region = fields.String(required=True)
    region_level = fields.String(required=True)
    format = fields.String(required=True)
    as_of = fields.String(required=True)
    rule_set_versions = fields.Dict(required=True)
    feed_watermark = fields.List(fields.Dict(), required=True)
    empty = fields.Boolean(required=True)
    filename = fields.String(required=True)
    media_type = fields.String(required=True)
    size = fields.Integer(required=True)
    content_hash = fields.String(required=True)
    trigger = fields.String(required=True)
    created_by = fields.String(required=True)
    created_at = fields.String(required=True)


class ArchiveListSchema(Schema):
    items = fields.List(fields.Nested(ArchiveEntrySchema), required=True)
    total = fields.Integer(required=True)


@blp.route("/archive", methods=["GET"])
@require_user()
@blp.alt_response(401, response="UNAUTHORIZED", description="No valid bearer token")
@blp.arguments(ArchiveQuerySchema, location="query")
@blp.response(200, ArchiveListSchema)
def list_archive(query: dict[str, Any]) -> archive.ArchiveList:
    """Archived (scheduled) reports within your scope, newest first."""
    return archive.list_archive(db.session(), actor=current_actor(), settings=wiring.settings(), **query)


@blp.route("/archive/<int:report_id>", methods=["GET"])
@require_user()
@blp.alt_response(401, response="UNAUTHORIZED", description="No valid bearer token")
@blp.alt_response(403, response="FORBIDDEN", description="The report's region is outside your scope")
@blp.alt_response(404, response="NOT_FOUND", description="No such archived report")
@blp.response(200, description="The archived file, byte for byte (its sha256 is X-Content-SHA256)")
def download(report_id: int) -> Response:
    """Download an archived report."""
    with unit_of_work() as uow:
        entry, content = archive.download(
            uow.session,
            actor=current_actor(),
            settings=wiring.settings(),
            report_id=report_id,
            request_id=current_request_id(),
        )
    # content_type, not mimetype: the media type names its charset already (werkzeug would add a second one)
    response = Response(
        content,
        content_type=entry["media_type"],
        headers={
            "Content-Disposition": f'attachment; filename="{entry["filename"]}"',
            "X-Content-SHA256": entry["content_hash"],
            "X-Report-As-Of": entry["as_of"],
        },
    )
    if entry["format"] == "html":
        response.headers["Content-Security-Policy"] = HTML_POLICY
    return response


@blp.route("/<kind>", methods=["GET"])
@require_user()
@blp.alt_response(401, response="UNAUTHORIZED", description="No valid bearer token")
@blp.alt_response(403, response="FORBIDDEN", description="Region outside your scope, or an agency token")
@blp.alt_response(404, response="NOT_FOUND", description="No such report kind")
@blp.arguments(ReportQuerySchema, location="query")
@blp.response(
    200, description="The report: JSON, CSV (UTF-8 with BOM), XLSX or a printable HTML page; streamed"
)
def get_report(query: dict[str, Any], kind: str) -> Response:
    """A report (`special-groups`, `programs`, `regions`, `dropout_control`) for a period and region, as of now or a past time."""
    reports.check_kind(kind)
    actor = current_actor()
    # committed before streaming: the audit event is kept if the client stops reading
    with unit_of_work() as uow:
        made = reports.generate(
            uow.session,
            actor=actor,
            settings=wiring.settings(),
            kind=kind,
            period=query["period"],
            region=query["region"],
            fmt=query["format"],
            as_of=query["as_of"],
            request_id=current_request_id(),
        )
    session = uow.session  # the request's session: the stream goes on using it after the request context ends
    disposition = "inline" if made.format in ("json", "html") else "attachment"
    # the request context is kept while the body streams, so the session and the app stay reachable
    # content_type, not mimetype: the media type names its charset already (werkzeug would add a second one)
    response = Response(
        stream_with_context(_closing(made.chunks, session)),
        content_type=made.media_type,
        headers={
            "Content-Disposition": f'{disposition}; filename="{made.filename}"',
            "X-Report-As-Of": made.as_of,
        },
    )
    if made.format == "html":
        response.headers["Content-Security-Policy"] = HTML_POLICY
    return response


def _closing(chunks: Iterator[bytes], session: Session) -> Iterator[bytes]:
    """Stream the report, then end the session's read transaction (also when the client goes away)."""
    try:
        yield from chunks
    finally:
        session.close()
