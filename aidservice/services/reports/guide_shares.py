"""The regions report's guide section (动态调整资助比例, 《2020年工作要点》第29项): for each stage the rule set
gives a guide ratio (`procedure.guide_ratios`; preschool today), each unit's identified and aided shares of
enrolment against the guide share of its city. An administrator reads where a county lies below or above
the province's expectation; the places themselves are proposed on the quotas page (applications.guide).

Identified: an approved application of the school year (state at the report time) with a level of at least
`general`, as the quotas page counts it; aided: a current awarded decision of a grant, waiver or
scholarship (`common.AIDED_DEFINITION`); both among enrolled students of the stage.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date

from sqlalchemy import func, select

from aidservice.models import Application, Decision, School, Student
from aidservice.services.reports.common import AID_KINDS, Column, Section, rate
from aidservice.services.reports.reading import Context, known_children

IDENTIFIED_LEVELS = ("general", "difficult", "special")
COLUMNS = (
    Column("stage", "学段代码", "code", 12),
    Column("stage_name", "学段", width=10),
    Column("code", "代码", width=14),
    Column("name", "名称", width=26),
    Column("students", "在校学生数", "int"),
    Column("identified", "认定人数", "int"),
    Column("identified_share", "认定比例", "rate"),
    Column("aided", "资助人数", "int"),
    Column("aided_share", "资助比例", "rate"),
    Column("guide_share", "指导比例", "rate"),
    Column("gap", "资助比例与指导比例之差", "rate", 14),
)


@dataclass(slots=True)
class _Unit:
    city: str
    students: int = 0
    identified: int = 0
    aided: int = 0


def section(ctx: Context) -> Section | None:
    """The guide section, or None when the rule set gives no stage a guide ratio."""
    procedure = ctx.settings.rules.rules.procedure
    if procedure is None or not procedure.guide_ratios:
        return None
    names = known_children(ctx) if ctx.scope.level != "school" else {ctx.scope.code: ctx.scope.name}
    on = date(int(ctx.period.school_year[:4]), 9, 1)
    rows: list[tuple] = []
    for stage, param_id in procedure.guide_ratios.items():
        parameter = ctx.settings.rules.rules.parameters[param_id]
        counts = _counts(ctx, stage)
        regions = set(names) if ctx.scope.child_level in ("city", "county") else set()
        for code in sorted(regions | set(counts)):  # every city or county; only schools with the stage
            c = counts.get(code) or _Unit(code[:4] + "00")
            dated = parameter.at(on, c.city if parameter.key else None)
            guide = (
                dated.value / parameter.scale if dated is not None and isinstance(dated.value, int) else None
            )
            aided_share = rate(c.aided, c.students)
            gap = round(aided_share - guide, 4) if aided_share is not None and guide is not None else None
            rows.append(
                (
                    stage,
                    ctx.settings.rules.rules.facts["stage"].label_of(stage),
                    code,
                    names.get(code, code),
                    c.students,
                    c.identified,
                    rate(c.identified, c.students),
                    c.aided,
                    aided_share,
                    guide,
                    gap,
                )
            )
    return Section(
        "guide",
        "资助比例与省定指导比例对照（动态调整资助比例）",
        COLUMNS,
        rows,
        "指导比例为占在校学生数的比例（暂定，按设区市）；未设指导比例的学段不列出。建议名额见“名额与指导比例”页面。",
    )


def _counts(ctx: Context, stage: str) -> dict[str, _Unit]:
    """Per unit of the scope's next level: enrolled, identified and aided students of the stage, and its city."""
    child = ctx.scope.child()
    year = ctx.period.school_year
    out: dict[str, _Unit] = defaultdict(lambda: _Unit(""))
    enrolled = (
        select(child, School.city_code, func.count(Student.id))
        .select_from(Student)
        .join(School, School.code == Student.school_code)
        .where(ctx.scope.schools(), ctx.enrolled(), Student.stage == stage)
        .group_by(child, School.city_code)
    )
    for code, city, n in ctx.session.execute(enrolled):
        out[code].students += n
        out[code].city = city
    identified = (
        select(child, func.count(func.distinct(Application.student_pk)))
        .select_from(Application)
        .join(Student, Student.id == Application.student_pk)
        .join(School, School.code == Student.school_code)
        .where(
            ctx.scope.schools(),
            Student.stage == stage,
            Application.school_year == year,
            ctx.application_seen(),
            ctx.application_state() == "approved",
            Application.level.in_(IDENTIFIED_LEVELS),
        )
        .group_by(child)
    )
    for code, n in ctx.session.execute(identified):
        out[code].identified = n
    aided = (
        select(child, func.count(func.distinct(Decision.student_pk)))
        .select_from(Decision)
        .join(Student, Student.id == Decision.student_pk)
        .join(School, School.code == Decision.school_code)
        .where(
            ctx.scope.schools(),
            Student.stage == stage,
            Decision.school_year == year,
            ctx.decision_current(),
            Decision.status == "awarded",
            Decision.kind.in_(AID_KINDS),
        )
        .group_by(child)
    )
    for code, n in ctx.session.execute(aided):
        out[code].aided = n
    for code, unit in out.items():
        unit.city = unit.city or code[:4] + "00"  # a unit with aid but no enrolled student left
    return out
