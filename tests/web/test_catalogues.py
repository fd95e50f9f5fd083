"""The gettext catalogues (aidservice/translations): every UI text extracted, translated, and nothing left over.

The texts are found as `make messages` finds them: Babel's extraction over babel.cfg (Python `_`, `N_`,
`translate`, the templates, and the shipped rules' labels through aidservice.i18n_rules).
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

import pytest
from babel import Locale
from babel.messages.catalog import Catalog
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po
from flask import Flask
from flask_babel import get_locale
from flask_babel import gettext as flask_babel_gettext

from aidservice import i18n
from aidservice.i18n_audit import BROKEN_REASONS
from aidservice.i18n_rules import rule_labels
from aidservice.web.forms import LoginForm
from tests.world.vocabulary import shipped_rules

ROOT = Path(__file__).resolve().parents[2]
CATALOGUES = ROOT / "aidservice" / "translations"
CHINESE = re.compile(r"[\u4e00-\u9fff]")
PLACEHOLDER = re.compile(r"\{(\w*)\}")
KEYWORDS = {**DEFAULT_KEYWORDS, "translate": (1,)}  # as `make messages` (-k translate:1)


@cache
def extracted() -> frozenset[str]:
    """Every msgid of the code, the templates and the shipped rules, as `pybabel extract -F babel.cfg` sees it."""
    with (ROOT / "babel.cfg").open(encoding="utf-8") as cfg:
        method_map, options_map = parse_mapping_cfg(cfg)
    found = extract_from_dir(str(ROOT), method_map, options_map, keywords=KEYWORDS)
    return frozenset(message for _file, _line, message, _comments, _context in found if message)


@cache
def catalogue(name: str) -> Catalog:
    path = CATALOGUES / name if name.endswith(".pot") else CATALOGUES / name / "LC_MESSAGES" / "messages.po"
    with path.open("rb") as fileobj:
        return read_po(fileobj)


def msgids(catalog: Catalog) -> set[str]:
    return {message.id for message in catalog if message.id and isinstance(message.id, str)}


def label_tables() -> dict[str, set[str]]:
    """The Chinese values of every label table in aidservice.i18n (LEVELS, STATES, AUDIT_ACTIONS, ...)."""
    tables = {
        name: {v for v in value.values() if isinstance(v, str) and CHINESE.search(v)}
        for name, value in vars(i18n).items()
        if name.isupper() and isinstance(value, dict)
    }
    tables["BROKEN_REASONS"] = {label for _fragment, label in BROKEN_REASONS}
    return {name: texts for name, texts in tables.items() if texts}


def test_the_extraction_finds_the_label_tables_and_the_rules_labels() -> None:
    """A table's text without N_, or a rule label the extractor misses, would be shown untranslated."""
    tables = label_tables()
    assert {"LEVELS", "STATES", "ROLES", "AUDIT_ACTIONS", "REPLAY_FIELDS", "JOB_KINDS"} <= set(tables)
    missing = {name: sorted(texts - extracted()) for name, texts in tables.items() if texts - extracted()}
    assert not missing, f"mark these with N_(...): {missing}"
    rules = shipped_rules()
    labels = set(rule_labels(rules))
    assert {"建档立卡学生", "小学", "民政部门"} <= labels  # groups, stages, sources
    assert {s.label for s in rules.vocabulary.sources} <= labels
    assert not labels - extracted()


def test_form_messages_are_marked_for_the_catalogue() -> None:
    """A validator's Chinese message is shown through `_()` as a value: without N_ it would stay untranslated."""
    message = re.compile(
        r"""(?:ValidationError|DataRequired|InputRequired|EqualTo\("\w+",|message=)\(?\s*(?:N_\()?["']([^"']*[\u4e00-\u9fff][^"']*)["']"""
    )
    found = {
        text
        for path in (ROOT / "aidservice" / "web").rglob("*.py")
        for text in message.findall(path.read_text("utf-8"))
    }
    assert {"请输入用户名", "请输入当前密码", "名额不能小于0。"} <= found
    assert not found - extracted(), f"mark these with N_(...): {sorted(found - extracted())}"


def test_every_ui_text_has_an_english_translation() -> None:
    english = catalogue("en")
    missing = sorted(text for text in extracted() if text not in english or not english[text].string)
    assert not missing, f"untranslated (make messages, then fill en/messages.po): {missing}"
    fuzzy = sorted(m.id for m in english if m.id and m.fuzzy)
    assert not fuzzy, f"fuzzy entries are not used: check and clear the flag: {fuzzy}"


def test_translations_keep_the_placeholders() -> None:
    """`{name}` is filled after the lookup: a translation with other names would fail at .format()."""
    wrong = [
        (m.id, m.string)
        for m in catalogue("en")
        if m.id and set(PLACEHOLDER.findall(str(m.id))) != set(PLACEHOLDER.findall(str(m.string)))
    ]
    assert not wrong, wrong


def test_the_chinese_ui_shows_no_english_sentence() -> None:
    """A msgid is what zh-CN shows: Chinese, or only placeholders, digits and punctuation ("{done} / {total}")."""
    english = sorted(
        text
        for text in extracted()
        if not CHINESE.search(text) and re.search(r"[A-Za-z]", PLACEHOLDER.sub("", text))
    )
    assert not english, english


@pytest.mark.parametrize("name", ["messages.pot", "zh_CN", "en"])
def test_catalogues_hold_exactly_the_extracted_texts(name: str) -> None:
    """messages.pot is up to date and neither catalogue keeps a text the code no longer uses (make messages)."""
    catalog = catalogue(name)
    assert not catalog.obsolete, sorted(catalog.obsolete)
    ids = msgids(catalog)
    assert not extracted() - ids, f"not in {name} (make messages): {sorted(extracted() - ids)}"
    assert not ids - extracted(), f"unused in {name} (make messages drops them): {sorted(ids - extracted())}"


@pytest.mark.parametrize("name", ["zh_CN", "en"])
def test_compiled_catalogues_match_their_po_files(name: str) -> None:
    """The .mo files are committed (a wheel ships them); each must be the compiled .po (make messages)."""
    with (CATALOGUES / name / "LC_MESSAGES" / "messages.mo").open("rb") as fileobj:
        compiled = {m.id: m.string for m in read_mo(fileobj) if m.id}
    wanted = {m.id: m.string for m in catalogue(name) if m.id and m.string and not m.fuzzy}
    assert compiled == wanted


def test_translate_reads_the_catalogues_outside_requests() -> None:
    assert i18n.translate("首页", "en") == "Dashboard"
    assert i18n.translate("首页", "zh-CN") == "首页"
    assert i18n.translate("第 {row} 行", "en", row=3) == "Row 3"
    assert i18n.translate("第 {row} 行", "zh-CN", row=3) == "第 3 行"
    assert i18n.translate("", "en") == ""  # not the catalogue's header
    assert i18n.translate("没有这条文字", "en") == "没有这条文字"  # unknown: shown as written
    assert i18n.label(i18n.STATES, "approved", "en") == "Approved"


@pytest.mark.parametrize(
    ("query", "locale", "too_long"),
    [("", "zh_CN", "字段长度不能超过 64 个字符"), ("?lang=en", "en", "longer than 64")],
)
def test_flask_babel_follows_the_ui_language(app: Flask, query: str, locale: str, too_long: str) -> None:
    """The locale selector is the page's language; WTForms' own messages (a Length without our message) follow it."""
    with app.test_request_context(
        "/login" + query, method="POST", data={"username": "u" * 65, "password": "x"}
    ):
        assert get_locale() == Locale.parse(locale)
        assert flask_babel_gettext("首页") == i18n.translate("首页", "en" if locale == "en" else "zh-CN")
        form = LoginForm(meta={"csrf": False})
        assert not form.validate()
        assert too_long in " ".join(form.username.errors)
