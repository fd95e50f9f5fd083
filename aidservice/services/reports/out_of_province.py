"""The special-group report's own line for students whose out-of-province status the school verified (policy §3a):
"外省建档立卡等（已核实）" by stage, then each declared status, with how many of them are aided.

Who counts: enrolled students of the scope with a declaration of the period's school year verified by the
report time (`verified_at`), on an application seen by then. They hold no Jiangsu agency record, so the
agency-based lines of the report do not count them; this section counts them apart. The sources, statuses and
the line's name come from the rule set (sources.yaml, `kind: declared`, `report_label`). "Aided" is
`common.AIDED_DEFINITION`.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlalchemy import select, true

from aidservice.models import Application, StatusDeclaration
from aidservice.services.reports.common import Column, Labels, Section, rate
from aidservice.services.reports.reading import Context

KEY = "out_of_province"
COLUMNS = (
    Column("group", "群体代码", "code", 30),
    Column("group_name", "群体", width=26),
    Column("stage", "学段代码", "code", 14),
    Column("stage_name", "学段", width=10),
    Column("students", "在校学生数", "int"),
    Column("aided", "已资助", "int"),
    Column("not_aided", "未资助", "int"),
    Column("coverage", "资助覆盖率", "rate"),
)
VERIFIED = "（已核实）"


def section(ctx: Context) -> Section | None:
    """The section, or None when the rule set lets no status be declared."""
    sources = ctx.settings.rules.vocabulary.declared_sources
    if not sources:
        return None
    students: dict[tuple[str, str], set[int]] = defaultdict(set)
    aided_ones: set[int] = set()
    for source, status, student_pk, stage, aided in ctx.session.execute(_query(ctx)):
        for key in ((source, stage), (source, "all"), (f"{source}.{status}", "all")):
            students[key].add(student_pk)
        if aided:
            aided_ones.add(student_pk)
    rows: list[tuple] = []
    labels = Labels.of(ctx.settings.rules)
    for source in sources:
        name = source.report_label or source.label + VERIFIED
        for stage in (*labels.stages, "all"):
            found = students.get((source.id, stage), set())
            if found or stage == "all":
                rows.append(_row(source.id, name, stage, labels.stage_name(stage), found, aided_ones))
        for status in source.statuses:
            label = (status.label or ctx.settings.rules.facts[status.name].label) + VERIFIED
            found = students.get((f"{source.id}.{status.name}", "all"), set())
            rows.append(
                _row(f"{source.id}.{status.name}", label, "all", labels.stage_name("all"), found, aided_ones)
            )
    title = (sources[0].report_label or "外省身份（已核实）") + "学生资助情况"
    return Section(
        KEY,
        title,
        COLUMNS,
        rows,
        "外省身份经学校核实的学生单独列出，不计入上表各群体；一名学生可申报多项身份，合计行按学生去重。",
    )


def _row(group: str, name: str, stage: str, stage_name: str, found: set[int], aided: set[int]) -> tuple:
    n, helped = len(found), len(found & aided)
    return (group, name, stage, stage_name, n, helped, n - helped, rate(helped, n))


def _query(ctx: Context) -> Any:
    scope = ctx.in_scope().subquery("declared_scope")
    aided = ctx.aided()
    verified_by_then = true() if ctx.live else StatusDeclaration.verified_at <= ctx.as_of
    return (
        select(
            StatusDeclaration.source,
            StatusDeclaration.status,
            scope.c.student_pk,
            scope.c.stage,
            aided.c.student_pk.is_not(None),
        )
        .join(Application, Application.id == StatusDeclaration.application_id)
        .join(scope, scope.c.student_pk == Application.student_pk)
        .outerjoin(aided, aided.c.student_pk == scope.c.student_pk)
        .where(
            StatusDeclaration.state == "verified",
            verified_by_then,
            Application.school_year == ctx.period.school_year,
            ctx.application_seen(),
        )
        .distinct()
    )
