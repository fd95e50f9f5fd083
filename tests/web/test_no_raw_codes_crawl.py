"""Every page of every role speaks Chinese: a crawl from each role's navigation (two links deep) finds no raw
code of the rules' vocabularies, no actor id, no machine timestamp and no English sentence (three English words
in a row) in what people read: the text outside <code> (identifiers shown as such: the audit trail's subjects,
hashes, rule versions), <kbd> (commands to type) and the specialists' expression toggle."""

from __future__ import annotations

import re
from collections.abc import Callable
from urllib.parse import urlsplit

import pytest
from flask.testing import FlaskClient

from tests.web.conftest import Clock
from tests.web.test_applications import act, created
from tests.web.test_no_raw_codes import offences, visible_text, vocabulary_codes
from tests.world import web as w

ENGLISH_SENTENCE = re.compile(r"\b[A-Za-z][a-z'-]+(?:[ ,]+[A-Za-z][a-z'-]+){2,}\b")
LINK = re.compile(r'<a [^>]*href="(/[^"#]*)"')
SKIPPED = re.compile(r"format=|/download|lang=|/logout|/static/|/api/|[?&](?:page|sort|order)=")
DEPTH = 2
MOST = 60


def english_sentences(html: str) -> list[str]:
    return ENGLISH_SENTENCE.findall(visible_text(html, prose=True))


def links(html: str) -> list[str]:
    nav = re.search(r'<nav class="nav".*?</div>', html, re.S)
    return LINK.findall(nav.group(0) if nav else html)


def crawl(client: FlaskClient) -> dict[str, str]:
    """url -> html of the pages reached from the navigation, `DEPTH` links deep (a path once)."""
    seen: dict[str, str] = {}
    paths: set[str] = set()
    frontier = links(client.get("/").get_data(as_text=True))
    for _depth in range(DEPTH):
        following: list[str] = []
        for url in frontier:
            url = url.replace("&amp;", "&")
            path = urlsplit(url).path
            if path in paths or SKIPPED.search(url) or len(seen) >= MOST:
                continue
            paths.add(path)
            response = client.get(url)
            if response.status_code != 200 or not response.mimetype.startswith("text/html"):
                continue
            html = response.get_data(as_text=True)
            seen[url] = html
            following += LINK.findall(html)
        frontier = following
    return seen


@pytest.mark.parametrize("username", ["officer1", "county1", "city1", "province1", "auditor1"])
def test_every_page_of_a_role_shows_labels_chinese_sentences_and_beijing_times(
    as_user: Callable[[str], FlaskClient], world: w.World, clock: Clock, username: str
) -> None:
    officer = as_user("officer1")
    approved = created(officer)
    for action in ("review", "publish_notice"):
        assert act(officer, approved, action).status_code == 302
    clock.today = w.AFTER_NOTICE
    assert act(officer, approved, "approve", note="公示无异议").status_code == 302
    created(officer, "S1-002")
    codes = vocabulary_codes()
    pages = crawl(as_user(username))
    assert len(pages) >= 8, sorted(pages)
    found = {}
    for url, html in pages.items():
        bad = offences(visible_text(html, prose=True), codes) + english_sentences(html)
        if bad:
            found[url] = bad[:8]
    assert not found, found


def test_the_crawl_flags_an_english_sentence_but_not_code_or_an_expression() -> None:
    assert english_sentences("<p>请求编号 The page was not found</p>") == ["The page was not found"]
    kept = '<p><code>flask run the app</code><kbd>aid rules check now</kbd><details class="expr"><summary>表达式</summary>'
    assert not english_sentences(kept + "<code>level in general or special</code></details>认定等级</p>")
    assert offences(visible_text("<td>registered_poor</td>", prose=True), vocabulary_codes())
