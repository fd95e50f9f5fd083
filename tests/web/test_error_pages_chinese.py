"""Error pages and refusals in zh-CN are Chinese: an English detail meant for API clients is not shown, field
messages the services write in English (coverage, school year) read as Chinese sentences."""

from __future__ import annotations

import re
from collections.abc import Callable

from flask import Flask
from flask.testing import FlaskClient

from aidservice.web import messages
from tests.web.test_no_raw_codes import visible_text
from tests.world import web as w

ENGLISH = re.compile(r"\b[A-Za-z]{2,}(?: [A-Za-z]{2,}){2,}")


def test_an_error_page_shows_no_english_detail(as_user: Callable[[str], FlaskClient], world: w.World) -> None:
    client = as_user("officer1")
    for url, status in (
        ("/students/NO-SUCH-STUDENT", 404),
        ("/reports/special-groups/download?format=pdf", 422),
        ("/applications/999999", 404),
    ):
        page = client.get(url)
        text = visible_text(page.get_data(as_text=True))
        assert page.status_code == status, url
        assert not ENGLISH.findall(text), (url, ENGLISH.findall(text))
    english = client.get("/students/NO-SUCH-STUDENT?lang=en").get_data(as_text=True)
    assert "NO-SUCH-STUDENT" in english or ENGLISH.search(
        visible_text(english)
    )  # English readers keep the detail


def test_coverage_and_school_year_refusals_read_as_chinese_sentences(app: Flask) -> None:
    with app.test_request_context("/"):
        coverage = messages.page_message(
            "2030-09-01 is outside the rules' coverage (2017-09-01 to 2021-08-31); the rules cannot evaluate that date"
        )
        year = messages.page_message(
            "2021-09-01 is after the current school year 2020-2021 (2020-09-01 to 2021-08-31)"
        )
        unknown = messages.page_detail("No school 9999.")
    assert coverage == "2030年9月1日不在规则适用期（2017年9月1日至2021年8月31日）内，规则无法认定该日期。"
    assert year.startswith("2021年9月1日晚于当前学年 2020-2021")
    assert unknown == ""
    with app.test_request_context("/?lang=en"):
        assert messages.page_detail("No school 9999.") == "No school 9999."
