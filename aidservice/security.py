"""HTTP hardening for every response and request: security headers, HSTS behind TLS, JSON-only API bodies.

The web UI gets a Content-Security-Policy without inline script or style; the API's JSON gets a policy that
loads nothing; the API docs page loads Swagger UI's script from our own origin (its start-up code is a static
file, not an inline script). Pages that set their own policy (printable notices and reports) keep it, with
`frame-ancestors 'none'` added when it lacks one: no response may be framed. `Server` names no product.
"""

from __future__ import annotations

from flask import Flask, Response, current_app, request
from werkzeug.exceptions import UnsupportedMediaType
from werkzeug.middleware.proxy_fix import ProxyFix

API_PREFIX = "/api"
DOCS_PREFIX = "/api/v1/docs"
UI_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
)
API_POLICY = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
# Swagger UI (React) sets element styles at run time, so its page allows inline *style*, never inline script.
DOCS_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
)
HSTS = "max-age=31536000; includeSubDomains"
SERVER = "aidservice"
"""The `Server` header: no product or version (gunicorn's and werkzeug's would name theirs; gunicorn_conf makes
gunicorn send this one instead of its own)."""
NO_FRAMING = "frame-ancestors 'none'"
BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
UPLOAD_ENDPOINTS = frozenset({"roster.import_students", "whatif.post_whatif_upload"})
"""API routes whose body is a multipart file upload (CSV/XLSX import, a draft rules ZIP); every other API body must be JSON."""
UPLOAD_TYPES = frozenset({"multipart/form-data"})


def is_json_mimetype(mimetype: str) -> bool:
    """application/json and the structured +json types (application/merge-patch+json ...)."""
    return mimetype == "application/json" or (
        mimetype.startswith("application/") and mimetype.endswith("+json")
    )


def _has_body() -> bool:
    """Whether the client sent a body at all (a bodiless POST such as a replay needs no content type)."""
    return bool(request.content_length) or "chunked" in request.headers.get("Transfer-Encoding", "").lower()


def require_json_body() -> None:
    """415 for an API body that is neither JSON nor (on the import routes) a multipart upload."""
    if not request.path.startswith(API_PREFIX + "/") or request.method not in BODY_METHODS or not _has_body():
        return
    mimetype = request.mimetype
    if is_json_mimetype(mimetype):
        return
    if request.endpoint in UPLOAD_ENDPOINTS and mimetype in UPLOAD_TYPES:
        return
    expected = "multipart/form-data" if request.endpoint in UPLOAD_ENDPOINTS else "application/json"
    raise UnsupportedMediaType(f"Send the request body as {expected} (got {mimetype or 'no content type'}).")


def _policy_for(path: str) -> str:
    if path == DOCS_PREFIX or path.startswith(DOCS_PREFIX + "/"):
        return DOCS_POLICY
    if path == API_PREFIX or path.startswith(API_PREFIX + "/"):
        return API_POLICY
    return UI_POLICY


def security_headers(response: Response) -> Response:
    """Headers for every response, errors included; a view's own policy (never framed) or caching wins."""
    headers = response.headers
    headers["Server"] = SERVER
    policy = headers.get("Content-Security-Policy")
    if policy is None:
        headers["Content-Security-Policy"] = _policy_for(request.path)
    elif "frame-ancestors" not in policy:  # a view's own policy (printable pages) is never framed either
        headers["Content-Security-Policy"] = f"{policy.rstrip('; ')}; {NO_FRAMING}"
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("Referrer-Policy", "same-origin")
    headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
    if request.is_secure or current_app.config.get("AID_HSTS"):
        headers.setdefault("Strict-Transport-Security", HSTS)
    if _carries_personal_data(response):
        headers.setdefault("Cache-Control", "no-store")
    return response


def _carries_personal_data(response: Response) -> bool:
    """UI pages and API answers may hold personal data; static assets (the docs bundle, the stylesheet) do not."""
    return request.endpoint not in ("static", "swagger_ui_assets.static")


def register_security(app: Flask) -> None:
    """Trust the configured number of proxies for scheme and address, then check bodies and add headers."""
    hops = int(app.config.get("AID_PROXY_HOPS", 0))
    if hops:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)  # type: ignore[method-assign]
    app.before_request(require_json_body)
    app.after_request(security_headers)
