"""Structured logs: one JSON object per line on stderr, with the request id, and one access line per request.

Under gunicorn its own error and access lines go through the same formatter (aidservice/gunicorn_conf.py's
logconfig_dict): the server's access line carries the request id the app answered with, so one id joins the app's
lines and the server's for a request. Times are UTC with milliseconds (2026-12-07T21:54:12.345Z).

Personal data stays out by construction (the access line names the route rule, not the path, and the actor
by kind and number, not by name; the server's access line has no path, query, address or user agent at all); as
defence in depth the formatter masks anything shaped like an ID number
in the finished line (message, extra fields and tracebacks alike) before it is written.
"""

from __future__ import annotations

import logging
import re
import sys
import time
from collections.abc import Mapping
from typing import Any

from flask import Flask, Response, has_request_context, request
from flask.logging import default_handler
from pythonjsonlogger.json import JsonFormatter

from aidservice.requestid import current_request_id

LOGGER_NAME = "aidservice"
ACCESS_LOGGER = "aidservice.access"
START_KEY = "aidservice.request_started"
ACTOR_KEYS = ("aidservice.actor", "aidservice.web_actor")
"""Where the API's bearer auth and the web UI's session put the request's Actor (api/auth.py, web/session.py)."""
ID_NUMBER = re.compile(r"(?<![0-9A-Za-z])(\d{6})\d{11}([\dXx])(?![0-9A-Za-z])")
"""18-character resident ID numbers (GB 11643) standing alone: kept as region and check character, as
aidservice.identity.mask keeps them."""
FIELDS = ("asctime", "levelname", "name", "message")
RENAMED = {"asctime": "time", "levelname": "level", "name": "logger"}


def redact(text: str) -> str:
    """Mask every ID-number-shaped run of characters as 320102***********1."""
    return ID_NUMBER.sub(lambda m: f"{m.group(1)}***********{m.group(2)}", text)


class RedactingJsonFormatter(JsonFormatter):
    """JSON lines in UTC with ID numbers masked in the finished line (it never changes the record itself)."""

    converter = time.gmtime

    def __init__(self) -> None:
        super().__init__(FIELDS, rename_fields=RENAMED, json_ensure_ascii=False)

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        """UTC with milliseconds: 2026-12-07T21:54:12.345Z."""
        return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z"

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


class RequestContextFilter(logging.Filter):
    """Stamp each record with the id of the request it was logged in (empty outside requests)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = current_request_id() if has_request_context() else ""
        return True


class ServerAccessFilter(logging.Filter):
    """gunicorn's access records as fields: method, status, bytes, duration and the response's X-Request-ID.

    gunicorn logs `access_log_format % atoms` with the atoms (gunicorn.glogging.SafeAtoms: request line, path,
    query, address, headers) as the record's arguments; this keeps the few fields above and drops the rest, so no
    path, query string, address or user agent reaches the line (the app's own access line names the route rule).
    """

    def filter(self, record: logging.LogRecord) -> bool:
        atoms: Any = record.args if isinstance(record.args, Mapping) else {}
        request_id = atoms.get("{x-request-id}o") or ""
        status = str(atoms.get("s") or "")
        record.request_id = "" if request_id == "-" else request_id
        record.method = atoms.get("m")
        record.status = int(status) if status.isdigit() else None
        record.bytes = atoms.get("B")
        record.duration_ms = round(atoms["D"] / 1000, 2) if isinstance(atoms.get("D"), int) else None
        record.msg, record.args = "server access", None
        return True


class StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever sys.stderr is at the time (test runners and servers replace it)."""

    @property  # type: ignore[override]
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, _value: Any) -> None:
        """StreamHandler assigns a stream once; this handler looks it up on every write instead."""


def _our_handler(logger: logging.Logger) -> StderrHandler | None:
    return next((h for h in logger.handlers if isinstance(h, StderrHandler)), None)


def configure_logger(level: str) -> logging.Logger:
    """Give the `aidservice` logger (Flask's app.logger) one JSON handler per process, at `level`."""
    logger = logging.getLogger(LOGGER_NAME)
    if _our_handler(logger) is None:
        handler = StderrHandler()
        handler.setFormatter(RedactingJsonFormatter())
        handler.addFilter(RequestContextFilter())
        logger.addHandler(handler)
    logger.removeHandler(default_handler)
    logger.setLevel(level)
    return logger


def _start_clock() -> None:
    request.environ[START_KEY] = time.perf_counter()


def _actor_fields() -> dict[str, Any]:
    """Who made the request, as kind and number only (user names and client names stay out of the log)."""
    for key in ACTOR_KEYS:
        actor = request.environ.get(key)
        if actor is not None:
            return {"actor_kind": actor.kind, "actor_id": actor.id}
    return {"actor_kind": None, "actor_id": None}


def access_fields(response: Response) -> dict[str, Any]:
    """The access line's fields: the route rule (/api/v1/students/<student_id>), never the path or query."""
    started = request.environ.get(START_KEY)
    rule = request.url_rule.rule if request.url_rule is not None else None
    return {
        "method": request.method,
        "route": rule,
        "endpoint": request.endpoint,
        "status": response.status_code,
        "duration_ms": round((time.perf_counter() - started) * 1000, 2) if started is not None else None,
        **_actor_fields(),
    }


def _access_log(response: Response) -> Response:
    logging.getLogger(ACCESS_LOGGER).info("request", extra=access_fields(response))
    return response


def register_logging(app: Flask) -> None:
    """JSON lines at AID_LOG_LEVEL and an access line per request (registered first, so it runs last)."""
    configure_logger(app.config.get("AID_LOG_LEVEL", "INFO"))
    app.before_request(_start_clock)
    app.after_request(_access_log)
