"""The special-group report (policy §4): coverage of each special group by stage, money by program, and every
special-group student who is not aided, with the reason an administrator acts on.

Who counts: students of the region enrolled at the report time whom an agency record reaches (household
statuses through the student's or a guardian's number, personal ones through the student's own; the
matching of facts_assembly), the record current at the report time and valid on some day of the period.
"Aided" is `common.AIDED_DEFINITION`. Reasons a special-group student is not aided, from their latest
application of the period's school year as it stood at the report time, first that applies:

- `no_application`: no application for the school year;
- `rejected`: the application was rejected (the officer's rejection note is the detail in the school's own
  report, read by its officer; every other report says only that the reason is kept by the school);
- `data_conflict`: the application is open and lists conflicts between declared and agency data; or it was
  approved without a funded award while it lists conflicts or its recorded facts show no special group
  (the agency data arrived or changed after the evaluation: reassess);
- `in_review`: the application is open (submitted, reviewed, on notice, objected);
- `quota_shortfall`: approved, and a current decision is eligible but not funded within a quota;
- `no_award`: approved with the special group recorded, but no program awards aid to this student (e.g. a
  kindergarten that is not inclusive); not in the brief's list, kept apart so it is not mistaken for a data
  problem;
- `unmatched`: an agency record of a special group that reaches no enrolled student or guardian at all,
  listed with the masked number and the source; attributed to a region by its number's division code
  (so a school's report lists none).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, case, exists, func, literal, select, true
from sqlalchemy.orm import aliased

from aidservice.i18n import format_date
from aidservice.models import AgencyRecord, Application, ApplicationAction, Decision, School, Student
from aidservice.services.reports import east_west, out_of_province
from aidservice.services.reports.common import (
    AID_KINDS,
    LEVEL_NAMES,
    REASON_NAMES,
    REASONS,
    Bar,
    Chart,
    Column,
    Labels,
    Report,
    Section,
    rate,
)
from aidservice.services.reports.reading import Context, child_names, coverage_by_child, program_names

TITLE = "家庭经济困难特殊群体学生资助情况报告"
LIST_REASONS = tuple(r for r in REASONS if r != "unmatched")
REJECTED_ELSEWHERE = "学校不予认定；理由由学校记录，不在本报告中"
STATE_NAMES = {
    "submitted": "已提交",
    "reviewed": "已评议",
    "notice": "公示中",
    "objected": "有异议",
    "approved": "已认定",
    "rejected": "未通过",
}

SUMMARY_COLUMNS = (
    Column("group", "群体代码", "code", 22),
    Column("group_name", "特殊群体", width=18),
    Column("stage", "学段代码", "code", 14),
    Column("stage_name", "学段", width=10),
    Column("students", "在校学生数", "int"),
    Column("aided", "已资助", "int"),
    Column("not_aided", "未资助", "int"),
    Column("coverage", "资助覆盖率", "rate"),
    *(Column(r, REASON_NAMES[r], "int") for r in REASONS),
    Column("committed", "资助金额（元）", "money", 14),
    Column("paid", "本期应发（元）", "money", 14),
)
MONEY_COLUMNS = (
    Column("group", "群体代码", "code", 22),
    Column("group_name", "特殊群体", width=18),
    Column("stage", "学段代码", "code", 14),
    Column("stage_name", "学段", width=10),
    Column("program", "项目代码", "code", 34),
    Column("program_name", "资助项目", width=34),
    Column("kind", "类别", width=10, labels="kind"),
    Column("recipients", "受助学生数", "int"),
    Column("committed", "资助金额（元）", "money", 14),
    Column("paid", "本期应发（元）", "money", 14),
)
REGION_COLUMNS = (
    Column("code", "代码", width=14),
    Column("name", "名称", width=24),
    Column("students", "特殊群体学生数", "int"),
    Column("aided", "已资助", "int"),
    Column("coverage", "资助覆盖率", "rate"),
)
UNAIDED_COLUMNS = (
    Column("reason", "原因代码", "code", 16),
    Column("reason_name", "未资助原因", width=20),
    Column("detail", "说明", width=40),
    Column("student_id", "学籍号", width=16),
    Column("name", "姓名", width=10),
    Column("id_number", "身份证号（脱敏）", width=20),
    Column("school_code", "学校代码", width=14),
    Column("school_name", "学校", width=28),
    Column("class_name", "班级", width=14),
    Column("stage", "学段", width=12),
    Column("grade", "年级", "int", 6),
    Column("groups", "群体代码", "code", 24),
    Column("group_names", "特殊群体", width=24),
    Column("application_id", "申请编号", "int", 10),
    Column("application_state", "申请状态", width=10),
    Column("source", "数据来源", width=24, labels="source"),
)


def build(ctx: Context) -> Report:
    """The special-group report for the context's period, scope and time."""
    ctx.tune()
    member = ctx.members()
    classified = ctx.classified()
    counts = _outcomes(ctx, member, classified)
    unmatched = _unmatched_counts(ctx)
    money, versions = _money(ctx, member, classified)
    names = program_names(ctx.settings)
    summary = _summary_rows(counts, unmatched, money, ctx.labels)
    total_students = sum(n for (grp, _stage, _o), n in counts.items() if grp == "*")
    east_west_section = east_west.section(ctx)
    empty = total_students == 0 and not unmatched and not east_west_section.rows
    regions = _by_region(ctx, classified)
    report = Report(
        kind="special-groups",
        title=TITLE,
        meta=ctx.meta("special-groups", {"decisions": versions}),
        sections=[
            Section(
                "groups",
                "各特殊群体资助覆盖情况（按学段）",
                SUMMARY_COLUMNS,
                summary,
                "“合计”行按学生去重；一名学生可属于多个群体。未匹配记录只计入群体合计行。",
            ),
            Section(
                "money",
                "特殊群体学生资助金额（按项目）",
                MONEY_COLUMNS,
                _money_rows(money, names, ctx.labels),
            ),
            east_west_section,
            Section("regions", "各地区特殊群体资助覆盖率（由低到高）", REGION_COLUMNS, regions),
            Section(
                "unaided",
                "未获资助的特殊群体学生名单及原因",
                UNAIDED_COLUMNS,
                lambda: _unaided_rows(ctx, member, classified),
                "身份证号已脱敏（前6位和后4位）。未匹配记录按证件号行政区划归属地区。",
            ),
        ],
        charts=[
            Chart(
                "各地区特殊群体资助覆盖率", [Bar(r[1], r[4] or 0.0, _pct(r[4])) for r in regions], "%", 1.0
            ),
            Chart("特殊群体学生资助金额（按项目，元）", _program_bars(money, names), "元"),
        ],
        empty=empty,
    )
    if (declared := out_of_province.section(ctx)) is not None:  # verified out-of-province students, apart
        report.sections.append(declared)
    if empty:
        report.message = (
            f"{ctx.period.name}，{ctx.scope.name}没有与在校学生匹配的特殊群体记录，"
            "也没有未匹配的记录：本报告为空。"
        )
    return report


# --------------------------------------------------------------------------------------- counting


def _outcomes(ctx: Context, member: Any, classified: Any) -> dict[tuple[str, str, str], int]:
    """{(group or '*', stage, outcome): students}; '*' counts each student once whatever their groups."""
    out: dict[tuple[str, str, str], int] = {}
    by_group = (
        select(member.c.grp, member.c.stage, classified.c.outcome, func.count())
        .join(classified, classified.c.student_pk == member.c.student_pk)
        .group_by(member.c.grp, member.c.stage, classified.c.outcome)
    )
    for grp, stage, outcome, n in ctx.session.execute(by_group):
        out[(grp, stage, outcome)] = n
    anyone = select(classified.c.stage, classified.c.outcome, func.count()).group_by(
        classified.c.stage, classified.c.outcome
    )
    for stage, outcome, n in ctx.session.execute(anyone):
        out[("*", stage, outcome)] = n
    return out


def unmatched_condition(ctx: Context, a: Any = AgencyRecord) -> Any:
    """SQL: a special-group record that reaches no enrolled student or guardian, placed by its division code."""
    match = ctx.tables["match"]
    reached = exists().where(match.c.hmac == a.person_hmac)
    if not ctx.live:
        ward = aliased(Student)
        reached = exists().where(
            match.c.hmac == a.person_hmac, ward.id == match.c.student_pk, ctx.enrolled(ward)
        )
    conditions = [a.status.in_(ctx.groups), ctx.record_current(a), ctx.record_valid(a), ~reached]
    prefix = ctx.scope.person_prefix()
    if prefix is not None:
        conditions.append(a.person_mask.like(prefix + "%"))
    return and_(*conditions)


def _unmatched_counts(ctx: Context) -> dict[str, int]:
    query = (
        select(AgencyRecord.status, func.count())
        .where(unmatched_condition(ctx))
        .group_by(AgencyRecord.status)
    )
    return {status: n for status, n in ctx.session.execute(query)}


Money = dict[tuple[str, str, str, str], list[int]]
"""{(group or '*', stage, program, kind): [recipients, committed fen, paid fen]}"""


def _money(ctx: Context, member: Any, classified: Any) -> tuple[Money, list[str]]:
    """Committed and paid money by group, stage and program, and the rule-set versions of those decisions."""
    out: Money = defaultdict(lambda: [0, 0, 0])
    versions: set[str] = set()
    awarded = and_(
        Decision.school_year == ctx.period.school_year, ctx.decision_current(), Decision.status == "awarded"
    )
    by_group = (
        select(
            member.c.grp,
            member.c.stage,
            Decision.program,
            Decision.kind,
            Decision.rule_set_version,
            func.count(func.distinct(Decision.student_pk)),
            func.coalesce(func.sum(Decision.amount_fen), 0),
        )
        .join(Decision, Decision.student_pk == member.c.student_pk)
        .where(awarded)
        .group_by(member.c.grp, member.c.stage, Decision.program, Decision.kind, Decision.rule_set_version)
    )
    anyone = (
        select(
            literal("*"),
            classified.c.stage,
            Decision.program,
            Decision.kind,
            Decision.rule_set_version,
            func.count(func.distinct(Decision.student_pk)),
            func.coalesce(func.sum(Decision.amount_fen), 0),
        )
        .join(Decision, Decision.student_pk == classified.c.student_pk)
        .where(awarded)
        .group_by(classified.c.stage, Decision.program, Decision.kind, Decision.rule_set_version)
    )
    for query in (by_group, anyone):
        for grp, stage, program, kind, version, n, fen in ctx.session.execute(query):
            entry = out[(grp, stage, program, kind)]
            entry[0] += n
            entry[1] += int(fen)
            versions.add(version)
    paid = ctx.special_paid()
    paid_group = (
        select(member.c.grp, member.c.stage, paid.c.program, paid.c.kind, func.sum(paid.c.amount_fen))
        .join(paid, paid.c.student_pk == member.c.student_pk)
        .group_by(member.c.grp, member.c.stage, paid.c.program, paid.c.kind)
    )
    paid_any = (
        select(literal("*"), classified.c.stage, paid.c.program, paid.c.kind, func.sum(paid.c.amount_fen))
        .join(paid, paid.c.student_pk == classified.c.student_pk)
        .group_by(classified.c.stage, paid.c.program, paid.c.kind)
    )
    for query in (paid_group, paid_any):
        for grp, stage, program, kind, fen in ctx.session.execute(query):
            out[(grp, stage, program, kind)][2] = int(fen or 0)
    return out, sorted(versions)


def _summary_rows(
    counts: dict[tuple[str, str, str], int], unmatched: dict[str, int], money: Money, labels: Labels
) -> list[tuple]:
    committed: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
    for (grp, stage, _program, kind), (_n, fen, paid) in money.items():
        if kind in AID_KINDS:
            for key in ((grp, stage), (grp, "all")):
                committed[key][0] += fen
                committed[key][1] += paid
    rows: list[tuple] = []
    for grp in (*labels.groups, "*"):
        totals: dict[str, int] = defaultdict(int)
        for stage in labels.stages:
            cell = {o: counts.get((grp, stage, o), 0) for o in ("aided", *LIST_REASONS)}
            students = sum(cell.values())
            if not students:
                continue
            for key, n in cell.items():
                totals[key] += n
            rows.append(_summary_row(labels, grp, stage, cell, 0, committed.get((grp, stage), [0, 0])))
        lost = sum(unmatched.values()) if grp == "*" else unmatched.get(grp, 0)
        rows.append(_summary_row(labels, grp, "all", totals, lost, committed.get((grp, "all"), [0, 0])))
    return rows


def _summary_row(
    labels: Labels, grp: str, stage: str, cell: dict[str, int], unmatched: int, money: Sequence[int]
) -> tuple:
    students = sum(cell.get(o, 0) for o in ("aided", *LIST_REASONS))
    aided = cell.get("aided", 0)
    name = "任一特殊群体" if grp == "*" else labels.group_names[grp]
    return (
        "any" if grp == "*" else grp,
        name,
        stage,
        labels.stage_name(stage),
        students,
        aided,
        students - aided,
        rate(aided, students),
        *(cell.get(r, 0) for r in LIST_REASONS),
        unmatched,
        money[0],
        money[1],
    )


def _money_rows(money: Money, names: dict[str, str], labels: Labels) -> list[tuple]:
    order = {g: i for i, g in enumerate((*labels.groups, "*"))}
    stages = {s: i for i, s in enumerate(labels.stages)}
    rows = []
    for (grp, stage, program, kind), (n, fen, paid) in sorted(
        money.items(), key=lambda item: (order[item[0][0]], stages.get(item[0][1], 99), item[0][2])
    ):
        rows.append(
            (
                "any" if grp == "*" else grp,
                "任一特殊群体" if grp == "*" else labels.group_names[grp],
                stage,
                labels.stage_name(stage),
                program,
                names.get(program, program),
                kind,
                n,
                fen,
                paid,
            )
        )
    return rows


def _program_bars(money: Money, names: dict[str, str]) -> list[Bar]:
    totals: dict[str, int] = defaultdict(int)
    for (grp, _stage, program, kind), (_n, fen, _paid) in money.items():
        if grp == "*" and kind in AID_KINDS:
            totals[program] += fen
    return [
        Bar(names.get(p, p), fen / 100, f"{fen / 100:,.2f}")
        for p, fen in sorted(totals.items(), key=lambda i: -i[1])
    ]


def _by_region(ctx: Context, classified: Any) -> list[tuple]:
    """Coverage of special-group students by the next level down, weakest first."""
    found = coverage_by_child(ctx, classified)
    names = child_names(ctx, list(found))
    rows = [(code, names.get(code, code), n, aided, rate(aided, n)) for code, (n, aided) in found.items()]
    rows.sort(key=lambda r: (r[4] if r[4] is not None else 2.0, r[0]))
    return rows


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.2f}%"


# ------------------------------------------------------------------------------------ the list


def _unaided_rows(ctx: Context, member: Any, classified: Any) -> Iterator[tuple]:
    """Every special-group student not aided, then every unmatched record: streamed from the database."""
    ctx.tune()  # the stream may run in a transaction of its own
    member, classified = ctx.members(), ctx.classified()  # again, if that transaction is a new one
    labels = ctx.labels
    names = Names(program_names(ctx.settings), ctx.settings.rules.facts)
    groups = (
        select(member.c.student_pk, ctx.concat(member.c.grp).label("groups"))
        .group_by(member.c.student_pk)
        .subquery("student_groups")
    )
    not_funded = (
        select(Decision.application_id, ctx.concat(Decision.program).label("programs"))
        .where(
            Decision.status == "not_funded",
            Decision.school_year == ctx.period.school_year,
            ctx.decision_current(),
        )
        .group_by(Decision.application_id)
        .subquery("not_funded")
    )
    last_reject = (
        select(ApplicationAction.application_id, func.max(ApplicationAction.id).label("action_id"))
        .where(
            ApplicationAction.action == "reject", true() if ctx.live else ApplicationAction.at <= ctx.as_of
        )
        .group_by(ApplicationAction.application_id)
        .subquery("last_reject")
    )
    rejection = aliased(ApplicationAction)
    outcome = classified.c.outcome
    order = case({r: i for i, r in enumerate(REASONS)}, value=outcome, else_=99)
    masked = Student.id_mask
    query = (
        select(
            outcome,
            Student.student_id,
            Student.name,
            masked,
            School.code,
            School.name,
            Student.class_name,
            Student.stage,
            Student.grade,
            groups.c.groups,
            Application.id,
            ctx.application_state(),
            Application.conflicts,
            rejection.note,
            not_funded.c.programs,
            Application.level,
        )
        .select_from(classified)
        .join(Student, Student.id == classified.c.student_pk)
        .join(School, School.code == Student.school_code)
        .join(groups, groups.c.student_pk == classified.c.student_pk)
        .outerjoin(Application, Application.id == classified.c.app_id)
        .outerjoin(last_reject, last_reject.c.application_id == Application.id)
        .outerjoin(rejection, rejection.id == last_reject.c.action_id)
        .outerjoin(not_funded, not_funded.c.application_id == Application.id)
        .where(outcome != "aided")
        .order_by(order, School.code, Student.student_id)
    )
    result = ctx.session.execute(query.execution_options(yield_per=2000))
    for (
        outcome,
        student_id,
        name,
        masked_id,
        school_code,
        school_name,
        class_name,
        stage,
        grade,
        groups_text,
        app_id,
        state,
        conflicts,
        note,
        unfunded_programs,
        level,
    ) in result:
        keys = sorted(set((groups_text or "").split(";")) - {""}, key=labels.groups.index)
        detail = _detail(
            outcome, state, conflicts, note if ctx.notes else None, unfunded_programs, level, names
        )
        yield (
            outcome,
            REASON_NAMES[outcome],
            detail,
            student_id,
            name,
            masked_id,
            school_code,
            school_name,
            class_name,
            labels.stage_name(stage),
            grade,
            ";".join(keys),
            "、".join(labels.group_names[k] for k in keys),
            app_id,
            STATE_NAMES.get(state or "", state or ""),
            "",
        )
    records = (
        select(
            AgencyRecord.status,
            AgencyRecord.person_mask,
            AgencyRecord.source,
            AgencyRecord.valid_from,
            AgencyRecord.valid_to,
        )
        .where(unmatched_condition(ctx))
        .order_by(AgencyRecord.source, AgencyRecord.status, AgencyRecord.person_mask, AgencyRecord.id)
    )
    for status, person_mask, source, valid_from, valid_to in ctx.session.execute(
        records.execution_options(yield_per=2000)
    ):
        span = f"有效期 {format_date(valid_from) or '—'} 至 {format_date(valid_to) or '长期'}"
        yield (
            "unmatched",
            REASON_NAMES["unmatched"],
            f"部门记录未匹配到在校学生或其监护人；{span}",
            "",
            "",
            person_mask,
            "",
            "",
            "",
            "",
            None,
            status,
            labels.group_names[status],
            None,
            "",
            source,
        )


def _detail(
    outcome: str,
    state: str | None,
    conflicts: Any,
    note: str | None,
    unfunded: str | None,
    level: str | None,
    names: Names,
) -> str:
    """What the administrator reads beside the reason (programs and facts by their labels)."""
    if outcome == "rejected":
        return REJECTED_ELSEWHERE if note is None else note
    if outcome == "in_review":
        return f"申请状态：{STATE_NAMES.get(state or '', state or '')}"
    if outcome == "quota_shortfall":
        programs = "、".join(names.program(p) for p in sorted(set((unfunded or "").split(";")) - {""}))
        return f"符合条件但超出名额未获资助：{programs}"
    if outcome == "data_conflict":
        items = [
            f"{names.fact(c.get('fact'))}：申报 {_flag(c.get('declared'))}，部门数据 {_flag(c.get('agency'))}"
            for c in (conflicts or [])
            if isinstance(c, dict)
        ]
        if items:
            return "申报与部门数据不一致（以部门数据为准）：" + "；".join(items)
        return "认定时记录的数据中没有该特殊群体身份（部门数据在认定后变化），需重新认定"
    if outcome == "no_award":
        return f"已认定（{LEVEL_NAMES.get(level or '', level or '')}），但没有适用的资助项目"  # the standing's level
    return ""


@dataclass(frozen=True, slots=True)
class Names:
    """Programs and facts by their labels in the rules (a code the rules do not know stays as it is)."""

    programs: dict[str, str]
    facts: Mapping[str, Any]

    def program(self, code: str) -> str:
        return self.programs.get(code, code)

    def fact(self, name: object) -> str:
        spec = self.facts.get(str(name))
        return spec.label if spec is not None and spec.label else str(name)


def _flag(value: Any) -> str:
    return (
        {True: "是", False: "否", None: "无"}.get(value, str(value))
        if isinstance(value, bool | None)
        else str(value)
    )
