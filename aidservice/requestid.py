"""A request id per request: taken from X-Request-ID when sane, else generated; echoed on every response."""

from __future__ import annotations

import re
import uuid

from flask import Flask, Response, has_request_context, request

HEADER = "X-Request-ID"
ENVIRON_KEY = "aidservice.request_id"  # on the request itself: `g` can outlive one request (tests, CLI)
SANE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")
"""Ids we accept from clients: short and harmless in logs and headers (no spaces, no control characters)."""


def current_request_id() -> str:
    """This request's id, assigning one if the request did not get that far."""
    if not has_request_context():
        return ""
    if ENVIRON_KEY not in request.environ:
        incoming = request.headers.get(HEADER, "")
        request.environ[ENVIRON_KEY] = incoming if SANE.fullmatch(incoming) else uuid.uuid4().hex
    return request.environ[ENVIRON_KEY]


def _assign() -> None:
    current_request_id()  # a before_request function must return None, or it becomes the response


def _echo(response: Response) -> Response:
    response.headers[HEADER] = current_request_id()
    return response


def init_request_id(app: Flask) -> None:
    """Assign the id before any view runs and echo it on every response, errors included."""
    app.before_request(_assign)
    app.after_request(_echo)
