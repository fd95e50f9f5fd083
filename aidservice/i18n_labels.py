"""English for the texts that name codes by their labels: the rules page's condition toggles, export headers
and the messages that replaced English details (issue 20, labels)."""

from __future__ import annotations

EN_LABELS: dict[str, str] = {
    "表达式": "Expression",
    "代码": "Code",
    "拟认定": "Proposed",
    "尚未运行。管理员可在“规则模拟”页面运行，或运行以下命令：": (
        "None run yet. An administrator runs one on the What-if page, or runs this command:"
    ),
    "草案目录": "DRAFT_DIR",
}
