"""HTTP hardening: security headers on every kind of response, HSTS only behind TLS, JSON-only API bodies."""

from __future__ import annotations

import io
import re

import pytest
from flask import Flask
from flask.testing import FlaskClient

from aidservice.security import API_POLICY, DOCS_POLICY, UI_POLICY, UPLOAD_ENDPOINTS

COMMON = {"X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY", "Referrer-Policy": "same-origin"}


def script_sources(policy: str) -> str:
    """The script-src directive (or default-src, which stands in for it)."""
    directives = dict(part.strip().split(" ", 1) for part in policy.split(";") if " " in part.strip())
    return directives.get("script-src", directives.get("default-src", ""))


@pytest.mark.parametrize(
    ("url", "policy"),
    [
        ("/api/v1/health", API_POLICY),
        ("/api/v1/rules", API_POLICY),
        ("/api/v1/no-such-thing", API_POLICY),
        ("/api/v1/openapi.json", API_POLICY),
        ("/api/v1/docs", DOCS_POLICY),
        ("/login", UI_POLICY),
        ("/no-such-page", UI_POLICY),
    ],
)
def test_every_response_carries_the_security_headers(client: FlaskClient, url: str, policy: str) -> None:
    response = client.get(url)
    for name, value in COMMON.items():
        assert response.headers[name] == value, (url, name)
    csp = response.headers["Content-Security-Policy"]
    assert csp == policy
    assert "frame-ancestors 'none'" in csp
    assert "unsafe-inline" not in script_sources(csp) and "unsafe-eval" not in csp
    assert "Strict-Transport-Security" not in response.headers  # plain HTTP: HSTS would be ignored or wrong


def test_api_answers_are_not_cached(client: FlaskClient) -> None:
    for url in ("/api/v1/health", "/api/v1/students/S1", "/api/v1/no-such-thing"):
        assert client.get(url).headers["Cache-Control"] == "no-store", url


def test_static_assets_stay_cacheable(client: FlaskClient) -> None:
    for url in ("/static/aid.css", "/api/v1/docs/assets/swagger-ui-bundle.js"):
        response = client.get(url)
        assert response.status_code == 200, url
        assert response.headers.get("Cache-Control") != "no-store", url
        assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_the_docs_page_has_no_inline_script(client: FlaskClient) -> None:
    response = client.get("/api/v1/docs")
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert page.count("<script") == page.count("<script src=") == 3
    assert not re.search(r"\son[a-z]+\s*=", page)  # no inline event handlers either
    assert 'data-spec-url="/api/v1/openapi.json"' in page
    assert client.get("/static/swagger-init.js").status_code == 200


def test_hsts_is_sent_over_tls(client: FlaskClient) -> None:
    response = client.get("/api/v1/health", base_url="https://aid.example")
    assert response.headers["Strict-Transport-Security"].startswith("max-age=31536000")


@pytest.mark.parametrize(("hops", "hsts"), [("0", False), ("1", True)])
def test_hsts_behind_a_proxy_only_when_its_forwarded_scheme_is_trusted(
    app_factory,
    hops: str,
    hsts: bool,  # type: ignore[no-untyped-def]
) -> None:
    client = app_factory(AID_PROXY_HOPS=hops).test_client()
    response = client.get(
        "/api/v1/health", headers={"X-Forwarded-Proto": "https", "X-Forwarded-For": "10.1.1.1"}
    )
    assert ("Strict-Transport-Security" in response.headers) is hsts


def test_hsts_can_be_forced_by_configuration(app_factory) -> None:  # type: ignore[no-untyped-def]
    response = app_factory(AID_HSTS="true").test_client().get("/login")
    assert "Strict-Transport-Security" in response.headers


def test_own_policy_of_a_view_is_kept_and_never_allows_framing(app: Flask, client: FlaskClient) -> None:
    def printable() -> tuple[str, int, dict[str, str]]:
        return "<p>x</p>", 200, {"Content-Security-Policy": "default-src 'none'"}

    app.add_url_rule("/api/v1/_test/printable", "printable", printable)
    response = client.get("/api/v1/_test/printable")
    assert response.headers["Content-Security-Policy"] == "default-src 'none'; frame-ancestors 'none'"
    assert response.headers["X-Frame-Options"] == "DENY"


@pytest.mark.parametrize(
    ("method", "url"),
    [
        ("POST", "/api/v1/evaluate"),
        ("POST", "/api/v1/auth/login"),
        ("PUT", "/api/v1/schools/320102001"),
        ("PUT", "/api/v1/students/S1"),
        ("POST", "/api/v1/feeds/civil_affairs/batches"),
        ("POST", "/api/v1/applications"),
        ("POST", "/api/v1/applications/1/actions"),
        ("POST", "/api/v1/decisions/1/replay"),
    ],
)
@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("text/plain", b'{"as_of": "2020-09-01"}'),
        ("application/x-www-form-urlencoded", b"as_of=2020-09-01"),
        (
            "multipart/form-data; boundary=x",
            b"--x\r\nContent-Disposition: form-data; name=a\r\n\r\n1\r\n--x--\r\n",
        ),
        ("application/xml", b"<as_of>2020-09-01</as_of>"),
    ],
)
def test_api_bodies_other_than_json_are_415(
    client: FlaskClient, method: str, url: str, content_type: str, body: bytes
) -> None:
    response = client.open(url, method=method, data=body, content_type=content_type)
    assert response.status_code == 415, (method, url, content_type)
    assert response.mimetype == "application/problem+json"
    assert "application/json" in response.json["detail"]


def test_a_bodiless_post_needs_no_content_type(client: FlaskClient) -> None:
    response = client.post("/api/v1/decisions/1/replay")
    assert response.status_code == 401  # it reached the view's authentication, not the media-type check


def test_json_with_a_structured_suffix_is_json(client: FlaskClient) -> None:
    response = client.post(
        "/api/v1/auth/login",
        data=b'{"username": "nobody", "password": "x"}',
        content_type="application/merge-patch+json",
    )
    assert response.status_code != 415


def test_the_import_route_takes_a_multipart_upload_and_nothing_else(client: FlaskClient) -> None:
    upload = client.post(
        "/api/v1/students/import",
        data={"file": (io.BytesIO(b"a,b\n"), "roster.csv")},
        content_type="multipart/form-data",
    )
    assert upload.status_code == 401  # past the media-type check
    text = client.post("/api/v1/students/import", data=b"a,b\n", content_type="text/csv")
    assert text.status_code == 415 and "multipart/form-data" in text.json["detail"]


def test_upload_exemptions_name_real_routes(app: Flask) -> None:
    endpoints = {rule.endpoint for rule in app.url_map.iter_rules() if "POST" in (rule.methods or ())}
    assert endpoints >= UPLOAD_ENDPOINTS
