"""Text no database can store is refused at the door: U+0000 and lone surrogates, anywhere in a request.

PostgreSQL rejects NUL in text and no UTF-8 encoder takes a lone surrogate (JSON may spell both as escapes),
so such a value would otherwise fail deep inside a write as a 500, and on one backend only. Here it is a 422
naming the field, on every backend alike, before anything is read or written.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from flask import Flask, request
from werkzeug.datastructures import MultiDict

from aidservice.services.errors import ValidationFailed

UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
MESSAGE = "contains a character that cannot be stored (U+0000 or a lone surrogate)"


def unstorable_fields(value: Any, path: str = "") -> Iterator[str]:
    """Paths ("records.0.name") of the strings and keys in a JSON value that hold an unstorable character."""
    if isinstance(value, str):
        if UNSTORABLE.search(value):
            yield path or "body"
    elif isinstance(value, dict):
        for key, item in value.items():
            name = f"{path}.{key}" if path else str(key)
            if UNSTORABLE.search(str(key)):
                yield name
            else:
                yield from unstorable_fields(item, name)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from unstorable_fields(item, f"{path}.{index}" if path else str(index))


def refuse_unstorable_text() -> None:
    """422 naming each path parameter, query parameter, form field or JSON field that holds such a character."""
    found = [*unstorable_fields(dict(request.view_args or {})), *_multi(request.args)]
    if request.is_json:
        found.extend(
            unstorable_fields(request.get_json(silent=True))
        )  # malformed JSON: the parser's 400 later
    elif request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data"):
        found.extend(_multi(request.form))
        found.extend(unstorable_fields({k: f.filename or "" for k, f in request.files.items(multi=True)}))
    if found:
        raise ValidationFailed({UNSTORABLE.sub("\ufffd", path): [MESSAGE] for path in found})


def _multi(values: MultiDict[str, str]) -> Iterator[str]:
    """Query or form fields, named as sent (a repeated field once)."""
    seen = {name or "" for name, value in values.items(multi=True) if UNSTORABLE.search((name or "") + value)}
    return iter(sorted(seen))


def init_input_guard(app: Flask) -> None:
    """Check every request, API and web UI alike, before its view runs."""
    app.before_request(refuse_unstorable_text)
