"""The officer UI's language: Chinese (zh-CN) by default, English on request; labels, dates and money.

Texts are written in Chinese where they are used (templates call `_("学生名册")`); `EN` translates them.
A text without an English entry is shown as written (data from the rules, such as program names and
reason labels, stays Chinese: it is the policy's own wording). The labels of agency sources, stages, cities
and special groups come from the loaded rule set (web.ui); `EN` translates the shipped ones. Placeholders
are `{name}`.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation

from aidservice.i18n_audit import AUDIT_ACTIONS as AUDIT_ACTIONS
from aidservice.i18n_audit import AUDIT_JOB_KINDS
from aidservice.i18n_audit import REPLAY_FIELDS as REPLAY_FIELDS
from aidservice.i18n_en import EN as EN  # the English catalogue, re-exported for callers
from aidservice.i18n_whatif import WHATIF_KINDS

LANGUAGES = ("zh-CN", "en")
DEFAULT_LANGUAGE = "zh-CN"
JIANGSU = timezone(timedelta(hours=8), "CST")  # China Standard Time, no daylight saving
EN_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")

LEVELS = {"special": "特别困难", "difficult": "困难", "general": "一般困难", "none": "不困难"}
STATES = {
    "submitted": "已提交",
    "reviewed": "已评议",
    "notice": "公示中",
    "objected": "异议复核中",
    "approved": "已批准",
    "rejected": "未通过",
}
ACTIONS = {
    "submit": "提交申请",
    "review": "评议",
    "publish_notice": "公示",
    "object": "登记异议",
    "resolve": "复核异议",
    "approve": "批准",
    "reject": "不予认定",
    "reassess": "重新认定",
    "verify_declaration": "核实外省身份申报",
}
OUTCOMES = {"upheld": "异议成立（调整等级）", "dismissed": "异议不成立（维持等级）"}
ROLES = {
    "school_officer": "学校资助专员",
    "county_admin": "县（区）管理员",
    "city_admin": "设区市管理员",
    "province_admin": "省级管理员",
    "auditor": "审计人员",
}
BUILTIN_SOURCES = {
    "roster": "学籍名册",
    "school": "学校信息",
    "declared": "申请人申报（承诺书）",
    "application": "申请人申报（承诺书）",
}
"""Where a fact comes from when no agency sends it; agency sources are named by the rules (sources.yaml)."""
RELATIONS = {
    "father": "父亲",
    "mother": "母亲",
    "guardian": "其他监护人",
    "grandfather": "祖父",
    "grandmother": "祖母",
}
STATUSES = {"confirmed": "已确认", "provisional": "暂定"}
KINDS = {"grant": "助学金", "waiver": "免学费", "scholarship": "奖学金", "loan": "贷款（额度）"}
DECISION_STATUSES = {"awarded": "已资助", "not_funded": "名额不足未资助", "withdrawn": "已撤销"}
JOB_KINDS = {"redetermine": "批量重新认定", "roster.import": "名册导入", "report": "报告生成"}
JOB_KINDS.update(WHATIF_KINDS)
JOB_KINDS.update(AUDIT_JOB_KINDS)
JOB_STATES = {"queued": "排队中", "running": "运行中", "done": "已完成", "failed": "失败"}
REPORT_KINDS = {
    "special-groups": "特殊群体学生资助情况",
    "programs": "资助项目情况",
    "regions": "地区资助情况",
    "dropout_control": "控辍保学监测报告",
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


def translate(text: str, language: str, **values: object) -> str:
    """The text in `language` with `{name}` placeholders filled."""
    out = EN.get(text, text) if language == "en" else text
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
