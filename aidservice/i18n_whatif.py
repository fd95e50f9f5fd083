"""English for the what-if page (/whatif) and its links, merged into `i18n.EN`; the job kind's label."""

from __future__ import annotations

WHATIF_KINDS = {"whatif": "规则模拟"}  # the job kind's label
EN_WHATIF: dict[str, str] = {
    "规则模拟": "What-if",
    "规则模拟：草案规则与现行规则对比": "What-if: draft rules against the running rules",
    "规则模拟：对比草案规则，下载变化学生明细": "What-if: compare draft rules, download the changing students",
    "同一认定日期、同一名册和事实，分别用现行规则和草案规则认定每名学生，列出谁的等级或资助会变化。不写入任何认定结果。": (
        "On one date, with the same roster and facts, every student is determined with the running rules and "
        "with the draft, listing whose level or aid would change. No determination is written."
    ),
    "服务器上的草案规则": "Draft rules on the server",
    "无草案（现行规则，结果应为无变化）": "No draft (the running rules: the answer is no change)",
    "草案目录由规则维护人员审核后部署在服务器上（AID_DRAFT_RULES_DIR）。": (
        "Draft folders are reviewed by the rules maintainers and deployed on the server (AID_DRAFT_RULES_DIR)."
    ),
    "或上传草案规则（ZIP，仅含 YAML 文件）": "Or upload draft rules (a ZIP of YAML files only)",
    "开始模拟": "Run the what-if",
    "模拟已开始；完成后本页显示结果。": "The what-if has started; this page shows the result when it is done.",
    "模拟结果": "What-if result",
    "查看进度": "See progress",
    "无变化：每名学生的认定等级、资助项目和金额均不变。": (
        "No change: every student keeps the same level, programs and amounts."
    ),
    "资助增加的学生": "Students gaining aid",
    "资助减少的学生": "Students losing aid",
    "资助增加": "Gaining",
    "资助减少": "Losing",
    "资助变化合计（不含助学贷款）": "Total change in aid (loans not counted)",
    "按资助项目": "By program",
    "按地区": "By region",
    "新增": "Gained",
    "减少": "Lost",
    "变化学生": "Changing students",
    "地区": "Region",
    "下载 Excel（变化学生明细，身份证号已脱敏）": "Download Excel (changing students, ID numbers masked)",
    "最近的模拟": "Recent what-ifs",
    "草案": "Draft",
    "无草案": "No draft",
    "发起人": "Started by",
    "尚无模拟。": "No what-if yet.",
    "文件超过 {n} 字节。": "The file is over {n} bytes.",
    "请输入日期，如 2020-09-01。": "Enter a date, e.g. 2020-09-01.",
    "查看模拟结果": "See the what-if's result",
}
