"""Officers read Chinese: no page or printable report shows a raw code of the rules' vocabulary, a machine
timestamp or an actor id (`user:officer`) in its visible text (tags stripped; attribute values ignored)."""

from __future__ import annotations

import re
from collections.abc import Callable
from html.parser import HTMLParser

from flask.testing import FlaskClient

from aidservice import i18n, wiring
from aidservice.extensions import db
from aidservice.services import reports
from aidservice.services.actors import Actor
from aidservice.services.reports.render import render
from tests.web.conftest import Clock
from tests.web.test_applications import act, created
from tests.web.test_jobs import background_import, roster_file, row
from tests.world import web as w
from tests.world.vocabulary import shipped_rules

ISO_MOMENT = re.compile(r"\d{4}-\d\d-\d\dT\d\d:")
ACTOR_ID = re.compile(r"\b(?:user|client|system):[\w.-]+")


class _Text(HTMLParser):
    """The text a reader sees: data outside <script>, <style>, <title> and <template>, and, unless `specialist`,
    outside the specialists' expression toggle (<details class="expr">) and typed commands (<kbd>)."""

    def __init__(self, specialist: bool = False, prose: bool = False) -> None:
        super().__init__()
        self.parts: list[str] = []
        self.specialist = specialist
        self.prose = prose  # the sentences only: without <code> (identifiers, hashes, versions) too
        self._hidden: list[str] = []  # the open tags that hide their content, innermost last

    def _hides(self, tag: str, attrs: list[tuple[str, str | None]]) -> bool:
        if tag in ("script", "style", "template", "title"):
            return True
        if self.specialist:
            return False
        classes = (dict(attrs).get("class") or "").split()
        return tag == "kbd" or (tag == "details" and "expr" in classes) or (self.prose and tag == "code")

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self._hidden and tag == self._hidden[0]:
            self._hidden.append(tag)  # the same tag nested inside the hidden one
        elif not self._hidden and self._hides(tag, attrs):
            self._hidden.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if self._hidden and tag == self._hidden[-1]:
            self._hidden.pop()

    def handle_data(self, data: str) -> None:
        if not self._hidden:
            self.parts.append(data)


def visible_text(html: str, prose: bool = False) -> str:
    parser = _Text(prose=prose)
    parser.feed(html)
    return " ".join(parser.parts)


def vocabulary_codes() -> set[str]:
    """Every code of the rules' vocabulary and of the service's state tables."""
    rules = shipped_rules()
    vocabulary = rules.vocabulary
    codes = (
        {g.status for g in vocabulary.groups} | set(vocabulary.statuses) | {s.id for s in vocabulary.sources}
    )
    for spec in rules.facts.values():
        codes |= {str(v) for v in (getattr(spec, "values", None) or ()) if not str(v).isdigit()}
    codes |= {p.id for p in rules.rules.programs} | {p.kind for p in rules.rules.programs}
    for table in (
        i18n.LEVELS,
        i18n.STATES,
        i18n.ACTIONS,
        i18n.STATUSES,
        i18n.BUILTIN_SOURCES,
        i18n.KINDS,
        i18n.DECISION_STATUSES,
        i18n.JOB_STATES,
    ):
        codes |= set(table)
    codes |= set(i18n.JOB_KINDS) | set(i18n.ROLES)
    return codes


def offences(text: str, codes: set[str]) -> list[str]:
    words = set(re.findall(r"[A-Za-z][A-Za-z0-9_.]*", text))
    found = sorted(words & codes)
    found += ISO_MOMENT.findall(text) + ACTOR_ID.findall(text)
    return found


def assert_clean(html: str, where: str, codes: set[str]) -> None:
    text = visible_text(html)
    bad = offences(text, codes)
    assert not bad, f"{where}: {bad}"


def test_reports_show_labels_beijing_times_and_chinese_sentences(
    as_user: Callable[[str], FlaskClient], world: w.World
) -> None:
    codes = vocabulary_codes()
    client = as_user("province1")
    for kind in reports.KINDS:
        url = f"/reports?kind={kind}&period=2020-2021-autumn"
        page = client.get(url)
        assert page.status_code == 200, url
        html = page.get_data(as_text=True)
        assert_clean(html, url, codes)
    civil_affairs = shipped_rules().vocabulary.source("civil_affairs")
    assert civil_affairs is not None
    watermark = visible_text(html).split("部门数据水位", 1)[1]
    assert re.match(
        rf"\s*{civil_affairs.label}最近一批数据（批次 M-2020-09-01）于\d{{4}}年\d+月\d+日 \d\d:\d\d收到",
        watermark,
    )


def test_the_printable_report_speaks_chinese(app, world: w.World) -> None:  # type: ignore[no-untyped-def]
    codes = vocabulary_codes()
    province = Actor(kind="user", name="province1", role="province_admin", region_code="320000")
    for kind in reports.KINDS:
        report = reports.prepare(
            db.session,
            actor=province,
            settings=wiring.settings(),
            kind=kind,
            period="2020-2021-autumn",
            region=None,
            fmt="html",
        )
        html = b"".join(render(report, "html")).decode("utf-8")
        assert_clean(html, f"printable {kind}", codes)
        assert "aided:" not in html and "数据截至（北京时间）" in html


def test_application_student_and_job_pages_name_people_and_labels(
    as_user: Callable[[str], FlaskClient], world: w.World, clock: Clock
) -> None:
    codes = vocabulary_codes()
    client = as_user("officer1")
    application_id = created(client)
    assert act(client, application_id, "review", level="special", note="评议小组一致同意").status_code == 302
    assert act(client, application_id, "publish_notice").status_code == 302
    clock.today = w.AFTER_NOTICE
    assert act(client, application_id, "approve", note="公示无异议").status_code == 302
    job = background_import(client, roster_file(row("S1-301", 731)))
    for url in (
        f"/applications/{application_id}",
        "/students/S1-001",
        "/students/S1-002",
        "/applications",
        "/jobs",
        job,
    ):
        html = client.get(url).get_data(as_text=True)
        assert_clean(html, url, codes)
    page = visible_text(client.get(f"/applications/{application_id}").get_data(as_text=True))
    assert "officer1（学校资助专员）" in page
