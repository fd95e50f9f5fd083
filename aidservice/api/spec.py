"""The service's flask-smorest Api: the OpenAPI document with our problem+json errors, bearer tokens and money
as sent (strings), one per app (`register_api`).

The document is written lazily: registering a blueprint registers its routes at once, but the work of
describing them (resolving every marshmallow schema into the spec, about three quarters of building an app)
waits until the first reader of `spec` (the /openapi.json route, `flask openapi`, a test). Each pending step
runs once, in registration order, so the document is the same as if it had been written eagerly; an app that
never shows its document (a worker, a test) never pays for it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import marshmallow as ma
from flask_smorest import Api

from aidservice.errors import PROBLEM_MIMETYPE, ProblemSchema

SECURITY_SCHEME = "bearerAuth"
"""The OpenAPI security scheme (HTTP bearer) that operations needing a token name (api/auth.py)."""


class AidApi(Api):
    """flask-smorest Api documenting our problem+json errors instead of its own error schema."""

    ERROR_SCHEMA = ProblemSchema

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._pending_docs: list[Callable[[Any], None]] = []
        self._writing_docs = False
        super().__init__(*args, **kwargs)

    @property
    def spec(self) -> Any:
        """The OpenAPI document (an apispec APISpec), with every pending description written into it first (a
        step that itself reads `spec` gets the document as written so far: steps never run out of order)."""
        if not self._writing_docs:
            self._writing_docs = True
            try:
                while self._pending_docs:
                    self._pending_docs.pop(0)(self._spec)
            finally:
                self._writing_docs = False
        return self._spec

    @spec.setter
    def spec(self, value: Any) -> None:
        self._spec = value

    def document_later(self, step: Callable[[Any], None]) -> None:
        """Write `step(spec)` into the document when it is first read, after the steps queued before it."""
        self._pending_docs.append(step)

    def register_blueprint(self, blp: Any, *, parameters: Any = None, **options: Any) -> None:
        """flask-smorest's registration with the description deferred (see the module docstring)."""
        name = options.get("name", blp.name)
        app = self._app
        app.extensions["flask-smorest"]["blp_name_to_api"][name] = self
        app.register_blueprint(blp, **options)

        def describe(spec: Any) -> None:
            blp.register_views_in_doc(self, app, spec, name=name, parameters=parameters)
            spec.tag({"name": name, "description": blp.description})

        self.document_later(describe)

    def _init_spec(self, **kwargs: Any) -> None:
        """Teach the spec how our fields are sent, so the documented types are the ones on the wire."""
        super()._init_spec(**kwargs)
        self.ma_plugin.converter.add_attribute_function(decimal_as_sent)
        api = self

        def enum_from_rules(_converter: Any, field: ma.fields.Field, **_: Any) -> dict[str, Any]:
            """A field whose metadata names `enum_from_rules` (a function of the rule set) documents the values
            the app's loaded rules allow (the API registers its routes after the rules are loaded)."""
            values_of = field.metadata.get("enum_from_rules")
            app = getattr(api, "_app", None)
            rules = app.extensions.get("aid_rules") if app is not None else None
            return {} if values_of is None or rules is None else {"enum": list(values_of(rules))}

        self.ma_plugin.converter.add_attribute_function(enum_from_rules)
        self.spec.components.security_scheme(
            SECURITY_SCHEME,
            {
                "type": "http",
                "scheme": "bearer",
                "description": "POST /api/v1/auth/login, or an agency client's token (aid client create)",
            },
        )

    def _register_responses(self) -> None:
        """Document the standard error responses as problem+json (smorest registers them as JSON), when the
        document is first read."""
        self.document_later(lambda _spec: self._register_problem_responses())

    def _register_etag_headers(self) -> None:
        self.document_later(lambda _spec: super(AidApi, self)._register_etag_headers())

    def _register_pagination_header(self) -> None:
        self.document_later(lambda _spec: super(AidApi, self)._register_pagination_header())

    def _register_problem_responses(self) -> None:
        super()._register_responses()
        for response in self.spec.components.responses_lazy.values():
            content = response.get("content") or {}
            if self.DEFAULT_RESPONSE_CONTENT_TYPE in content:
                response["content"] = {PROBLEM_MIMETYPE: content[self.DEFAULT_RESPONSE_CONTENT_TYPE]}


def decimal_as_sent(_converter: Any, field: ma.fields.Field, ret: dict[str, Any], **_: Any) -> dict[str, Any]:
    """Money is a string like "1250.00" in JSON (Decimal with as_string), not the number apispec assumes."""
    if not (isinstance(field, ma.fields.Decimal) and field.as_string):
        return {}
    bounds = [
        f"{word} {ret.pop(key)}"
        for key, word in (("minimum", "at least"), ("maximum", "at most"))
        if key in ret
    ]
    described = "; ".join(filter(None, [ret.get("description"), *bounds]))
    return {
        "type": "string",
        "format": "decimal",
        "pattern": r"^-?[0-9]+(\.[0-9]+)?$",
        **({"description": described} if described else {}),
    }


__all__ = ["SECURITY_SCHEME", "AidApi", "decimal_as_sent"]
