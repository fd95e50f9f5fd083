"""Changing one's password in a real browser: through the 修改密码 link and form, then signing in with it."""

from __future__ import annotations

from typing import Any

from tests.browser.conftest import Live
from tests.browser.test_officer_ui import sign_in, watch
from tests.world import web as w

NEW_PASSWORD = "Quince-harbour-lantern-47"


def test_a_user_changes_the_password_and_signs_in_with_the_new_one(live: Live, context: Any) -> None:
    page = context.new_page()
    problems = watch(page)
    sign_in(page, live, "city2")
    page.click("text=修改密码")
    page.fill("#current", w.PASSWORD)
    page.fill("#new", "short1A")
    page.fill("#repeat", "short1A")
    page.click("main form button[type=submit]")
    assert "至少 12 个字符。" in page.locator("#new-error").inner_text()

    page.fill("#current", w.PASSWORD)
    page.fill("#new", NEW_PASSWORD)
    page.fill("#repeat", NEW_PASSWORD)
    page.click("main form button[type=submit]")
    page.wait_for_load_state()
    assert "密码已修改。" in page.locator(".flash").inner_text()

    page.click("text=退出登录")
    page.wait_for_url(live.url + "/login")
    page.fill("#username", "city2")
    page.fill("#password", NEW_PASSWORD)
    page.click("form button[type=submit]")
    page.wait_for_url(live.url + "/")
    page.click("text=帮助")
    assert page.locator("section.help").first.get_attribute("id") == "help-admin"
    assert problems == []
