"""English for the notices page and the notice's revisions (/notices, the printable notice), merged into `i18n`."""

from __future__ import annotations

EN_NOTICES: dict[str, str] = {
    "公示管理": "Notices",
    "本校的认定结果公示：公示中和已结束的公示，每次更正形成新的版次，各版均可查看和打印。": (
        "The school's public notices of identification results, open and closed; every correction makes a "
        "new revision, and each revision can be opened and printed."
    ),
    "您的范围内没有学校。": "There is no school in your scope.",
    "{school}的公示": "Notices of {school}",
    "公示列表": "Notices",
    "公示期": "Notice period",
    "名单人数": "Entries",
    "当前版次": "Current revision",
    "{start} 至 {end}": "{start} to {end}",
    "已结束": "Closed",
    "第{n}版（{date}）": "Revision {n} ({date})",
    "版次记录（共{n}版）": "Revision history ({n} revisions)",
    "{n}人": "{n} students",
    "本校尚无公示。": "The school has no notice yet.",
    "公示的监督电话和落款": "Phone and sign-off printed on the notices",
    "监督电话": "Phone for objections",
    "落款": "Sign-off",
    "手机号码或带区号的固定电话，印在公示上；留空则不印。": (
        "A mobile number or a landline with its area code, printed on the notices; leave empty to print none."
    ),
    "留空则使用：{default}": "Leave empty to use: {default}",
    "未设置": "Not set",
    "公示的监督电话和落款已保存。": "The notices' phone and sign-off are saved.",
    "监督电话须为手机号码、带区号的固定电话（如 025-83456789，可加分机号）或 7 至 8 位本地号码。": (
        "The phone must be a mobile number, a landline with its area code (such as 025-83456789, an extension "
        "may follow) or a local number of 7 or 8 digits."
    ),
    "落款须为 2 至 60 个字的一行文字。": "The sign-off must be one line of 2 to 60 characters.",
    "监督电话最多 32 个字符。": "The phone has at most 32 characters.",
    "落款最多 60 个字。": "The sign-off has at most 60 characters.",
    "请检查此项。": "Please check this field.",
    # the printable notice's revision and corrections
    "更正说明": "Corrections",
    "本版较第{n}版有以下变动：": "Changes from revision {n}:",
    "新增，认定等级{level}": "added, level {level}",
    "撤销（原认定等级{level}）": "withdrawn (level was {level})",
    "认定等级由{before}调整为{after}": "level changed from {before} to {after}",
    "监督电话：{phone}。": "Phone for objections: {phone}.",
    # revision reasons (services.applications.notice_revisions.REASONS)
    "首次公示": "First publication",
    "新增公示名单": "Entries added",
    "异议复核调整等级": "Level changed on an objection's review",
    "撤销认定": "Identification withdrawn",
}
