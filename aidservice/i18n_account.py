"""English for the account and help pages (/account/password, /help) and their navigation links, merged into
`i18n.EN`."""

from __future__ import annotations

EN_ACCOUNT: dict[str, str] = {
    # navigation
    "帮助": "Help",
    "修改密码": "Change password",
    # /account/password
    "修改后，您在其他设备和浏览器上的登录将全部退出。": "After the change you are signed out on every other device and browser.",
    "当前密码": "Current password",
    "新密码": "New password",
    "再次输入新密码": "New password again",
    "新密码的要求：": "The new password must follow these rules:",
    "请输入当前密码": "Enter your current password",
    "请输入新密码": "Enter the new password",
    "请再次输入新密码": "Enter the new password again",
    "两次输入的新密码不一致": "The two new passwords differ",
    "当前密码不正确。": "The current password is wrong.",
    "密码错误次数过多，请 {minutes} 分钟后再试。": "Too many wrong passwords; try again in {minutes} minutes.",
    "密码已修改。": "Your password has been changed.",
    "至少 {n} 个字符。": "At least {n} characters.",
    "最多 {n} 个字符。": "At most {n} characters.",
    "不能全是数字。": "Not only digits.",
    "至少包含两类字符：小写字母、大写字母、数字、符号。": "At least two kinds of character: lower-case, upper-case, digits, symbols.",
    "不能包含用户名。": "Not containing the username.",
    "这是常见密码，请另选一个。": "This is a well-known password; choose another.",
    "太容易被猜到（键盘序列、重复、连续字符或常用词），请用由不常见词语组成的较长短语。": (
        "Too easy to guess (a keyboard pattern, repeats, a sequence or common words); "
        "use a longer phrase of uncommon words."
    ),
    # /help
    "操作指南": "Guide",
    "本人角色的步骤在前，其他角色的步骤列在后面，便于了解上下级的工作。": (
        "Your role's steps come first; the other roles' steps follow, so you know what the others do."
    ),
    "一个学期的工作步骤": "the steps of a term",
    "下载名册模板，按模板填写本校学生名册。": "Download the roster template and fill in your school's roster.",
    "下载名册模板": "Download the roster template",
    "导入名册：上传填好的文件，按错误说明改正后重新导入。": (
        "Import the roster: upload the filled-in file; correct what the error notes name and import again."
    ),
    "导入名册": "Import the roster",
    "录入申请：在学生名册中找到学生，填写家庭情况并签署承诺书。": (
        "Enter applications: find the student in the roster, fill in the household and sign the commitment."
    ),
    "批量评议：在申请列表中勾选已提交的申请，选择“评议”。": (
        "Bulk review: in the application list, tick the submitted applications and choose “Review”."
    ),
    "申请列表": "Application list",
    "批量公示：勾选已评议的申请，选择“公示”，打印公示名单张贴。": (
        "Bulk notice: tick the reviewed applications, choose “Publish notice” and print the notice to post it."
    ),
    "公示期满且无异议后，勾选公示中的申请，批量批准；有异议的先复核。": (
        "When the notice period has ended without objection, tick the applications on notice and approve them "
        "in bulk; resolve objections first."
    ),
    "下载资助名单（含金额）报送上级，统计报告可随时查看。": (
        "Download the aid list with amounts for the level above; the reports are there at any time."
    ),
    "下载资助名单": "Download the aid list",
    "名额：按学段和学年查看各校名额、已资助和缺口，按指导比例填写名额并说明理由。": (
        "Quotas: by stage and school year, see each school's places, funded and shortfall; set places by the "
        "guide ratio, with a reason."
    ),
    "逐级查看：首页列出本地区的下级地区及其学生认定情况，点击地区名称逐级查看到学校，再点学校名称进入该校名册和学生。": (
        "Drill down: the dashboard lists your region's divisions with their students' standings; click a "
        "region's name to go down to its schools, a school's name for its roster and students."
    ),
    "申请列表可按地区和学校筛选，并显示学校和县（区）。": (
        "The application list filters by region and school and shows each application's school and county."
    ),
    "统计报告：按学期和地区生成、下载报告。": "Reports: make and download reports by semester and region.",
    "重新认定：政策或部门数据变化后，在首页“重新认定本地区学生”处填写理由并确认，页面转到后台任务显示进度。": (
        "Re-determination: after a change of policy or agency data, give the reason and confirm under "
        "“Re-determine the region's students” on the dashboard; the background job's page shows the progress."
    ),
    "规则模拟：选择草案规则、认定日期和地区，开始模拟；完成后查看哪些学生的等级或资助会变化。": (
        "What-if: choose a draft, a date and a region and start it; then see whose level or aid would change."
    ),
    "审计记录：按对象、操作人、类型和时间查找事件，每条显示在链中的序号和哈希。": (
        "Audit trail: find events by subject, actor, kind and time; each shows its position in the chain and "
        "its hash."
    ),
    "校验：在审计记录页点击“立即校验”，后台核对整条哈希链，完成后显示结果。": (
        "Verify: “Verify now” on the audit trail checks the whole hash chain in the background and shows the "
        "outcome."
    ),
    "审计记录": "Audit trail",
    "复现认定：在审计记录中点击“申请 #编号”打开申请，在“资助决定”中点击“重放”，页面显示一致或差异。": (
        "Replay: in the audit trail, click “Application #n” to open it, then “Replay” under “Aid decisions”; the "
        "page shows it identical or the differences."
    ),
    "认定规则：查看现行规则及其文件依据。": "Rules: read the running rules and the documents they rest on.",
}
