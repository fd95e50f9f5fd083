"""One central error handler: every error under /api becomes application/problem+json, elsewhere an HTML page."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from contextlib import suppress
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

import marshmallow as ma
from flask import Flask, Response, current_app, render_template, request
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.exceptions import HTTPException, InternalServerError

from aidservice.dbfaults import database_fault
from aidservice.engine import FactsError, OutsideCoverage
from aidservice.extensions import db
from aidservice.requestid import current_request_id
from aidservice.services.errors import DomainError

PROBLEM_TYPE_BASE = "https://aidservice.jiangsu/problems/"
PROBLEM_MIMETYPE = "application/problem+json"
API_PREFIX = "/api"
WEB_BLUEPRINT = "web"  # aidservice.web's blueprint, whose layout the HTML error page extends

TYPE_SUFFIXES = {
    400: "bad-request",
    401: "unauthorized",
    403: "forbidden",
    404: "not-found",
    405: "method-not-allowed",
    409: "conflict",
    413: "payload-too-large",
    415: "unsupported-media-type",
    422: "validation-error",
    429: "too-many-requests",
    500: "internal-error",
    503: "service-unavailable",
}
TITLES = {422: "Validation failed"}
"""Titles that read better than the HTTP reason phrase (and match ValidationFailed's)."""
WEBARGS_LOCATIONS = {
    "json": "body",
    "json_or_form": "body",
    "form": "body",
    "files": "body",
    "query": "query",
    "querystring": "query",
    "headers": "headers",
    "cookies": "cookies",
    "view_args": "path",
    "path": "path",
}
"""webargs' locations, and the name a bare message for the whole location is given."""
INVALID_FIELDS = "The request has invalid fields; see errors."
UNEXPECTED = "The server could not complete the request. Quote the request id when reporting this."


class ProblemRowSchema(ma.Schema):
    """One problem of a refused file: its row as the spreadsheet numbers it, the field and its header."""

    row = ma.fields.Integer(
        required=True, metadata={"description": "The row number as the spreadsheet shows it"}
    )
    field = ma.fields.String(required=True, metadata={"description": "The field (column name in English)"})
    column = ma.fields.String(required=True, metadata={"description": "The column's Chinese header"})
    message = ma.fields.String(required=True, metadata={"description": "What is wrong, in Chinese"})


class ProblemSchema(ma.Schema):
    """RFC 9457 problem details as this service sends them (documentation only; responses are built by hand)."""

    type = ma.fields.String(
        required=True,
        metadata={
            "description": "URI naming the kind of problem",
            "example": PROBLEM_TYPE_BASE + "not-found",
        },
    )
    title = ma.fields.String(required=True, metadata={"description": "Short summary of the kind of problem"})
    status = ma.fields.Integer(required=True, metadata={"description": "HTTP status code"})
    detail = ma.fields.String(required=True, metadata={"description": "What went wrong in this request"})
    errors = ma.fields.Dict(
        keys=ma.fields.String(),
        values=ma.fields.List(ma.fields.String()),
        required=True,
        metadata={
            "description": "Messages per field; nested fields joined with '.', e.g. facts.grade",
            "example": {"facts.foo": ["unknown fact"]},
        },
    )
    request_id = ma.fields.String(
        required=True,
        metadata={"description": "Echo of the X-Request-ID response header; quote it in reports"},
    )
    rows = ma.fields.List(
        ma.fields.Nested(ProblemRowSchema),
        metadata={
            "description": "A refused file's problems by row and column (the roster import), at most 500"
        },
    )
    total_errors = ma.fields.Integer(
        metadata={"description": "How many problems the refused file has in all (`rows` lists at most 500)"}
    )


@dataclass(frozen=True, slots=True)
class Problem:
    """What the client is told about one error, independent of how it is rendered."""

    status: int
    title: str
    detail: str
    type_suffix: str
    errors: dict[str, list[str]] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)  # extension members (RFC 9457 §3.2)

    def to_json(self, request_id: str) -> dict[str, Any]:
        """The problem+json body."""
        return {
            **self.extra,
            "type": PROBLEM_TYPE_BASE + self.type_suffix,
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
            "errors": self.errors,
            "request_id": request_id,
        }


def flatten_messages(messages: Any, prefix: str = "") -> dict[str, list[str]]:
    """Turn marshmallow's nested messages into {"facts.grade": [...]}; `_schema` belongs to its parent."""
    if isinstance(messages, Mapping):
        flat: dict[str, list[str]] = {}
        for key, value in messages.items():
            path = prefix if key == "_schema" else _join(prefix, str(key))
            for name, texts in flatten_messages(value, path).items():
                flat.setdefault(name, []).extend(texts)
        return flat
    if isinstance(messages, str):
        return {prefix or "body": [messages]}
    if isinstance(messages, Iterable):
        flat = {}
        for item in messages:
            for name, texts in flatten_messages(item, prefix).items():
                flat.setdefault(name, []).extend(texts)
        return flat
    return {prefix or "body": [str(messages)]}


def _join(prefix: str, key: str) -> str:
    return f"{prefix}.{key}" if prefix else key


def webargs_messages(messages: Mapping[str, Any]) -> dict[str, list[str]]:
    """webargs keys messages by location ({"json": {...}}); fields are named without it, bare lists by it."""
    flat: dict[str, list[str]] = {}
    for location, value in messages.items():
        name = WEBARGS_LOCATIONS.get(location)
        if name is None:
            found = flatten_messages({location: value})
        elif isinstance(value, Mapping):
            found = flatten_messages(value)
        else:
            found = flatten_messages(value, name)
        for key, texts in found.items():
            flat.setdefault(key, []).extend(texts)
    return flat


def problem_for(error: BaseException) -> Problem:
    """Classify any exception as a Problem; anything unforeseen is a 500 that reveals nothing internal."""
    if isinstance(error, DomainError):
        headers = dict(getattr(error, "headers", None) or {})  # e.g. Retry-After of a 429
        return Problem(
            error.status,
            error.title,
            error.detail,
            error.type_suffix,
            error.errors,
            headers,
            dict(getattr(error, "extra", {})),
        )
    if isinstance(error, FactsError):
        errors = flatten_messages(error.errors, "facts")
        return Problem(422, TITLES[422], "The facts are invalid; see errors.", "validation-error", errors)
    if isinstance(
        error, OutsideCoverage
    ):  # any path that reached the engine with a date the rules do not cover
        return Problem(422, TITLES[422], INVALID_FIELDS, "validation-error", {"as_of": [str(error)]})
    if isinstance(error, HTTPException) and error.code is not None:
        return _http_problem(error)
    fault = database_fault(error)
    if fault is not None:
        return Problem(fault.status, fault.title, fault.detail, fault.type_suffix, headers=fault.headers)
    return _http_problem(InternalServerError(UNEXPECTED))


def _http_problem(error: HTTPException) -> Problem:
    """Problem for a werkzeug HTTP error, including webargs' 400/422 with their per-field messages."""
    code = error.code or 500
    data = getattr(error, "data", None) or {}
    errors = webargs_messages(data.get("messages") or {}) if isinstance(data, Mapping) else {}
    detail = _http_detail(error, code, errors)
    headers = {k: v for k, v in error.get_headers() if k.lower() != "content-type"}
    if isinstance(data, Mapping):
        headers.update(data.get("headers") or {})
    return Problem(code, _title(code, error), detail, _type_suffix(code, error), errors, headers)


def _http_detail(error: HTTPException, code: int, errors: Mapping[str, list[str]]) -> str:
    """A sentence a client developer can act on."""
    if code == 422:
        return INVALID_FIELDS
    if code == 400 and errors:
        return "The request body could not be read; see errors."
    if code == 413:
        limit = request.max_content_length  # the route's own limit when it set one (aidservice.jsonbody)
        return (
            f"The request body is larger than the limit of {limit} bytes."
            if limit
            else "The body is too large."
        )
    if code == 500:
        return UNEXPECTED  # whatever the exception said stays in the log
    return error.description or _title(code, error)


def _title(code: int, error: HTTPException) -> str:
    if code in TITLES:
        return TITLES[code]
    try:
        return HTTPStatus(code).phrase
    except ValueError:
        return error.name


def _type_suffix(code: int, error: HTTPException) -> str:
    return TYPE_SUFFIXES.get(code) or error.name.lower().replace(" ", "-")


def wants_problem_json() -> bool:
    """The JSON API answers with problem+json; the web UI with HTML pages (its error page is one of them, so an
    API-only app, `create_app(web=False)`, answers every path with problem+json)."""
    if WEB_BLUEPRINT not in current_app.blueprints:
        return True
    return request.path == API_PREFIX or request.path.startswith(API_PREFIX + "/")


def handle_error(error: Exception) -> Response | HTTPException:
    """The one error handler: classify, log what the client must not see, render for API or UI."""
    if isinstance(error, HTTPException) and (error.code is None or error.code < 400):
        return error  # redirects and the like are responses, not errors
    problem = problem_for(error)
    request_id = current_request_id()
    _log(error, problem, request_id)
    if database_fault(error) is not None:
        _discard_connections()
    if wants_problem_json():
        response = current_app.response_class(
            current_app.json.dumps(problem.to_json(request_id)), problem.status, mimetype=PROBLEM_MIMETYPE
        )
    else:
        html = render_template("error.html", problem=problem, request_id=request_id)
        response = current_app.response_class(html, problem.status, mimetype="text/html")
    response.headers.update(problem.headers)
    return response


def _log(error: Exception, problem: Problem, request_id: str) -> None:
    """A bug is logged with its traceback; a database fault by its code only (its text may quote personal data)."""
    fault = database_fault(error)
    if fault is not None:
        current_app.logger.warning(
            "database fault %s (%s), request %s", fault.type_suffix, fault.code, request_id
        )
    elif problem.status >= 500:
        current_app.logger.error("unhandled error, request %s", request_id, exc_info=error)


def _discard_connections() -> None:
    """After a database fault the request's connection may be dead: close it rather than pool it again."""
    db.session().invalidate()  # the scoped_session does not proxy invalidate


def end_session(_error: BaseException | None) -> None:
    """Close the request's session; a database lost after the answer was made must not turn it into a 500.

    Registered after Flask-SQLAlchemy's teardown, so it runs before it (teardowns run in reverse order)
    and leaves it nothing to close.
    """
    try:
        db.session.remove()
    except SQLAlchemyError as error:
        fault = database_fault(error)
        if fault is None:
            raise
        current_app.logger.warning(
            "database fault %s (%s) while closing the session, request %s",
            fault.type_suffix,
            fault.code,
            current_request_id(),
        )
        with suppress(SQLAlchemyError):
            db.session().invalidate()
        db.session.registry.clear()


def register_error_handlers(app: Flask) -> None:
    """Route every exception to `handle_error`; HTTPException too, replacing flask-smorest's JSON handler."""
    app.register_error_handler(HTTPException, handle_error)
    app.register_error_handler(Exception, handle_error)
    app.teardown_appcontext(end_session)
