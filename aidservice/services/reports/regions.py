"""The regions report: the province by city, a city by county, a county by school (a school: itself), with
students, identification levels (each student's standing: the approved decision, else the system's
pre-assessment), aided students, money and special-group coverage,
weakest coverage first."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlalchemy import case, func, select

from aidservice.models import Decision, Determination, School, Student
from aidservice.services.reports import guide_shares
from aidservice.services.reports.common import (
    AID_KINDS,
    LEVEL_KEYS,
    LEVEL_NAMES,
    Bar,
    Chart,
    Column,
    Report,
    Section,
    rate,
)
from aidservice.services.reports.reading import Context, coverage_by_child, known_children
from aidservice.services.standing.standing import Current, with_levels

TITLE = "学生资助分地区情况报告"
COLUMNS = (
    Column("code", "代码", width=14),
    Column("name", "名称", width=26),
    Column("level", "层级", width=8),
    Column("students", "在校学生数", "int"),
    *(Column(f"level_{k}", f"认定{LEVEL_NAMES[k]}", "int") for k in LEVEL_KEYS),
    Column("undetermined", "未认定", "int"),
    Column("aided", "受资助学生数", "int"),
    Column("committed", "资助金额（元）", "money", 16),
    Column("paid", "本期应发（元）", "money", 16),
    Column("special_group_students", "特殊群体学生数", "int"),
    Column("special_group_aided", "特殊群体已资助", "int"),
    Column("coverage", "特殊群体资助覆盖率", "rate"),
)
LEVEL_LABELS = {"city": "市", "county": "县（市、区）", "school": "学校", "province": "省", "total": "合计"}


def build(ctx: Context) -> Report:
    """The regions report for the context's period, scope and time."""
    ctx.tune()
    data: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    determination_versions = _students_and_levels(ctx, data)
    decision_versions = _aid(ctx, data)
    _paid(ctx, data)
    classified = ctx.classified()
    for child, (n, aided) in coverage_by_child(ctx, classified).items():
        data[child]["special_group_students"] = n
        data[child]["special_group_aided"] = aided
    names = known_children(ctx) if ctx.scope.level != "school" else {ctx.scope.code: ctx.scope.name}
    for code in names:
        data.setdefault(code, defaultdict(int))  # every known unit gets a row, with data or not
    rows = [_row(code, names.get(code, code), ctx.scope.child_level, values) for code, values in data.items()]
    rows.sort(key=lambda r: (r[-1] if r[-1] is not None else 2.0, r[0]))
    total: dict[str, int] = defaultdict(int)
    for values in data.values():
        for key, n in values.items():
            total[key] += n
    rows.append(_row(ctx.scope.code, f"{ctx.scope.name}合计", "total", total))
    decided = total["committed"] or total["aided"] or sum(total[f"level_{k}"] for k in LEVEL_KEYS)
    empty = not decided and not total["special_group_students"]
    report = Report(
        kind="regions",
        title=TITLE,
        meta=ctx.meta("regions", {"determinations": determination_versions, "decisions": decision_versions}),
        sections=[
            Section(
                "regions",
                f"分地区情况（按{LEVEL_LABELS[ctx.scope.child_level]}，特殊群体覆盖率由低到高）",
                COLUMNS,
                rows,
                "覆盖率为空表示该地区没有特殊群体学生；最后一行为合计。",
            )
        ],
        charts=[
            Chart(
                "各地区特殊群体资助覆盖率",
                [Bar(r[1], r[-1] or 0.0, _pct(r[-1])) for r in rows[:-1]],
                "%",
                1.0,
            ),
            Chart(
                "各地区资助金额（元）",
                [Bar(r[1], r[10] / 100, f"{r[10] / 100:,.2f}") for r in rows[:-1]],
                "元",
            ),
        ],
        empty=empty,
    )
    guide = guide_shares.section(ctx)  # guide ratios per stage (动态调整资助比例), when the rules give any
    if guide is not None:
        report.sections.append(guide)
    if empty:
        report.message = (
            f"{ctx.period.name}，{ctx.scope.name}没有认定结果、资助决定或特殊群体学生：本报告为空。"
        )
    return report


def _row(code: str, name: str, level: str, v: dict[str, int]) -> tuple:
    return (
        code,
        name,
        LEVEL_LABELS.get(level, level),
        v["students"],
        *(v[f"level_{k}"] for k in LEVEL_KEYS),
        v["students"] - sum(v[f"level_{k}"] for k in LEVEL_KEYS),
        v["aided"],
        v["committed"],
        v["paid"],
        v["special_group_students"],
        v["special_group_aided"],
        rate(v["special_group_aided"], v["special_group_students"]),
    )


def _students_and_levels(ctx: Context, data: dict[str, dict[str, int]]) -> list[str]:
    """Enrolled students and each one's standing for the school year (the approved decision, else the
    pre-assessment: `services.standing`), at the report time; the determinations' rule-set versions."""
    child = ctx.scope.child()
    current = Current(determination=ctx.determination_current, application_state=ctx.application_state)
    students = (
        select(Student.id)
        .select_from(Student)
        .join(School, School.code == Student.school_code)
        .where(ctx.scope.schools(), ctx.enrolled())
    )
    standing = with_levels(students, ctx.period.school_year, current)
    query = standing.query.with_only_columns(
        child,
        func.count(Student.id),
        *(func.sum(case((standing.level == k, 1), else_=0)) for k in LEVEL_KEYS),
        maintain_column_froms=True,
    ).group_by(child)
    for code, students, *levels in ctx.session.execute(query):
        data[code]["students"] += students
        for key, n in zip(LEVEL_KEYS, levels, strict=True):
            data[code][f"level_{key}"] += int(n or 0)
    versions = (
        select(Determination.rule_set_version)
        .join(Student, Student.id == Determination.student_pk)
        .join(School, School.code == Student.school_code)
        .where(
            Determination.school_year == ctx.period.school_year,
            ctx.determination_current(),
            ctx.scope.schools(),
            ctx.enrolled(),
        )
        .distinct()
    )
    return sorted(ctx.session.scalars(versions))


def _aid(ctx: Context, data: dict[str, dict[str, int]]) -> list[str]:
    """Aided students and committed money by the deciding school's unit, and the rule-set versions used."""
    child = ctx.scope.child()
    query = (
        select(
            child,
            Decision.rule_set_version,
            func.count(func.distinct(Decision.student_pk)),
            func.coalesce(func.sum(Decision.amount_fen), 0),
        )
        .select_from(Decision)
        .join(School, School.code == Decision.school_code)
        .where(
            Decision.school_year == ctx.period.school_year,
            ctx.decision_current(),
            Decision.status == "awarded",
            Decision.kind.in_(AID_KINDS),
            ctx.scope.schools(),
        )
        .group_by(child, Decision.rule_set_version)
    )
    versions: set[str] = set()
    for code, version, aided, fen in ctx.session.execute(query):
        data[code]["aided"] += aided
        data[code]["committed"] += int(fen)
        versions.add(version)
    return sorted(versions)


def _paid(ctx: Context, data: dict[str, dict[str, int]]) -> None:
    """Instalments of aid due in the period, by the school that decided them."""
    child = ctx.scope.child()
    due: Any = ctx.instalments()
    query = (
        select(child, func.sum(due.c.amount_fen))
        .select_from(due)
        .join(School, School.code == due.c.school_code)
        .where(ctx.due_in_period(due.c.due), due.c.kind.in_(AID_KINDS), ctx.scope.schools())
        .group_by(child)
    )
    for code, fen in ctx.session.execute(query):
        data[code]["paid"] = int(fen or 0)


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.2f}%"
