"""What every page shares: the language and Jinja filters (dates as 2020年9月1日, money as ¥1,250.00, labels).

The security headers (a Content-Security-Policy without inline script or style) are aidservice.security's."""

from __future__ import annotations

import re
from collections.abc import Callable
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

from flask import Flask, current_app, g, has_request_context, request, session

from aidservice import i18n
from aidservice.extensions import db
from aidservice.i18n_marker import N_
from aidservice.services.people import actor_names
from aidservice.services.vocabulary import value_labels

from .session import LANGUAGE_KEY, display_user

API_PREFIX = "/api"
ID_LIKE = re.compile(r"^\d{17}[\dXx]$")  # a full ID number is never echoed back into a link


def language() -> str:
    """?lang=en (or zh-CN) for this request, else the one chosen earlier in the session, else AID_UI_LANGUAGE."""
    if not has_request_context():
        return i18n.DEFAULT_LANGUAGE
    chosen = i18n.normalise_language(request.args.get("lang"))
    if chosen:
        return chosen
    remembered = i18n.normalise_language(session.get(LANGUAGE_KEY))
    return remembered or current_app.config.get("AID_UI_LANGUAGE", i18n.DEFAULT_LANGUAGE)


def _(text: str, **values: object) -> str:
    """Translate a UI text (written in Chinese) into the page's language; `{name}` placeholders filled after."""
    return i18n.translate(text, language(), **values)


def babel_locale() -> str:
    """Flask-Babel's locale selector: the catalogue of the page's language (zh_CN or en)."""
    return i18n.catalogue(language())


def _remember_language() -> None:
    if request.path.startswith(API_PREFIX):
        return
    chosen = i18n.normalise_language(request.args.get("lang"))
    if chosen and session.get(LANGUAGE_KEY) != chosen:
        session[LANGUAGE_KEY] = chosen


def _labeller(table: dict[str, str]) -> Callable[[object], str]:
    return lambda key: i18n.label(table, key, language())


def _rules() -> Any:
    return current_app.extensions["aid_rules"]


def _ruled(text: str | None, key: object) -> str:
    """A label the rules give (translated when the UI is English and the catalogue knows it), else the code itself."""
    if key is None:
        return ""
    return i18n.translate(text, language()) if text is not None else str(key)


def source_label(key: object) -> str:
    """A fact's source by name: an agency as the rules name it, or the roster, school, application."""
    source = _rules().vocabulary.source(str(key))
    return _ruled(source.label if source is not None else i18n.BUILTIN_SOURCES.get(str(key)), key)


def stage_label(key: object) -> str:
    """A stage by the label of the rules' `stage` value (小学)."""
    spec = _rules().facts.get("stage")
    return _ruled(spec.label_of(key) if spec is not None and key in spec.values else None, key)


def group_label(key: object) -> str:
    """A special group by the name the rules give it (建档立卡学生)."""
    return _ruled(_rules().vocabulary.group_labels.get(str(key)), key)


def city_label(key: object) -> str | None:
    """A city by the label of the rules' `city_code` value (南京市), or None."""
    spec = _rules().facts.get("city_code")
    return spec.label_of(str(key)) if spec is not None and str(key) in spec.values else None


def fact_value(entry: dict[str, Any]) -> str:
    """A fact's value as a person reads it: 是/否, money, a stage or a city by name, or the number."""
    value, kind, name = entry.get("value"), entry.get("type"), entry.get("name")
    if value is None:
        return _("未知")
    if isinstance(value, bool):
        return _("是") if value else _("否")
    if kind == "money":
        return i18n.format_money(value)
    if name == "stage":
        return stage_label(value)
    if name == "city_code":
        city = city_label(value)
        return f"{city}（{value}）" if city else str(value)
    if kind == "enum" and isinstance(name, str):
        return enum_label(value, name)
    return str(value)


def enum_label(value: object, fact: str) -> str:
    """A value of an enum fact by its Chinese label from the running rules (陕西, 在读); '—' for none."""
    if value is None or value == "":
        return "—"
    return value_labels(current_app.extensions["aid_rules"].facts, fact).get(str(value), str(value))


def report_cell(value: object, column: Any) -> str:
    """A report cell by its column type: money in fen as ¥, rates as percentages, dates in Chinese."""
    if value is None or value == "":
        return ""
    kind = getattr(column, "type", "text")
    if kind == "money" and isinstance(value, int | float):
        return i18n.format_money(Decimal(int(value)).scaleb(-2))
    if kind == "rate" and isinstance(value, int | float):
        return f"{value * 100:.1f}%"
    if kind == "date":
        return i18n.format_date(value, language())
    return str(value)


def fact_labels(names: list[str] | tuple[str, ...]) -> str:
    """Fact names (from `missing` lists) as their catalogue labels, joined with 、."""
    catalogue = current_app.extensions["aid_rules"].facts
    return "、".join(getattr(catalogue.get(n), "label", n) for n in names)


def fact_label(name: str) -> str:
    """A fact's label from the running rule set's catalogue."""
    spec = current_app.extensions["aid_rules"].facts.get(name)
    return spec.label if spec is not None else name


def actor_name(actor_id: object) -> str:
    """An actor id (`user:officer1`) as officers read it (officer1（学校资助专员）); looked up once per request."""
    if not actor_id:
        return ""
    key = str(actor_id)
    known: dict[str, str] = g.setdefault("actor_names", {})
    if key not in known:
        known.update(actor_names(db.session(), [key], _rules().vocabulary))
    return i18n.translate(known.get(key, key), language())


def lang_url(code: str) -> str:
    """This page in another language (the query kept, `lang` replaced)."""
    args = [
        (k, v) for k, v in request.args.items(multi=True) if k != "lang" and not ID_LIKE.fullmatch(v.strip())
    ]
    return request.path + "?" + urlencode([*args, ("lang", code)])


def _context() -> dict[str, Any]:
    lang = language()
    return {
        "lang": lang,
        "html_lang": "en" if lang == "en" else "zh-CN",
        "ui_user": display_user() if has_request_context() else None,
        "school_year": current_app.config.get("AID_SCHOOL_YEAR"),
    }


def init_app(app: Flask) -> None:
    app.jinja_env.filters.update(
        date_cn=lambda v: i18n.format_date(v, language()),
        datetime_cn=lambda v: i18n.format_datetime(v, language()),
        money=i18n.format_money,
        level_label=_labeller(i18n.LEVELS),
        state_label=_labeller(i18n.STATES),
        action_label=_labeller(i18n.ACTIONS),
        outcome_label=_labeller(i18n.OUTCOMES),
        role_label=_labeller(i18n.ROLES),
        source_label=source_label,
        stage_label=stage_label,
        group_label=group_label,
        status_label=_labeller(i18n.STATUSES),
        relation_label=_labeller(i18n.RELATIONS),
        kind_label=_labeller(i18n.KINDS),
        decision_status_label=_labeller(i18n.DECISION_STATUSES),
        report_label=_labeller(i18n.REPORT_KINDS),
        fact_value=fact_value,
        fact_labels=fact_labels,
        enum_label=enum_label,
        report_cell=report_cell,
        actor_name=actor_name,
    )
    app.jinja_env.globals.update(  # globals: imported macros see them too
        _=_,  # replaces Flask-Babel's: the texts' placeholders are `{name}`
        N_=N_,
        fact_label=fact_label,
        city_label=city_label,
        lang_url=lang_url,
        level_label_fn=_labeller(i18n.LEVELS),
        outcome_label_fn=_labeller(i18n.OUTCOMES),
    )
    app.context_processor(_context)
    app.before_request(_remember_language)
