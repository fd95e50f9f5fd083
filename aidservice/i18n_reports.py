"""The reports' definition of "aided" in both languages, and English for the reports' record lines and the names
of actors (the Chinese is written where it is used)."""

from __future__ import annotations

AIDED_DEFINITION_EN = (
    "aided: the student has at least one decision for the period's school year that was current at the "
    "report time, with status 'awarded' (funded, within or beyond a quota) and of kind grant, waiver or "
    "scholarship; loans (a ceiling, not money paid), unfunded and withdrawn decisions do not count"
)
AIDED_DEFINITION_CN = (
    "已资助：学生在本期所属学年有至少一项在报告时点有效的资助决定，其状态为“已资助”（名额内或超出名额资助），"
    "类别为助学金、免学费或奖学金；贷款（仅为额度，并非实际发放的资金）、名额不足未资助和已撤销的决定不计入"
)
"""The definition as the Chinese report states it (the JSON keeps the English wording, `AIDED_DEFINITION`)."""

EN_REPORTS = {
    AIDED_DEFINITION_CN: AIDED_DEFINITION_EN,
    "数据截至（北京时间）": "Data as of (Beijing time)",
    "部门数据水位": "Agency data received",
    "“已资助”定义": "Definition of “aided”",
    "规则版本": "Rule set versions",
    "认定结果": "Determinations",
    "资助决定": "Decisions",
    "尚未收到部门数据。": "No agency data received yet.",
    "系统": "System",
    "部门数据接口": "Agency data interface",
}
