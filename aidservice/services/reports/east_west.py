"""The special-group report's east–west cooperation line per school (seed item 35, fact sheet §3a).

Who counts: students of the scope on a school's roll at the report time with the roster flag
`east_west_cooperation` (vocational students from the partner regions). "Aided" is `common.AIDED_DEFINITION`;
the amount is what their current awarded decisions of aid kinds commit for the period's school year. The origin
regions are listed with their labels from the rules (`east_west_origin`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from sqlalchemy import and_, func, select

from aidservice.models import Decision, School, Student
from aidservice.services.reports.common import AID_KINDS, Column, Section, rate
from aidservice.services.reports.reading import Context
from aidservice.services.vocabulary import value_labels

TITLE = "东西协作计划学生资助情况（按学校）"
NOTE = (
    "职业教育东西协作计划学生（《2020年工作要点》第35项），按学校各列一行；享受中职资助政策与其他学生相同。"
)
COLUMNS = (
    Column("school_code", "学校代码", width=14),
    Column("school_name", "学校", width=28),
    Column("origins", "生源地区", width=30),
    Column("students", "东西协作学生数", "int"),
    Column("aided", "已资助", "int"),
    Column("coverage", "资助覆盖率", "rate"),
    Column("committed", "资助金额（元）", "money", 14),
)


def section(ctx: Context) -> Section:
    """One row per school of the scope that has east–west cooperation students."""
    return Section("east_west", TITLE, COLUMNS, rows(ctx), NOTE)


def rows(ctx: Context) -> list[tuple[Any, ...]]:
    students = (
        select(
            Student.id.label("student_pk"),
            Student.school_code.label("school_code"),
            Student.east_west_origin.label("origin"),
        )
        .join(School, School.code == Student.school_code)
        .where(ctx.scope.schools(), ctx.enrolled(), Student.east_west_cooperation.is_(True))
        .subquery("east_west")
    )
    aided = ctx.aided()
    labels = value_labels(ctx.settings.rules.facts, "east_west_origin")
    per_school: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    origins: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    counts = (
        select(students.c.school_code, students.c.origin, func.count(), func.count(aided.c.student_pk))
        .outerjoin(aided, aided.c.student_pk == students.c.student_pk)
        .group_by(students.c.school_code, students.c.origin)
    )
    for school, origin, n, n_aided in ctx.session.execute(counts):
        per_school[school][0] += n
        per_school[school][1] += n_aided
        origins[school][origin or ""] += n
    money = (
        select(students.c.school_code, func.coalesce(func.sum(Decision.amount_fen), 0))
        .join(Decision, Decision.student_pk == students.c.student_pk)
        .where(
            and_(
                Decision.school_year == ctx.period.school_year,
                ctx.decision_current(),
                Decision.status == "awarded",
                Decision.kind.in_(AID_KINDS),
            )
        )
        .group_by(students.c.school_code)
    )
    for school, fen in ctx.session.execute(money):
        per_school[school][2] = int(fen)
    names = _school_names(ctx, sorted(per_school))
    return [
        (
            school,
            names.get(school, school),
            "；".join(
                f"{labels.get(o, o or '未填')} {n}"
                for o, n in sorted(origins[school].items(), key=_order(labels))
            ),
            n,
            n_aided,
            rate(n_aided, n),
            fen,
        )
        for school, (n, n_aided, fen) in sorted(per_school.items())
    ]


def _order(labels: dict[str, str]) -> Any:
    """Origins in the rules' order."""
    order = {value: i for i, value in enumerate(labels)}
    return lambda item: (order.get(item[0], len(order)), item[0])


def _school_names(ctx: Context, codes: Sequence[str]) -> dict[str, str]:
    if not codes:
        return {}
    query = select(School.code, School.name).where(School.code.in_(list(codes)))
    return {code: name for code, name in ctx.session.execute(query)}
