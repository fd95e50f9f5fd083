"""English for the texts that name codes by their labels: the rules page's condition toggles, export headers
and the messages that replaced English details (issue 20, labels)."""

from __future__ import annotations

EN_LABELS: dict[str, str] = {
    "表达式": "Expression",
    "代码": "Code",
    "拟认定": "Proposed",
    "{day}不在规则适用期（{start}至{end}）内，规则无法认定该日期。": (
        "{day} is outside the rules' coverage ({start} to {end}); the rules cannot evaluate that date."
    ),
    "晚于": "is after",
    "早于": "is before",
    "{day}{where}当前学年 {year}（{start}至{end}）。": "{day} {where} the current school year {year} ({start} to {end}).",
    "此项输入有误，请检查后重试。": "This field is not valid; please check it and try again.",
    "尚未运行。管理员可在“规则模拟”页面运行，或运行以下命令：": (
        "None run yet. An administrator runs one on the What-if page, or runs this command:"
    ),
    "草案目录": "DRAFT_DIR",
}
