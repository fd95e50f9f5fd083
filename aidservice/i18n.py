"""The officer UI's language: Chinese (zh-CN) by default, English on request; labels, dates and money.

Texts are written in Chinese where they are used (templates call `_("学生名册")`, label tables mark theirs
with `N_`); the gettext catalogues in aidservice/translations (messages.pot, zh_CN, en; `make messages`)
translate them, the Chinese text being the msgid. A text without an English entry is shown as written (data
from the rules, such as program names and reason labels, stays Chinese: it is the policy's own wording). The
labels of agency sources, stages, cities and special groups come from the loaded rule set (web.ui); the
catalogue translates the shipped ones (aidservice.i18n_rules extracts them). Placeholders are `{name}`,
filled after the lookup, so the msgid keeps them.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation
from functools import cache
from pathlib import Path

from babel.support import Translations

from aidservice.i18n_audit import AUDIT_ACTIONS as AUDIT_ACTIONS
from aidservice.i18n_audit import AUDIT_JOB_KINDS
from aidservice.i18n_audit import REPLAY_FIELDS as REPLAY_FIELDS
from aidservice.i18n_marker import N_
from aidservice.i18n_whatif import WHATIF_KINDS

LANGUAGES = ("zh-CN", "en")
DEFAULT_LANGUAGE = "zh-CN"
TRANSLATIONS = Path(__file__).resolve().parent / "translations"
"""The gettext catalogues: messages.pot and <catalogue>/LC_MESSAGES/messages.po and .mo (shipped compiled)."""
CATALOGUES = {"zh-CN": "zh_CN", "en": "en"}
"""Each UI language's catalogue (a Babel locale name)."""
JIANGSU = timezone(timedelta(hours=8), "CST")  # China Standard Time, no daylight saving
JIANGSU_ZONE = "Asia/Shanghai"  # the same, by name (Flask-Babel's default time zone)
EN_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")

LEVELS = {"special": N_("特别困难"), "difficult": N_("困难"), "general": N_("一般困难"), "none": N_("不困难")}
STATES = {
    "submitted": N_("已提交"),
    "reviewed": N_("已评议"),
    "notice": N_("公示中"),
    "objected": N_("异议复核中"),
    "approved": N_("已批准"),
    "rejected": N_("未通过"),
}
ACTIONS = {
    "submit": N_("提交申请"),
    "review": N_("评议"),
    "publish_notice": N_("公示"),
    "object": N_("登记异议"),
    "resolve": N_("复核异议"),
    "approve": N_("批准"),
    "reject": N_("不予认定"),
    "reassess": N_("重新认定"),
    "verify_declaration": N_("核实外省身份申报"),
}
OUTCOMES = {"upheld": N_("异议成立（调整等级）"), "dismissed": N_("异议不成立（维持等级）")}
ROLES = {
    "school_officer": N_("学校资助专员"),
    "county_admin": N_("县（区）管理员"),
    "city_admin": N_("设区市管理员"),
    "province_admin": N_("省级管理员"),
    "auditor": N_("审计人员"),
}
BUILTIN_SOURCES = {
    "roster": N_("学籍名册"),
    "school": N_("学校信息"),
    "declared": N_("申请人申报（承诺书）"),
    "application": N_("申请人申报（承诺书）"),
}
"""Where a fact comes from when no agency sends it; agency sources are named by the rules (sources.yaml)."""
RELATIONS = {
    "father": N_("父亲"),
    "mother": N_("母亲"),
    "guardian": N_("其他监护人"),
    "grandfather": N_("祖父"),
    "grandmother": N_("祖母"),
}
STATUSES = {"confirmed": N_("已确认"), "provisional": N_("暂定")}
KINDS = {
    "grant": N_("助学金"),
    "waiver": N_("免学费"),
    "scholarship": N_("奖学金"),
    "loan": N_("贷款（额度）"),
}
DECISION_STATUSES = {"awarded": N_("已资助"), "not_funded": N_("名额不足未资助"), "withdrawn": N_("已撤销")}
JOB_KINDS = {"redetermine": N_("批量重新认定"), "roster.import": N_("名册导入"), "report": N_("报告生成")}
JOB_KINDS.update(WHATIF_KINDS)
JOB_KINDS.update(AUDIT_JOB_KINDS)
JOB_STATES = {"queued": N_("排队中"), "running": N_("运行中"), "done": N_("已完成"), "failed": N_("失败")}
REPORT_KINDS = {
    "special-groups": N_("特殊群体学生资助情况"),
    "programs": N_("资助项目情况"),
    "regions": N_("地区资助情况"),
    "dropout_control": N_("控辍保学监测报告"),
}
FORMATS = {"xlsx": "Excel（XLSX）", "csv": "CSV"}


def normalise_language(value: str | None) -> str | None:
    """'en', 'EN', 'en-GB' -> 'en'; 'zh', 'zh-CN' -> 'zh-CN'; anything else -> None."""
    text = (value or "").strip().lower()
    if text.startswith("en"):
        return "en"
    if text.startswith("zh"):
        return "zh-CN"
    return None


def catalogue(language: str) -> str:
    """The catalogue (Babel locale) of a UI language: 'en' -> 'en', anything else -> 'zh_CN'."""
    return CATALOGUES.get(language, CATALOGUES[DEFAULT_LANGUAGE])


@cache
def translations(language: str) -> Translations:
    """The compiled catalogue of a UI language, read once per process (a missing .mo file is an error)."""
    with (TRANSLATIONS / catalogue(language) / "LC_MESSAGES" / "messages.mo").open("rb") as compiled:
        return Translations(compiled)


def translate(text: str, language: str, **values: object) -> str:
    """The text in `language` with `{name}` placeholders filled (outside requests too: exports, jobs)."""
    out = translations(language).gettext(text) if text else text  # gettext("") is the catalogue's header
    return out.format(**values) if values else out


def label(table: dict[str, str], key: object, language: str) -> str:
    """A code's Chinese label from one of the tables above, translated; unknown codes as they are."""
    if key is None:
        return ""
    text = table.get(str(key))
    return translate(text, language) if text is not None else str(key)


# -------------------------------------------------------------------------------------- formatting


def to_date(value: object) -> date | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return local(value).date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value)[:10])
    except ValueError:
        return None


def local(moment: datetime) -> datetime:
    """A stored moment (UTC; SQLite drops the zone) in Jiangsu time."""
    aware = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment
    return aware.astimezone(JIANGSU)


def format_date(value: object, language: str = DEFAULT_LANGUAGE) -> str:
    """2020年9月1日 (zh-CN) or 1 Sep 2020 (en); empty for no date."""
    day = to_date(value)
    if day is None:
        return "" if value in (None, "") else str(value)
    if language == "en":
        return f"{day.day} {EN_MONTHS[day.month - 1]} {day.year}"
    return f"{day.year}年{day.month}月{day.day}日"


def format_datetime(value: object, language: str = DEFAULT_LANGUAGE) -> str:
    """2020年9月1日 08:30 in Jiangsu time."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return value
    if not isinstance(value, datetime):
        return format_date(value, language)
    moment = local(value)
    return f"{format_date(moment.date(), language)} {moment:%H:%M}"


def format_money(value: object) -> str:
    """¥1,250.00; a negative amount as -¥1,250.00; empty when there is no amount."""
    if value is None or value == "":
        return ""
    try:
        amount = Decimal(str(value)).quantize(Decimal("0.01"))
    except (InvalidOperation, ValueError):
        return str(value)
    sign = "-" if amount < 0 else ""
    return f"{sign}¥{abs(amount):,.2f}"
