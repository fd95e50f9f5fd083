"""The reports' definition of "aided" in both languages (the Chinese one is translated by the catalogue, the
English one is the JSON's wording)."""

from __future__ import annotations

from aidservice.i18n_marker import N_

AIDED_DEFINITION_EN = (
    "aided: the student has at least one decision for the period's school year that was current at the "
    "report time, with status 'awarded' (funded, within or beyond a quota) and of kind grant, waiver or "
    "scholarship; loans (a ceiling, not money paid), unfunded and withdrawn decisions do not count"
)
AIDED_DEFINITION_CN = N_(
    "已资助：学生在本期所属学年有至少一项在报告时点有效的资助决定，其状态为“已资助”（名额内或超出名额资助），"
    "类别为助学金、免学费或奖学金；贷款（仅为额度，并非实际发放的资金）、名额不足未资助和已撤销的决定不计入"
)
"""The definition as the Chinese report states it (the JSON keeps the English wording, `AIDED_DEFINITION`)."""
