"""What every API resource shares: a blueprint that insists on JSON bodies."""

from __future__ import annotations

from typing import Any

import flask_smorest
from flask import Request
from marshmallow import Schema
from webargs.flaskparser import FlaskParser, is_json_request
from werkzeug.exceptions import UnsupportedMediaType


class JsonBodyParser(FlaskParser):
    """webargs parser that answers 415 for a non-JSON body instead of reporting every field missing."""

    def load_json(self, req: Request, schema: Schema) -> Any:
        if not is_json_request(req):
            got = req.mimetype or "no content type"
            raise UnsupportedMediaType(f"Send the request body as application/json (got {got}).")
        return super().load_json(req, schema)


class Blueprint(flask_smorest.Blueprint):
    """flask-smorest blueprint with our JSON-only body parser."""

    ARGUMENTS_PARSER = JsonBodyParser()
