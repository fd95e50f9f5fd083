"""CSRF on every UI form: each POST form carries the token, and each POST route refuses a request without it.

The forms and routes are discovered (templates, the URL map), so a form or route added later is covered too.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from flask import Flask
from werkzeug.routing import Rule

from aidservice.extensions import db
from aidservice.models import Application, AuditEvent, Student
from tests.world import web as w

TEMPLATES = Path(__file__).resolve().parents[2] / "aidservice" / "templates"
POST_FORM = re.compile(r"<form\b(?=[^>]*\bmethod=[\"']post[\"'])[^>]*>(.*?)</form>", re.S | re.I)
TOKEN_FIELD = re.compile(r"\.csrf_token\b|\bcsrf_token\(\)|hidden_tag\(\)")
SAMPLE_VALUES = {
    "student_id": "S1-001",
    "application_id": 1,
    "action": "review",
    "school_code": "320102001",
    "notice_id": 1,
    "kind": "special-groups",
    "declaration_id": 1,
    "result": "verified",
    "job_id": 1,
    "decision_id": 1,
}
"""A value for each URL variable of the web routes (a new variable fails the test until it is added here)."""


def post_forms() -> list[tuple[str, str]]:
    """(template, form body) of every POST form in every template."""
    found = []
    for path in sorted(TEMPLATES.rglob("*.html")):
        for body in POST_FORM.findall(path.read_text(encoding="utf-8")):
            found.append((str(path.relative_to(TEMPLATES)), body))
    return found


def web_post_rules(app: Flask) -> list[Rule]:
    return sorted(
        (
            r
            for r in app.url_map.iter_rules()
            if r.endpoint.startswith("web.") and "POST" in (r.methods or ())
        ),
        key=lambda r: r.rule,
    )


def test_every_post_form_in_the_templates_carries_the_csrf_token() -> None:
    forms = post_forms()
    assert len(forms) >= 6  # login, logout, lookup, ID number, import, apply, actions
    missing = [name for name, body in forms if not TOKEN_FIELD.search(body)]
    assert missing == []


def test_every_web_post_route_is_discovered(app: Flask) -> None:
    endpoints = {r.endpoint for r in web_post_rules(app)}
    assert endpoints >= {
        "web.login",
        "web.logout",
        "web.student_lookup",
        "web.student_id_number",
        "web.import_students",
        "web.apply",
        "web.act",
    }


def test_every_web_post_route_refuses_a_post_without_the_token(app: Flask, world: w.World) -> None:
    from tests.web.conftest import sign_in

    before = {model: db.session.query(model).count() for model in (Application, AuditEvent, Student)}
    adapter = app.url_map.bind("localhost")
    for rule in web_post_rules(app):
        values = {name: SAMPLE_VALUES[name] for name in rule.arguments}
        url = adapter.build(rule.endpoint, values, method="POST")
        for data in ({}, {"csrf_token": "forged"}):
            client = sign_in(app.test_client(), world, "officer1")
            response = client.post(
                url,
                data={
                    **data,
                    "username": "officer1",
                    "password": w.PASSWORD,
                    "id_number": "320102200803010011",
                    "note": "x",
                    "version": "1",
                },
            )
            assert response.status_code == 400, (url, data)
            assert "表单已过期或来源无法验证" in response.get_data(as_text=True), url
    after = {model: db.session.query(model).count() for model in before}
    assert after == before  # nothing was written, not even an audit event


@pytest.mark.parametrize("url", ["/students/S1-001", "/applications/1"])
def test_rendered_post_forms_carry_a_token_value(app: Flask, world: w.World, url: str) -> None:
    from tests.web.conftest import sign_in

    page = sign_in(app.test_client(), world, "officer1").get(url).get_data(as_text=True)
    forms = POST_FORM.findall(page)
    assert forms, url
    for body in forms:
        assert re.search(r'name="csrf_token"[^>]*value="[^"]{20,}"', body), url
