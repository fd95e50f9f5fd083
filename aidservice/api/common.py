"""What every API resource shares: a blueprint that insists on JSON bodies, row ids in paths, UTC timestamps."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime
from typing import Any, TypeVar

import flask_smorest
from flask import Request, Response, jsonify
from marshmallow import Schema, ValidationError, fields
from webargs import core
from webargs.flaskparser import FlaskParser, is_json_request
from werkzeug.exceptions import UnsupportedMediaType
from werkzeug.routing import IntegerConverter, Map

from aidservice.api.auth import current_actor
from aidservice.requestid import current_request_id
from aidservice.services.lists.export import Export
from aidservice.unit_of_work import unit_of_work

F = TypeVar("F", bound=Callable[..., Any])
ROW_ID_MAX = 2**31 - 1
"""The largest id an INTEGER primary key holds on PostgreSQL; also a bound for offsets."""


class JsonBodyParser(FlaskParser):
    """webargs parser that answers 415 for a non-JSON body instead of reporting every field missing, and reads
    the body with the request's bounded parser (aidservice.jsonbody), parsed once per request."""

    def load_json(self, req: Request, schema: Schema) -> Any:
        if not is_json_request(req):
            got = req.mimetype or "no content type"
            raise UnsupportedMediaType(f"Send the request body as application/json (got {got}).")
        return super().load_json(req, schema)

    def _raw_load_json(self, req: Request) -> Any:
        if not is_json_request(req):
            return core.missing
        return req.get_json(force=True)  # malformed: the request's 400 naming `body`


class Blueprint(flask_smorest.Blueprint):
    """flask-smorest blueprint with our JSON-only body parser, which documents the refusals it makes."""

    ARGUMENTS_PARSER = JsonBodyParser()

    def arguments(self, schema: Any, *, location: str = "json", **kwargs: Any) -> Callable[[F], F]:
        """As flask-smorest's, and a JSON body documents 400 (not JSON), 413 (too large) and 415 (not JSON).

        A schema class is instantiated here, once: webargs would build a new instance on every request.
        """
        if isinstance(schema, type):
            schema = schema()
        parse = super().arguments(schema, location=location, **kwargs)
        if location != "json":
            return parse
        refusals = [(400, "BAD_REQUEST"), (413, "REQUEST_ENTITY_TOO_LARGE"), (415, "UNSUPPORTED_MEDIA_TYPE")]

        def decorate(view: F) -> F:
            documented = parse(view)
            doc = documented._apidoc.setdefault("response", {}).setdefault("responses", {})  # type: ignore[attr-defined]
            for status, name in refusals:
                doc.setdefault(status, [name])
            return documented

        return decorate


class RowIdConverter(IntegerConverter):
    """`<int:id>` in paths: an id beyond the database's integer range is no such row (404), never an overflow."""

    def __init__(self, map: Map, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max", ROW_ID_MAX)
        super().__init__(map, *args, **kwargs)


YEARS = (1900, 2100)
"""Dates a request may carry (evaluation dates, notice periods): outside them a 422 naming the field."""


class Date(fields.Date):
    """An ISO 8601 date in a request, in the years YEARS."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> date:
        day = super()._deserialize(value, attr, data, **kwargs)
        if not YEARS[0] <= day.year <= YEARS[1]:
            raise ValidationError(f"must be a date in the years {YEARS[0]}-{YEARS[1]}")
        return day


class DateTime(fields.DateTime):
    """An instant as ISO 8601 with its offset; SQLite hands back naive UTC values, which would read as local."""

    def _serialize(
        self, value: datetime | None, attr: str | None, obj: Any, **kwargs: Any
    ) -> str | float | None:
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return super()._serialize(value, attr, obj, **kwargs)


def as_dumped(value: Any) -> Any:
    """What a schema of plain fields (String, Integer, Date, our DateTime, nested ones) makes of data that
    already has exactly the schema's keys and types: the same value with dates and instants as ISO text."""
    if isinstance(value, dict):
        return {key: as_dumped(item) for key, item in value.items()}
    if isinstance(value, list):
        return [as_dumped(item) for item in value]
    if isinstance(value, datetime):
        return (value if value.tzinfo is not None else value.replace(tzinfo=UTC)).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return value


def dumped_response(data: Mapping[str, Any]) -> Response:
    """A view's answer without the marshmallow pass (flask-smorest sends a Response as it is): for hot routes
    whose data the service already builds in the documented shape; a test holds it equal to the schema's dump."""
    return jsonify(as_dumped(data))


def file_response(made: Export) -> Response:
    """A finished download as an attachment."""
    return Response(
        made.content,
        content_type=made.media_type,
        headers={"Content-Disposition": f'attachment; filename="{made.filename}"'},
    )


def download(fmt: str, export: Callable[..., Export], **arguments: Any) -> Response | None:
    """A list's file for format=csv or xlsx: the export (which audits the download) in its own unit of work, sent
    as an attachment; None for format=json, where the caller answers with the page."""
    if fmt == "json":
        return None
    with unit_of_work() as uow:
        made = export(
            uow.session, actor=current_actor(), request_id=current_request_id(), fmt=fmt, **arguments
        )
    return file_response(made)
