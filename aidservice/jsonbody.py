"""Request bodies read with bounds: nesting depth, members per body and keys per object, and numbers that never
become exact before a validator has seen them.

Every `request.get_json` (the input guard, webargs through `api.common.JsonBodyParser`, any view) goes through
`loads`: `init_json_bodies` installs it as the app's JSON provider. The algorithm, linear in the body's length:

1. Strings are replaced by `""` with one regex pass; a string without its closing quote runs to the end of the
   text, so the pass never backtracks whatever the body holds.
2. On what is left, C-speed counts give the members (array elements and object keys) exactly for well-formed
   JSON: commas + opening brackets - empty containers. Over `MAX_MEMBERS` is a 400 before anything is built.
3. The depth is the running sum over runs of opening and closing brackets (at most `MAX_MEMBERS` runs after
   step 2); deeper than `MAX_DEPTH` is a 400. The parser, which recurses, never sees a deep body.
4. `json.loads` builds the value: an object hook refuses an object of more than `MAX_KEYS` keys; integers of
   more than 30 digits and every float literal become Python floats (a huge one is `inf`), NaN and Infinity
   stay float nan/inf. Nothing is refused for its numbers here: each field's validator refuses a non-finite or
   out-of-range number with a 422 naming the field. No long digit string is ever given to `int()`.

Anonymous routes take smaller bodies than the global `MAX_CONTENT_LENGTH` (`AID_LOGIN_MAX_BYTES`,
`AID_EVALUATE_MAX_BYTES`): decided from Content-Length before reading; a chunked body is read at most one byte
past the limit (`request.max_content_length`) and kept for the parser; both are a 413 naming the limit.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from flask import Flask, Request, current_app, request
from flask.json.provider import DefaultJSONProvider
from werkzeug.exceptions import BadRequest

from aidservice.services.errors import DomainError

MAX_DEPTH = 64
MAX_MEMBERS = 250_000
"""Array elements plus object keys in one body: a feed batch of 10,000 records takes about 80,000."""
MAX_KEYS = 1_000
"""Keys in one object."""
MAX_INT_DIGITS = 30
"""Longer integer literals are read as floats (inf when huge), which every integer field refuses."""

STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*(?:"|\\?\Z)', re.DOTALL)
EMPTY = re.compile(r"\[\s*\]|\{\s*\}")
RUNS = re.compile(r"[\[{]+|[\]}]+")
INVALID_JSON = "Invalid JSON body."
SMALL_BODY_ROUTES = {"auth.sign_in": "AID_LOGIN_MAX_BYTES", "evaluate.evaluate": "AID_EVALUATE_MAX_BYTES"}
"""Anonymous routes (endpoint) and the setting that bounds their bodies."""


class BodyTooComplex(DomainError):
    """A JSON body over a structural bound (depth, members, keys per object); `errors` names `body`."""

    status = 400
    title = "Bad Request"
    type_suffix = "bad-request"

    def __init__(self, message: str) -> None:
        super().__init__(f"The JSON body is {message}.", {"body": [message]})


class BodyTooLarge(DomainError):
    """A body over its route's size limit."""

    status = 413
    title = "Payload too large"
    type_suffix = "payload-too-large"

    def __init__(self, limit: int) -> None:
        message = f"larger than this route's limit of {limit} bytes"
        super().__init__(f"The request body is {message}.", {"body": [message]})


def check_structure(text: str) -> None:
    """Raise BodyTooComplex when the text holds more members or deeper nesting than allowed (steps 1-3)."""
    bare = STRING.sub('""', text)
    opens = bare.count("[") + bare.count("{")
    members = bare.count(",") + opens - len(EMPTY.findall(bare))
    if members > MAX_MEMBERS or opens > MAX_MEMBERS + 1:
        raise BodyTooComplex(f"holds more than {MAX_MEMBERS} values (array elements and object keys)")
    depth = 0
    for run in RUNS.finditer(bare):
        width = run.end() - run.start()
        depth += width if bare[run.start()] in "[{" else -width
        if depth > MAX_DEPTH:
            raise BodyTooComplex(f"nested deeper than {MAX_DEPTH} levels")


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    if len(pairs) > MAX_KEYS:
        raise BodyTooComplex(f"an object with more than {MAX_KEYS} keys")
    return dict(pairs)


def _integer(text: str) -> int | float:
    """An integer literal; one of more than MAX_INT_DIGITS digits as a float (never an exact huge int)."""
    return float(text) if len(text) > MAX_INT_DIGITS else int(text)


def loads(data: str | bytes | bytearray) -> Any:
    """Parse a JSON body within the bounds; malformed JSON raises ValueError (json.JSONDecodeError)."""
    text = data if isinstance(data, str) else bytes(data).decode(json.detect_encoding(data), "surrogatepass")
    check_structure(text)
    return json.loads(text, object_pairs_hook=_object, parse_int=_integer, parse_float=float)


class BoundedJSONProvider(DefaultJSONProvider):
    """The app's JSON provider (`app.json`, which Flask gives every request for `get_json`): bounded `loads`."""

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        return loads(s)


class BoundedJsonRequest(Request):
    """Flask's request: malformed JSON is a 400 naming `body`, as webargs says it."""

    def on_json_loading_failed(self, e: ValueError | None) -> Any:
        error = BadRequest(INVALID_JSON)
        error.data = {"messages": {"json": [INVALID_JSON]}}  # type: ignore[attr-defined]
        raise error


def limit_small_bodies() -> None:
    """413 for a body over its anonymous route's limit: from Content-Length now, for a chunked body while read."""
    setting = SMALL_BODY_ROUTES.get(request.endpoint or "")
    if setting is None:
        return
    limit = int(current_app.config[setting])
    if request.content_length is not None:
        if request.content_length > limit:
            raise BodyTooLarge(limit)
        return
    request.max_content_length = (
        limit + 1
    )  # chunked: read at most one byte past the limit, and keep it cached
    if len(request.get_data(cache=True)) > limit:
        raise BodyTooLarge(limit)


def body_limits(config: Mapping[str, Any]) -> dict[str, int]:
    """The small-body limits by endpoint, for documentation and tests."""
    return {endpoint: int(config[key]) for endpoint, key in SMALL_BODY_ROUTES.items()}


def init_json_bodies(app: Flask) -> None:
    """Install the bounded parser and the small-body limits (before any hook reads a body)."""
    provider = BoundedJSONProvider(app)
    provider.sort_keys = app.json.sort_keys  # type: ignore[attr-defined]
    app.json = provider
    app.request_class = BoundedJsonRequest
    app.before_request(limit_small_bodies)
