"""The programs report: per program and stage, recipients, money committed (current decisions) and paid by
semester (instalments due in the period), against quotas (places, funded, shortfall), with the provisional
rules each program rests on flagged (from the rule sets' describe())."""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable
from datetime import date
from typing import Any

from sqlalchemy import and_, case, func, literal, select

from aidservice.engine import RuleSet
from aidservice.models import AuditEvent, Decision, Quota, School, Student
from aidservice.services.applications.decisions import rules_of_version
from aidservice.services.errors import Conflict
from aidservice.services.reports.common import (
    AID_KINDS,
    Bar,
    Chart,
    Column,
    Labels,
    Report,
    Section,
)
from aidservice.services.reports.periods import spring_start
from aidservice.services.reports.reading import Context, program_names

TITLE = "学生资助项目执行情况报告"
PROGRAM_COLUMNS = (
    Column("program", "项目代码", "code", 34),
    Column("program_name", "资助项目", width=34),
    Column("kind", "类别", width=10, labels="kind"),
    Column("stage", "学段代码", "code", 14),
    Column("stage_name", "学段", width=12),
    Column("recipients", "受助学生数", "int"),
    Column("not_funded", "超出名额未资助", "int"),
    Column("committed", "已决定金额（元）", "money", 16),
    Column("paid_autumn", "秋季学期应发（元）", "money", 16),
    Column("paid_spring", "春季学期应发（元）", "money", 16),
    Column("paid", "本期应发合计（元）", "money", 16),
    Column("rule_status", "规则状态", width=12, labels="rule_status"),
)
QUOTA_COLUMNS = (
    Column("program", "项目代码", "code", 34),
    Column("program_name", "资助项目", width=34),
    Column("schools", "设名额学校数", "int"),
    Column("places", "名额", "int"),
    Column("funded", "已资助", "int"),
    Column("not_funded", "超出名额未资助", "int"),
    Column("shortfall", "名额缺口（特殊群体超额资助）", "int"),
)
PROVISIONAL_COLUMNS = (
    Column("program", "项目代码", "code", 34),
    Column("program_name", "资助项目", width=34),
    Column("item", "暂定项", width=40, labels="item"),
    Column("note", "说明", width=60),
    Column("rule_set_version", "规则版本", width=26),
)
IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def build(ctx: Context) -> Report:
    """The programs report for the context's period, scope and time."""
    ctx.tune()
    names = program_names(ctx.settings)
    kinds = {p.id: p.kind for p in ctx.settings.rules.rules.programs}
    data, versions = _committed(ctx)
    flags = provisional_items(ctx, versions)
    _paid(ctx, data)
    rows = _program_rows(data, names, kinds, flags, ctx.labels)
    quotas = _quotas(ctx, names)
    provisional = [
        (program, names.get(program, program), item, note, version)
        for program in names
        for item, note, version in flags.get(program, [])
    ]
    totals: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for (program, _stage), v in data.items():
        totals[program][0] += v["committed"]
        totals[program][1] += v["paid"]
    empty = not data and not quotas
    report = Report(
        kind="programs",
        title=TITLE,
        meta=ctx.meta("programs", {"decisions": versions}),
        sections=[
            Section(
                "programs",
                "各资助项目执行情况（按学段）",
                PROGRAM_COLUMNS,
                rows,
                "已决定金额为当前有效资助决定的学年金额；应发为本期内到期的分期金额。贷款为额度，不计入合计。",
            ),
            Section(
                "quotas",
                "名额执行情况",
                QUOTA_COLUMNS,
                quotas,
                "特殊群体学生不因名额削减（应助尽助）：超出名额的资助计为名额缺口。",
            ),
            Section(
                "provisional",
                "暂定规则与参数",
                PROVISIONAL_COLUMNS,
                provisional,
                "这些金额或条件尚无两个以上独立来源确认，省级可在规则数据中修正。",
            ),
        ],
        charts=[
            Chart(
                "各项目已决定金额（元）",
                [
                    Bar(names.get(p, p), v[0] / 100, f"{v[0] / 100:,.2f}")
                    for p, v in sorted(totals.items(), key=lambda i: -i[1][0])
                    if kinds.get(p) in AID_KINDS
                ],
                "元",
            ),
            Chart(
                "各项目本期应发金额（元）",
                [
                    Bar(names.get(p, p), v[1] / 100, f"{v[1] / 100:,.2f}")
                    for p, v in sorted(totals.items(), key=lambda i: -i[1][1])
                    if kinds.get(p) in AID_KINDS
                ],
                "元",
            ),
        ],
        empty=empty,
    )
    if empty:
        report.message = f"{ctx.period.name}，{ctx.scope.name}没有资助决定，也没有设定名额：本报告为空。"
    return report


Data = dict[tuple[str, str], dict[str, int]]


def _committed(ctx: Context) -> tuple[Data, list[str]]:
    """Recipients, unfunded and committed money by program and stage, and the rule-set versions used."""
    data: Data = defaultdict(lambda: defaultdict(int))
    awarded = Decision.status == "awarded"
    query = (
        select(
            Decision.program,
            Student.stage,
            Decision.rule_set_version,
            func.count(func.distinct(case((awarded, Decision.student_pk)))),
            func.count(func.distinct(case((Decision.status == "not_funded", Decision.student_pk)))),
            func.coalesce(func.sum(case((awarded, Decision.amount_fen), else_=0)), 0),
        )
        .select_from(Decision)
        .join(Student, Student.id == Decision.student_pk)
        .join(School, School.code == Decision.school_code)
        .where(
            Decision.school_year == ctx.period.school_year,
            ctx.decision_current(),
            Decision.status.in_(("awarded", "not_funded")),
            ctx.scope.schools(),
        )
        .group_by(Decision.program, Student.stage, Decision.rule_set_version)
    )
    versions: set[str] = set()
    for program, stage, version, recipients, not_funded, fen in ctx.session.execute(query):
        entry = data[(program, stage)]
        entry["recipients"] += recipients
        entry["not_funded"] += not_funded
        entry["committed"] += int(fen)
        versions.add(version)
    return data, sorted(versions)


def _paid(ctx: Context, data: Data) -> None:
    """Instalments due in the period by program, stage and semester (grouped by due date, a handful a year)."""
    due: Any = ctx.instalments()
    query = (
        select(due.c.program, Student.stage, due.c.due, func.sum(due.c.amount_fen))
        .select_from(due)
        .join(Student, Student.id == due.c.student_pk)
        .join(School, School.code == due.c.school_code)
        .where(ctx.due_in_period(due.c.due), ctx.scope.schools())
        .group_by(due.c.program, Student.stage, due.c.due)
    )
    spring = spring_start(ctx.period.school_year)
    for program, stage, day, fen in ctx.session.execute(query):
        when = day if isinstance(day, date) else date.fromisoformat(str(day))
        entry = data[(program, stage)]
        entry["paid_spring" if when >= spring else "paid_autumn"] += int(fen or 0)
        entry["paid"] += int(fen or 0)


def _program_rows(
    data: Data,
    names: dict[str, str],
    kinds: dict[str, str],
    flags: dict[str, list[tuple[str, str, str]]],
    labels: Labels,
) -> list[tuple]:
    keys = ("recipients", "not_funded", "committed", "paid_autumn", "paid_spring", "paid")
    rows: list[tuple] = []
    order = list(names) + sorted({p for p, _s in data} - set(names))
    for program in order:
        stages = [s for s in labels.stages if (program, s) in data] + sorted(
            {s for p, s in data if p == program} - set(labels.stages)
        )
        if not stages:
            continue
        status = "provisional" if flags.get(program) else "confirmed"
        total = dict.fromkeys(keys, 0)
        for stage in stages:
            v = data[(program, stage)]
            for key in keys:
                total[key] += v[key]
            rows.append(
                (
                    program,
                    names.get(program, program),
                    kinds.get(program, ""),
                    stage,
                    labels.stage_name(stage),
                    *(v[k] for k in keys),
                    status,
                )
            )
        rows.append(
            (
                program,
                names.get(program, program),
                kinds.get(program, ""),
                "all",
                labels.stage_name("all"),
                *(total[k] for k in keys),
                status,
            )
        )
    return rows


def _quotas(ctx: Context, names: dict[str, str]) -> list[tuple]:
    """Per program: schools with a quota, places, funded, unfunded and the shortfall (funded beyond places)."""
    counts = (
        select(
            Decision.school_code,
            Decision.program,
            func.sum(case((Decision.status == "awarded", 1), else_=0)).label("funded"),
            func.sum(case((Decision.status == "not_funded", 1), else_=0)).label("not_funded"),
        )
        .where(
            Decision.school_year == ctx.period.school_year,
            ctx.decision_current(),
            Decision.status.in_(("awarded", "not_funded")),
        )
        .group_by(Decision.school_code, Decision.program)
        .subquery("quota_counts")
    )
    funded = func.coalesce(counts.c.funded, 0)
    places, known = _places(ctx)
    query = (
        select(
            Quota.program,
            func.count(Quota.id),
            func.sum(places),
            func.sum(funded),
            func.sum(func.coalesce(counts.c.not_funded, 0)),
            func.sum(case((funded > places, funded - places), else_=0)),
        )
        .select_from(Quota)
        .join(School, School.code == Quota.school_code)
        .outerjoin(counts, and_(counts.c.school_code == Quota.school_code, counts.c.program == Quota.program))
        .where(Quota.school_year == ctx.period.school_year, ctx.scope.schools(), known)
        .group_by(Quota.program)
        .order_by(Quota.program)
    )
    return [
        (
            program,
            names.get(program, program),
            schools,
            int(places or 0),
            int(funded_n or 0),
            int(nf or 0),
            int(short or 0),
        )
        for program, schools, places, funded_n, nf, short in ctx.session.execute(query)
    ]


def _places(ctx: Context) -> tuple[Any, Any]:
    """Quota places at the report time: now, or the last `quota.set` audit event by then (its `places.after`)."""
    if ctx.live:
        return Quota.places, Quota.id.is_not(None)
    summary = AuditEvent.summary
    subject = literal("school:") + Quota.school_code
    sets = (
        select(
            AuditEvent.subject.label("subject"),
            summary["program"].as_string().label("program"),
            AuditEvent.seq.label("seq"),
        )
        .where(
            AuditEvent.action == "quota.set",
            AuditEvent.occurred_at <= ctx.as_of,
            summary["school_year"].as_string() == ctx.period.school_year,
        )
        .subquery("quota_sets")
    )
    events = (
        select(sets.c.subject, sets.c.program, func.max(sets.c.seq).label("seq"))
        .group_by(sets.c.subject, sets.c.program)
        .subquery("quota_events")
    )
    at_time = (
        select(AuditEvent.summary[("places", "after")].as_integer())
        .join(events, events.c.seq == AuditEvent.seq)
        .where(events.c.subject == subject, events.c.program == Quota.program)
        .scalar_subquery()
    )
    ever = (
        select(func.count(AuditEvent.id))
        .where(
            AuditEvent.action == "quota.set",
            AuditEvent.subject == subject,
            AuditEvent.summary["program"].as_string() == Quota.program,
        )
        .scalar_subquery()
    )
    places = func.coalesce(at_time, case((and_(ever == 0, Quota.updated_at <= ctx.as_of), Quota.places)))
    return places, places.is_not(None)


def provisional_items(ctx: Context, versions: Iterable[str]) -> dict[str, list[tuple[str, str, str]]]:
    """{program: [(item, note, rule-set version)]}: what in each program is provisional, per rule set used."""
    out: dict[str, list[tuple[str, str, str]]] = defaultdict(list)
    for version in list(versions) or [ctx.settings.rules.version]:
        rules = _rules(ctx, version)
        if rules is None:
            for program in program_names(ctx.settings):
                out[program].append(
                    (
                        "rule set not published",
                        "this version's files are not stored; its provisional items cannot be listed",
                        version,
                    )
                )
            continue
        for program, items in _provisional(rules.describe()).items():
            out[program].extend((item, note, version) for item, note in items)
    return out


def _rules(ctx: Context, version: str) -> RuleSet | None:
    if version == ctx.settings.rules.version:
        return ctx.settings.rules
    try:
        return rules_of_version(ctx.session, version)
    except Conflict:
        return None


def _provisional(description: dict[str, Any]) -> dict[str, list[tuple[str, str]]]:
    """The program's own status, its amount cases, and the provisional parameters its texts read."""
    parameters = {p["name"]: p for p in description.get("parameters", [])}
    out: dict[str, list[tuple[str, str]]] = {}
    for program in description.get("programs", []):
        items: list[tuple[str, str]] = []
        if program.get("status") == "provisional":
            items.append(("program", program.get("note") or ""))
        texts = [program.get("when") or ""]
        for case_ in program.get("amount", []):
            texts += [case_.get("when") or "", case_.get("value") or ""]
            if case_.get("status") == "provisional":
                items.append((f"amount {case_.get('label') or case_.get('value')}", case_.get("note") or ""))
        seen: set[str] = set()
        for text in texts:
            for name in IDENTIFIER.findall(text):
                param = parameters.get(name)
                if param is None or name in seen:
                    continue
                seen.add(name)
                statuses = {param.get("status")} | {v.get("status") for v in param.get("values", [])}
                if "provisional" in statuses:
                    notes = [param.get("note") or ""] + [v.get("note") or "" for v in param.get("values", [])]
                    text_ = "; ".join(dict.fromkeys(n for n in notes if n))
                    items.append((f"parameter {name} ({param.get('label')})", text_))
        if items:
            out[program["id"]] = items
    return out
