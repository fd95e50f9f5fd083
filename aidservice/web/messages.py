"""Service messages a page shows, in the page's language: the services write some refusals once in English for
the API and the CLI (the rules' coverage, the school year of a re-determination, the spreadsheet reader); a
page in Chinese shows them as Chinese sentences, and never an English detail it has no sentence for."""

from __future__ import annotations

import re
from datetime import date

from aidservice import i18n
from aidservice.i18n_marker import N_
from aidservice.services.sheets import sheet_messages

from .ui import _, language

HAN = re.compile(r"[\u4e00-\u9fff]")
_DAY = r"\d{4}-\d\d-\d\d"
COVERAGE = re.compile(
    rf"(?P<day>{_DAY}) is outside the rules' coverage \((?P<start>{_DAY}) to (?P<end>{_DAY})\); "
    r"the rules cannot evaluate that date"
)
SCHOOL_YEAR = re.compile(
    rf"(?P<day>{_DAY}) is (?P<where>after|before) the current school year (?P<year>\S+) "
    rf"\((?P<start>{_DAY}) to (?P<end>{_DAY})\)(?P<hint>; .*)?"
)
GENERAL = N_("此项输入有误，请检查后重试。")


def _day(text: str) -> str:
    return i18n.format_date(date.fromisoformat(text), language())


def chinese(message: str) -> str | None:
    """`message` as a page in Chinese shows it, or None when there is no Chinese sentence for it."""
    if HAN.search(message):
        return message
    if found := COVERAGE.fullmatch(message):
        return _(
            "{day}不在规则适用期（{start}至{end}）内，规则无法认定该日期。",
            day=_day(found["day"]),
            start=_day(found["start"]),
            end=_day(found["end"]),
        )
    if found := SCHOOL_YEAR.fullmatch(message):
        where = _("晚于") if found["where"] == "after" else _("早于")
        return _(
            "{day}{where}当前学年 {year}（{start}至{end}）。",
            day=_day(found["day"]),
            where=where,
            year=found["year"],
            start=_day(found["start"]),
            end=_day(found["end"]),
        )
    if sheet_messages.known(message):
        return sheet_messages.chinese(message)
    return None


def page_message(message: object) -> str:
    """A field's message on a page: English as written for `?lang=en`, else its Chinese or a general sentence."""
    text = str(message or "")
    if language() == "en":
        return text
    return chinese(text) or _(GENERAL)


def page_detail(message: object) -> str:
    """An error page's detail: its Chinese, or nothing when there is no Chinese sentence for it (the page's own
    explanation stands)."""
    text = str(message or "")
    if language() == "en":
        return text
    return chinese(text) or ""
