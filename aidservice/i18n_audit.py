"""Labels of the audit trail's actions, its broken-chain reasons and a replay's fields (translated by the catalogue)."""

from __future__ import annotations

from aidservice.i18n_marker import N_

AUDIT_JOB_KINDS = {"audit.verify": N_("审计链校验")}
AUDIT_ACTIONS = {
    "auth.login": N_("登录"),
    "auth.logout": N_("退出登录"),
    "audit.checkpoint": N_("审计链检查点"),
    "audit.verified": N_("审计链校验"),
    "client.create": N_("创建部门接口账号"),
    "client.revoke": N_("吊销部门接口账号"),
    "decision.reallocated": N_("重新分配名额"),
    "decision.replayed": N_("重放资助决定"),
    "decisions.flagged": N_("标记资助决定"),
    "decisions.made": N_("作出资助决定"),
    "determination.stored": N_("保存认定结果"),
    "determinations.stored": N_("保存认定结果（批量）"),
    "feed.batch": N_("部门数据报送"),
    "job.done": N_("后台任务完成"),
    "job.enqueued": N_("创建后台任务"),
    "job.failed": N_("后台任务失败"),
    "job.retried": N_("重试后台任务"),
    "notice.extend": N_("延长公示"),
    "notice.open": N_("开始公示"),
    "notice.revised": N_("更正公示（新版次）"),
    "notice.settings": N_("设置公示监督电话和落款"),
    "quota.set": N_("设置名额"),
    "redetermine.done": N_("批量重新认定完成"),
    "redetermine.forced": N_("强制重新认定"),
    "redetermine.requested": N_("申请重新认定（页面）"),
    "redetermine.started": N_("开始批量重新认定"),
    "region.create": N_("新增地区"),
    "region.rename": N_("地区更名"),
    "report.archived": N_("报告归档"),
    "report.downloaded": N_("下载报告"),
    "report.generated": N_("生成报告"),
    "school.create": N_("新增学校"),
    "semester.open": N_("开始新学期"),
    "student.create": N_("新增学生"),
    "student.import": N_("导入名册"),
    "submit": N_("提交申请"),
    "user.create": N_("创建用户"),
    "user.deactivate": N_("停用用户"),
    "user.password": N_("密码已修改"),
}
"""Each action the trail records, as people read it (`application.<step>` takes the step's label, i18n.ACTIONS)."""

BROKEN_REASONS = (
    ("sequence gap", N_("序号不连续")),
    ("link to the previous event", N_("与前一条记录的链接不符")),
    ("does not match its hash", N_("内容与哈希不符（已被修改）")),
    ("chain head does not match", N_("链头与最后一条记录不符（记录被删除）")),
    ("events removed", N_("检查点所覆盖的记录已不存在（记录被删除）")),
    ("events rewritten", N_("检查点与审计链不符（记录被改写）")),
)
"""Why a verification failed (services.audit's reasons, in English for the CLI) as the page says it: the first
fragment found names it."""

SUBJECT_KINDS = {
    "student": N_("学生"),
    "school": N_("学校"),
    "region": N_("地区"),
    "application": N_("申请"),
    "decision": N_("资助决定"),
    "client": N_("部门接口账号"),
    "user": N_("用户"),
    "job": N_("后台任务"),
    "batch": N_("部门数据批次"),
    "report": N_("报告"),
    "list": N_("名单下载"),
    "determinations": N_("批量认定"),
    "audit": N_("审计链"),
    "lookup": N_("身份证号查询"),
}
"""The kinds of subject the trail records (`kind:key`), as the auditor's page names them before the key."""

REPLAY_FIELDS = {
    "rule_set_version": N_("规则版本"),
    "as_of": N_("认定日期"),
    "level": N_("认定等级"),
    "level_override": N_("等级调整"),
    "program": N_("资助项目"),
    "eligible": N_("符合条件"),
    "reasons": N_("认定理由"),
    "missing": N_("缺少的事实"),
    "amount": N_("金额"),
    "kind": N_("资助类型"),
    "rule_status": N_("规则状态"),
    "basis": N_("政策依据"),
}
"""The fields a replay compares (services.applications.decisions), as the page names them."""
