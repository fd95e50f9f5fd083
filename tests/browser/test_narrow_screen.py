"""At 390×844 (a phone): the 菜单 button opens and closes the navigation (static/nav.js, under the pages' CSP),
without script the navigation is simply shown, the dashboard and a report do not scroll sideways, and a
report's chart keeps a legible size, scrolled inside its figure (issue 20)."""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from typing import Any

import pytest

from tests.browser.conftest import Live
from tests.browser.test_officer_ui import no_horizontal_scroll, sign_in, watch
from tests.world import web as w

PHONE = {"width": 390, "height": 844}
REPORT = f"/reports?kind=regions&period={w.YEAR}-autumn"
LABEL_BOXES = """() => {
  const charts = Array.from(document.querySelectorAll("figure.chart svg"));
  const most = charts.reduce((a, b) => (b.querySelectorAll(".bar-label").length > a.querySelectorAll(".bar-label").length ? b : a));
  return Array.from(most.querySelectorAll(".bar-label"), (t) => {
    const r = t.getBoundingClientRect();
    return {top: r.top, bottom: r.bottom, height: r.height};
  });
}"""


@pytest.fixture
def phone(browser: Any) -> Iterator[Any]:
    made = browser.new_context(viewport=PHONE, locale="zh-CN", is_mobile=True, has_touch=True)
    made.set_default_timeout(10_000)
    yield made
    made.close()


@pytest.fixture
def phone_without_script(browser: Any) -> Iterator[Any]:
    made = browser.new_context(viewport=PHONE, locale="zh-CN", java_script_enabled=False)
    made.set_default_timeout(10_000)
    yield made
    made.close()


def test_the_menu_button_opens_the_navigation_and_a_link_in_it_works(phone: Any, live: Live) -> None:
    page = phone.new_page()
    problems = watch(page)
    sign_in(page, live, "officer1")
    menu = page.get_by_role("button", name="菜单")
    nav = page.locator("#site-nav")
    assert menu.is_visible() and menu.get_attribute("aria-controls") == "site-nav"
    assert menu.get_attribute("aria-expanded") == "false"
    assert not nav.is_visible()
    no_horizontal_scroll(page)
    live.shot(page, "30-phone-dashboard")

    menu.click()
    assert menu.get_attribute("aria-expanded") == "true"
    assert nav.is_visible()
    live.shot(page, "31-phone-menu-open", full_page=False)
    page.keyboard.press("Escape")  # closes it and gives the focus back to the button
    assert menu.get_attribute("aria-expanded") == "false" and not nav.is_visible()
    assert page.evaluate("document.activeElement.hasAttribute('data-menu-toggle')")

    menu.click()
    nav.get_by_role("link", name="学生名册").click()
    page.wait_for_url(live.url + "/students")
    assert page.get_by_role("button", name="菜单").get_attribute("aria-expanded") == "false"  # closed again
    assert not problems, problems


def test_without_script_the_navigation_is_shown_and_the_button_hidden(
    phone_without_script: Any, live: Live
) -> None:
    page = phone_without_script.new_page()
    sign_in(page, live, "officer1")
    assert not page.locator("[data-menu-toggle]").is_visible()
    assert page.locator("#site-nav").is_visible()
    page.locator("#site-nav").get_by_role("link", name="申请").click()
    page.wait_for_url(re.compile(r"/applications$"))
    no_horizontal_scroll(page)


def test_a_report_fits_the_phone_and_its_chart_stays_legible(phone: Any, live: Live) -> None:
    page = phone.new_page()
    problems = watch(page)
    sign_in(page, live, "province1")
    no_horizontal_scroll(page)
    page.goto(live.url + REPORT)
    page.wait_for_selector("figure.chart svg rect.bar", state="attached")
    no_horizontal_scroll(page)
    figure = page.locator("figure.chart").first
    svg = figure.locator("svg")
    assert svg.bounding_box()["width"] >= 600  # drawn at a legible size ...
    assert figure.evaluate("f => f.scrollWidth > f.clientWidth")  # ... and scrolled inside its figure
    assert figure.get_attribute("tabindex") == "0"  # which the keyboard can reach to scroll
    labels = page.evaluate(LABEL_BOXES)
    assert len(labels) >= 2
    assert all(box["height"] >= 9 for box in labels)  # px on screen: about the size of the page's small print
    assert all(
        a["bottom"] <= b["top"] for a, b in itertools.pairwise(labels)
    )  # a line each, none overlapping
    live.shot(page, "32-phone-report")
    assert not problems, problems
