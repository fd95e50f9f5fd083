"""The officer UI's language: Chinese (zh-CN) by default, English on request; labels, dates and money.

Texts are written in Chinese where they are used (templates call `_("学生名册")`); `EN` translates them.
A text without an English entry is shown as written (data from the rules, such as program names and
reason labels, stays Chinese: it is the policy's own wording). Placeholders are `{name}`.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation

from aidservice.i18n_whatif import EN_WHATIF, WHATIF_KINDS

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
}
OUTCOMES = {"upheld": "异议成立（调整等级）", "dismissed": "异议不成立（维持等级）"}
ROLES = {
    "school_officer": "学校资助专员",
    "county_admin": "县（区）管理员",
    "city_admin": "设区市管理员",
    "province_admin": "省级管理员",
    "auditor": "审计人员",
}
SOURCES = {
    "roster": "学籍名册",
    "school": "学校信息",
    "declared": "申请人申报（承诺书）",
    "application": "申请人申报（承诺书）",
    "poverty_alleviation": "扶贫部门",
    "civil_affairs": "民政部门",
    "disabled_persons_federation": "残联",
    "veterans_affairs": "退役军人事务部门",
}
STAGES = {
    "preschool": "学前教育",
    "primary": "小学",
    "junior": "初中",
    "senior_high": "普通高中",
    "vocational": "中职",
    "undergraduate": "本专科",
    "master": "硕士研究生",
    "doctor": "博士研究生",
}
GROUPS = {
    "registered_poor": "建档立卡学生",
    "poverty_monitored": "防返贫监测对象学生",
    "subsistence_allowance": "低保家庭学生",
    "extreme_poverty_support": "特困供养学生",
    "orphan": "孤儿",
    "de_facto_orphan": "事实无人抚养儿童",
    "martyr_child": "烈士子女",
    "disabled": "残疾学生",
}
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
CITIES = {
    "320100": "南京",
    "320200": "无锡",
    "320300": "徐州",
    "320400": "常州",
    "320500": "苏州",
    "320600": "南通",
    "320700": "连云港",
    "320800": "淮安",
    "320900": "盐城",
    "321000": "扬州",
    "321100": "镇江",
    "321200": "泰州",
    "321300": "宿迁",
}
JOB_KINDS = {"redetermine": "批量重新认定", "roster.import": "名册导入", "report": "报告生成"}
JOB_KINDS.update(WHATIF_KINDS)
JOB_STATES = {"queued": "排队中", "running": "运行中", "done": "已完成", "failed": "失败"}
REPORT_KINDS = {
    "special-groups": "特殊群体学生资助情况",
    "programs": "资助项目情况",
    "regions": "地区资助情况",
}
FORMATS = {"xlsx": "Excel（XLSX）", "csv": "CSV"}

EN: dict[str, str] = {
    # layout, navigation, common
    "江苏省学生资助": "Jiangsu Student Aid",
    "江苏省学生资助申请平台": "Jiangsu Student Aid Platform",
    "首页": "Dashboard",
    "学生名册": "Roster",
    # background jobs
    "后台任务": "Background jobs",
    "批量重新认定": "Bulk re-determination",
    "名册导入": "Roster import",
    "报告生成": "Report generation",
    "排队中": "Queued",
    "运行中": "Running",
    "已完成": "Done",
    "失败": "Failed",
    "{done} / {total}": "{done} / {total}",
    "{done} / 未知": "{done} / unknown",
    "导入、重新认定和报告生成在后台运行；本页自动更新进度。": "Imports, re-determinations and reports run in the background; this page updates their progress.",
    "刷新": "Refresh",
    "编号": "No.",
    "类型": "Kind",
    "进度": "Progress",
    "尝试次数": "Attempts",
    "创建时间": "Created",
    "完成时间": "Finished",
    "结果": "Result",
    "暂无后台任务。": "No background jobs.",
    "全部后台任务": "All background jobs",
    "第 {row} 行": "Row {row}",
    "重新认定 {students} 名学生，新增认定 {stored} 条，其中等级或资助变化 {changed} 条。": "Re-determined {students} students: {stored} new determinations, {changed} with another level or awards.",
    "未导入任何数据。请修正以下问题后重新导入：": "Nothing was imported. Fix these problems and import again:",
    "在后台导入（大文件适用；可在“后台任务”查看进度）": "Import in the background (for large files; follow it under “Background jobs”)",
    "已在后台开始导入，完成后本页显示结果。": "The import runs in the background; this page shows the result when it is done.",
    "申请": "Applications",
    "统计报告": "Reports",
    "认定规则": "Rules",
    "退出登录": "Sign out",
    "登录": "Sign in",
    "主导航": "Main navigation",
    "语言": "Language",
    "跳到正文": "Skip to content",
    "当前学年": "School year",
    "学年": "School year",
    "返回首页": "Back to the dashboard",
    "分页": "Pages",
    "上一页": "Previous",
    "下一页": "Next",
    "第 {page} / {pages} 页，共 {total} 条": "Page {page} of {pages}, {total} in all",
    "查看": "Open",
    "无": "None",
    "是": "Yes",
    "否": "No",
    "未知": "Unknown",
    "操作": "Action",
    "提交": "Submit",
    "搜索": "Search",
    "清除": "Clear",
    "数量": "Count",
    "合计": "Total",
    "打印": "Print",
    "说明": "Note",
    "请求编号": "Request id",
    "如需帮助，请向管理员提供此编号。": "Quote this id when you ask an administrator for help.",
    "技术信息": "Technical detail",
    "请修正标出的字段后再提交。": "Please correct the marked fields and submit again.",
    # roles, labels
    "学校资助专员": "School aid officer",
    "县（区）管理员": "County administrator",
    "设区市管理员": "City administrator",
    "省级管理员": "Province administrator",
    "审计人员": "Auditor",
    "特别困难": "Special difficulty",
    "困难": "Difficulty",
    "一般困难": "General difficulty",
    "不困难": "Not in difficulty",
    "已提交": "Submitted",
    "已评议": "Reviewed",
    "公示中": "On public notice",
    "异议复核中": "Objection under review",
    "已批准": "Approved",
    "未通过": "Rejected",
    "提交申请": "Submit",
    "评议": "Review",
    "公示": "Publish notice",
    "登记异议": "Record objection",
    "复核异议": "Resolve objection",
    "批准": "Approve",
    "不予认定": "Reject",
    "重新认定": "Reassess",
    "异议成立（调整等级）": "Upheld (change the level)",
    "异议不成立（维持等级）": "Dismissed (keep the level)",
    "学籍名册": "School roster",
    "学校信息": "School record",
    "申请人申报（承诺书）": "Declared by the applicant (commitment)",
    "扶贫部门": "Poverty alleviation office",
    "民政部门": "Civil affairs",
    "残联": "Disabled persons' federation",
    "退役军人事务部门": "Veterans affairs",
    "学前教育": "Preschool",
    "小学": "Primary",
    "初中": "Junior secondary",
    "普通高中": "Senior high",
    "中职": "Vocational",
    "本专科": "Undergraduate",
    "硕士研究生": "Master's",
    "博士研究生": "Doctoral",
    "建档立卡学生": "Registered-poverty students",
    "防返贫监测对象学生": "Poverty-monitored students",
    "低保家庭学生": "Subsistence-allowance families",
    "特困供养学生": "Extreme-poverty support",
    "孤儿": "Orphans",
    "事实无人抚养儿童": "De facto orphans",
    "烈士子女": "Martyrs' children",
    "残疾学生": "Disabled students",
    "父亲": "Father",
    "母亲": "Mother",
    "其他监护人": "Other guardian",
    "祖父": "Grandfather",
    "祖母": "Grandmother",
    "已确认": "Confirmed",
    "暂定": "Provisional",
    "助学金": "Grant",
    "免学费": "Fee waiver",
    "奖学金": "Scholarship",
    "贷款（额度）": "Loan (ceiling)",
    "已资助": "Awarded",
    "名额不足未资助": "Not funded (quota)",
    "已撤销": "Withdrawn",
    "特殊群体学生资助情况": "Special-group students",
    "资助项目情况": "Programs",
    "地区资助情况": "Regions",
    # login
    "用户名": "Username",
    "密码": "Password",
    "请输入用户名": "Enter your username",
    "请输入密码": "Enter your password",
    "用户名或密码错误。": "Wrong username or password.",
    "登录失败次数过多，请 {minutes} 分钟后再试。": "Too many failed sign-ins; try again in {minutes} minutes.",
    "在以前登录过的设备上仍可登录。": "You can still sign in from a device you have signed in with before.",
    "请先登录。": "Please sign in first.",
    "登录已过期，请重新登录。": "Your session has ended; please sign in again.",
    "您已退出登录。": "You have signed out.",
    "学生资助工作人员登录": "Sign in for aid officers",
    "本系统仅供学校资助专员、各级管理员和审计人员使用。": "For school aid officers, administrators and auditors only.",
    # dashboard
    "工作台": "Dashboard",
    "申请状态": "Applications by state",
    "未申请的特殊群体学生": "Special-group students without an application",
    "以下学生在部门数据中属于特殊群体，但本学年尚未提交申请（应助尽助）。": "The agencies list these students in a special group, but they have not applied this school year (every student who should be aided is aided).",
    "共 {n} 人，显示前 {shown} 人。": "{n} in all; the first {shown} are shown.",
    "没有未申请的特殊群体学生。": "No special-group student is without an application.",
    "名额使用": "Quota use",
    "资助项目": "Program",
    "名额": "Places",
    "已资助人数": "Funded",
    "缺口": "Shortfall",
    "本学年没有设定名额的项目。": "No program has a quota this school year.",
    "在校学生": "Students",
    "已认定": "Determined",
    "认定等级分布": "Determinations by level",
    "特殊群体覆盖": "Special-group coverage",
    "特殊群体": "Special group",
    "学生数": "Students",
    "已申请": "Applied",
    "覆盖率": "Coverage",
    "特殊群体学生（去重）": "Special-group students (distinct)",
    "最近的部门数据批次": "Latest agency batches",
    "部门": "Agency",
    "批次": "Batch",
    "接收时间": "Received",
    "记录": "Records",
    "接受": "Accepted",
    "拒收": "Rejected",
    "匹配学生": "Matched students",
    "尚未收到部门数据。": "No agency batch has been received yet.",
    "数据截至 {date}（本学期首日）": "As of {date} (first day of the semester)",
    "发起申请": "Start an application",
    # roster
    "搜索学生": "Search students",
    "姓名、学号或班级": "Name, student id or class",
    "按身份证号查找": "Find by ID number",
    "查找": "Find",
    "请输入完整的18位身份证号。": "Enter the full 18-character ID number.",
    "请使用“按身份证号查找”。": "Use “find by ID number” for an ID number.",
    "未找到该身份证号对应的学生，或该学生不在您的管理范围内。": "No student with this ID number in your scope.",
    "按身份证号查找仅限学校资助专员和县级管理员；请按姓名、学校或班级搜索。": "Looking up by full ID number is for school aid officers and county administrators; search by name, "
    "school or class.",
    "学校代码": "School code",
    "学号": "Student id",
    "姓名": "Name",
    "身份证号": "ID number",
    "学校": "School",
    "班级": "Class",
    "学段": "Stage",
    "年级": "Grade",
    "认定等级": "Level",
    "申请状态（本学年）": "Application (this year)",
    "没有找到学生。": "No students found.",
    "导入名册": "Import roster",
    "未认定": "Not determined",
    "未申请": "Not applied",
    # student
    "学生详情": "Student",
    "基本信息": "Student record",
    "监护人": "Guardians",
    "关系": "Relation",
    "寄宿": "Boarding",
    "农村户籍": "Rural hukou",
    "查看完整身份证号": "Show the full ID number",
    "查看完整号码将记入审计日志。": "Reading the full number is recorded in the audit trail.",
    "已显示完整身份证号，本次查看已记入审计日志。": "The full ID number is shown; this read has been recorded in the audit trail.",
    "当前认定结果": "Current determination",
    "暂无认定结果。": "No determination yet.",
    "认定依据的事实及来源": "Facts and their sources",
    "事实": "Fact",
    "值": "Value",
    "来源": "Source",
    "记录 #{id}，批次 {batch}，{start} 起有效": "record #{id}, batch {batch}, valid from {start}",
    "未列出的是非项均为“否”，未列出的数值为未知。": "Yes/no facts not listed are no; numbers not listed are unknown.",
    "资助项目及金额": "Awards",
    "项目": "Program",
    "类别": "Kind",
    "金额": "Amount",
    "政策依据": "Policy basis",
    "状态": "Status",
    "金额待定（缺少：{facts}）": "Amount pending (missing: {facts})",
    "认定理由": "Reasons",
    "缺少的事实": "Missing facts",
    "规则版本": "Rule-set version",
    "认定日期": "Evaluated as of",
    "本学年的申请": "Applications",
    "提交时间": "Submitted",
    "数据冲突": "Conflicts",
    "该学生本学年已有申请。": "This student already has an application this school year.",
    "当前资助决定": "Current decisions",
    "支付安排": "Payments",
    # import
    "导入学生名册": "Import students",
    "名册文件（CSV 或 XLSX）": "Roster file (CSV or XLSX)",
    "请选择文件": "Choose a file",
    "只导入有效行（无效行列在下方）": "Import the valid rows only (invalid rows are listed below)",
    "导入": "Import",
    "列：student_id, id_number, name, stage, grade（必填），school_code, class_name, boarding, rural_hukou 等；监护人列为 guardian1_id_number, guardian1_name, guardian1_relation …": "Columns: student_id, id_number, name, stage, grade (required), school_code, class_name, boarding, rural_hukou …; guardians as guardian1_id_number, guardian1_name, guardian1_relation …",
    "导入完成：新增 {created} 人，更新 {updated} 人，未变 {unchanged} 人。": "Imported: {created} added, {updated} updated, {unchanged} unchanged.",
    "有 {rows} 行无效，未导入任何数据。请修正后重新导入，或勾选“只导入有效行”。": "{rows} rows are invalid and nothing was imported. Fix them, or tick “import the valid rows only”.",
    "以下 {rows} 行无效，未导入：": "These {rows} rows are invalid and were not imported:",
    "行号": "Row",
    "错误": "Errors",
    "文件无法导入": "The file cannot be imported",
    # applications
    "申请列表": "Applications",
    "全部状态": "All states",
    "筛选": "Filter",
    "申请编号": "Application",
    "没有申请。": "No applications.",
    "新建申请": "New application",
    "学生": "Student",
    "来自名册和部门的事实": "Facts from the roster and the agencies",
    "这些事实由系统取得，申请人不能修改；部门数据与申报不一致时以部门数据为准。": "These facts come from the records and cannot be changed here; where the agencies and the declaration disagree, the agency record wins.",
    "申报信息（家庭经济情况）": "Declared facts (household)",
    "家庭人口数": "Household size",
    "家庭人均年收入（元）": "Per-capita annual income (yuan)",
    "成绩排名百分位（0–100，越小越靠前）": "Class rank percentile (0–100, lower is better)",
    "家庭成员患重大疾病": "A household member has a major illness",
    "本年度遭受自然灾害或重大突发意外事件": "Natural disaster or major accident this year",
    "父母失业": "Unemployed parent",
    "单亲家庭": "Single-parent family",
    "家庭收入受2020年新冠肺炎疫情影响": "Household income hit by the 2020 epidemic",
    "本人或家庭成员2020年感染新冠肺炎": "Student or family member infected in 2020",
    "申请人自述的特殊身份（将与部门数据核对）": "Statuses the family states (checked against the agency records)",
    "本人已阅读并签署《家庭经济困难学生认定申请承诺书》，承诺所填信息真实。": "The applicant has read and signed the written commitment (承诺书) and confirms the information is true.",
    "提交申请并认定": "Submit and evaluate",
    "必须签署承诺书。": "The written commitment must be signed.",
    "请输入整数。": "Enter a whole number.",
    "请输入金额，如 5000.00。": "Enter an amount such as 5000.00.",
    "请输入 0 到 100 之间的数。": "Enter a number from 0 to 100.",
    "家庭人口数至少为 1。": "The household has at least 1 member.",
    "家庭人口数最多为 30。": "The household has at most 30 members.",
    "金额不能为负数。": "The amount cannot be negative.",
    "金额不能超过 10000000.00。": "The amount cannot exceed 10000000.00.",
    "金额最多两位小数。": "At most two decimal places.",
    "申请已提交并完成认定。": "The application has been submitted and evaluated.",
    "申请详情": "Application",
    "认定结果": "Result",
    "系统认定等级": "Level from the rules",
    "评议调整": "Adjusted in review",
    "由 {from_} 调整为 {to}，理由：{reason}": "from {from_} to {to}; reason: {reason}",
    "申报与部门数据不一致": "Declaration and agency records disagree",
    "申报": "Declared",
    "部门数据": "Agency record",
    "处理": "Resolution",
    "以部门数据为准": "The agency record wins",
    "该项为暂定标准，可能随正式文件调整。": "A provisional value; it may change when the official figure is published.",
    "认定所用事实及来源": "Facts used and their sources",
    "办理": "Next steps",
    "当前版本 {version}": "Version {version}",
    "理由": "Reason",
    "调整等级（可选）": "Adjust the level (optional)",
    "不调整": "No change",
    "复核结论": "Outcome",
    "新等级": "New level",
    "处理记录": "History",
    "时间": "Time",
    "经办人": "By",
    "异议及复核": "Objections and their review",
    "暂无异议。": "No objections.",
    "公示信息": "Public notice",
    "公示期 {start} 至 {end}": "Notice period {start} to {end}",
    "公示进行中": "Notice open",
    "公示已结束": "Notice closed",
    "查看公示": "Open the notice",
    "资助决定": "Decisions",
    "您只能查看此申请；办理由学生所在学校的资助专员负责。": "You can read this application; the school's aid officer takes the steps.",
    "此申请已办结。": "This application is closed.",
    "操作已完成：{action}。": "Done: {action}.",
    "此申请已被他人更新（您看到的是第 {seen} 版，当前为第 {current} 版）。请查看最新内容后重新操作。": "Someone else has updated this application (you saw version {seen}, it is now at version {current}). Check the latest state and try again.",
    "请填写理由。": "Please give a reason.",
    "调整等级必须填写理由。": "A level adjustment needs a reason.",
    "请选择复核结论。": "Choose an outcome.",
    "异议成立时请选择新等级。": "Choose the new level for an upheld objection.",
    "理由最多 2000 字。": "At most 2000 characters.",
    "无法办理": "Not possible now",
    "公示期至 {date} 结束，期满后方可批准。": "The public notice runs until {date}; approve after it closes.",
    "公示期已于 {date} 结束，只能在公示期内登记异议。": "The notice closed on {date}; objections are taken during the notice period.",
    "认定等级为“不困难”的申请不予公示：请在评议时调整等级，或不予认定。": "An application identified as not in difficulty is not published: adjust the level in review, or reject it.",
    "该学生不在您的学校。": "This student is not at your school.",
    # notice
    "学年家庭经济困难学生认定结果公示": "school year: public notice of students identified as in economic difficulty",
    "公示期：{start} 至 {end}（{days}个工作日）": "Notice period: {start} to {end} ({days} working days)",
    "序号": "No.",
    "本公示暂无名单。": "Nobody is listed on this notice.",
    "根据《教育部等六部门关于做好家庭经济困难学生认定工作的指导意见》（教财〔2018〕16号），现将本校家庭经济困难学生认定结果予以公示。公示期内如有异议，请以书面或当面方式向学校学生资助工作组反映，学校将及时复核并答复。": (
        "Under the guidance on identifying students from families in economic difficulty (教财〔2018〕16号), the "
        "school publishes these results. Objections during the notice period go to the school's student aid "
        "working group in writing or in person; the school reviews them and answers promptly."
    ),
    "学生资助工作组": "Student aid working group",
    # reports
    "报告类型": "Report",
    "期间": "Period",
    "地区或学校代码": "Region or school code",
    "如 2020-2021-autumn、2020-2021-spring、2020-2021 或 2020-09-01..2021-01-31": "e.g. 2020-2021-autumn, 2020-2021-spring, 2020-2021 or 2020-09-01..2021-01-31",
    "默认为您的范围": "Default: your scope",
    "生成报告": "Generate",
    "下载": "Download",
    "下载 {format}": "Download {format}",
    "数据截至": "Data as of",
    "该期间暂无数据。": "No data for this period.",
    "报告功能尚未启用。": "Reports are not available yet.",
    "请选择报告类型。": "Choose a report.",
    "请填写期间。": "Enter a period.",
    "另有 {n} 行未显示，请下载完整报告。": "{n} more rows not shown; download the full report.",
    # rules
    "认定规则与资助标准": "Identification rules and aid standards",
    "规则版本：{version}": "Rule set version: {version}",
    "认定标准": "Identification standard",
    "条款": "Clause",
    "条件": "Condition",
    "资助项目与标准": "Programs and amounts",
    "适用学段": "Stages",
    "标准": "Amount",
    "参数": "Parameters",
    "名称": "Name",
    "取值": "Values",
    "有效期": "Valid",
    "起": "from",
    "至": "to",
    "互斥规则": "Exclusive combinations",
    "最近一次模拟重新认定": "Last what-if re-determination",
    "尚未运行。管理员可在“规则模拟”页面运行，或运行 flask --app wsgi aid whatif [--rules 草案目录]。": "None run yet. An administrator runs one on the What-if page, or runs flask --app wsgi aid whatif [--rules DRAFT_DIR].",
    "运行时间": "Ran at",
    "范围": "Scope",
    "使用规则": "Rules",
    "草案规则（{name}）": "Draft rules ({name})",
    "现行规则": "Running rules",
    "检查学生": "Students checked",
    "等级或资助将变化的学生": "Students whose level or awards would change",
    "等级上升": "Level up",
    "等级下降": "Level down",
    "仅事实变化": "Only facts change",
    "等级变化": "Level moves",
    "新增资助项目": "Programs gained",
    "减少资助项目": "Programs lost",
    "金额变化（元）": "Money change (yuan)",
    "按学费标准": "The school's tuition fee",
    "暂定说明": "Provisional note",
    "人次": "Students",
    # errors
    "请求无效": "Bad request",
    "请先登录": "Please sign in",
    "无权访问": "Forbidden",
    "页面不存在": "Not found",
    "不支持的请求方式": "Method not allowed",
    "操作冲突": "Conflict",
    "文件过大": "Too large",
    "输入有误": "Invalid input",
    "尝试次数过多": "Too many attempts",
    "服务器错误": "Server error",
    "您没有权限查看此页面，或该数据不在您的管理范围内。": "You may not open this page, or the data lies outside your scope.",
    "您访问的页面或记录不存在，或不在您的管理范围内。": "The page or record does not exist, or is outside your scope.",
    "请求无法处理，请返回上一页重试。": "The request could not be handled; go back and try again.",
    "服务器暂时无法完成请求。": "The server could not complete the request.",
    "请求过于频繁，请稍后再试。": "Too many requests; wait a moment and try again.",
    "表单已过期或来源无法验证，请返回上一页、刷新后重试。": "The form has expired or its origin could not be verified; go back, reload the page and try again.",
    **EN_WHATIF,
}


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
