"""The API docs page in a real browser: Swagger UI starts under the page's CSP (no inline script) and lists the API."""

from __future__ import annotations

from typing import Any

from tests.browser.conftest import Live
from tests.browser.test_officer_ui import watch


def test_the_api_docs_render_under_their_content_security_policy(context: Any, live: Live) -> None:
    page = context.new_page()
    violations: list[str] = []
    page.on("console", lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None)
    problems = watch(page)
    response = page.goto(live.url + "/api/v1/docs")
    assert (
        "unsafe-inline"
        not in response.headers["content-security-policy"].split("script-src", 1)[1].split(";")[0]
    )
    page.wait_for_selector(".opblock", timeout=20_000)
    assert page.locator(".opblock").count() >= 20
    assert page.get_by_text("/api/v1/health", exact=True).count() >= 1
    assert violations == [] and [p for p in problems if "favicon" not in p] == []
