"""The dropout-control monitoring report (控辍保学监测报告; seed item 30, fact sheet §3a), per region and period.

Two lists for the county to follow up, "精准到重点人头":

(a) `ended`: special-group students of the compulsory stages (primary, junior) of the scope whose enrolment
    ended: state dropped_out, suspended or transferred, taking effect on or before the period's last day
    (a child out of school since an earlier period is still out), unless the same person (same keyed hash of
    the ID number) is enrolled in another school of the province (a transfer in, or a return to school).
    Special group: a current agency record of a special group valid in the period reaches the student (a
    household status through the student's or a guardian's number, a personal one through the student's
    own: the matching of the special-group report).
(b) `unmatched_children`: people aged 6 to 15 on the report date (the Beijing date of the report's as-of
    time, or the period's last day when that is earlier; birth date from the ID number, kept at ingest in `person_births`) listed in a current special-group
    agency record valid in the period who match no enrolled student: possible out-of-school children.
    Attributed to a region by the number's division code, as the special-group report's unmatched records;
    a school's report has no such list (a school officer sees list (a) of their school only).

Numbers are masked (`id_mask`, `person_mask`); birth dates are never shown, ages are.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from datetime import date
from typing import Any

from sqlalchemy import and_, exists, or_, select, true
from sqlalchemy.orm import aliased

from aidservice.models import AgencyRecord, Guardian, PersonBirth, School, Student
from aidservice.services.reports.common import Column, Report, Section
from aidservice.services.reports.periods import LOCAL
from aidservice.services.reports.reading import Context
from aidservice.services.vocabulary import DROPPED_OUT, ENDED, ENROLLED, TRANSFERRED, value_labels

KIND = "dropout_control"
TITLE = "控辍保学监测报告"
COMPULSORY = ("primary", "junior")
"""Compulsory-education stages (义务教育: 小学, 初中), values of the rules' `stage`."""
AGE_FROM, AGE_TO = 6, 15
"""Ages of compulsory schooling the list of possibly out-of-school children covers (inclusive)."""

ENDED_COLUMNS = (
    Column("student_id", "学籍号", width=16),
    Column("name", "姓名", width=10),
    Column("id_number", "身份证号（脱敏）", width=20),
    Column("school_code", "学校代码", width=14),
    Column("school_name", "学校", width=28),
    Column("class_name", "班级", width=14),
    Column("stage", "学段", width=10),
    Column("grade", "年级", "int", 6),
    Column("state", "学籍状态代码", "code", 14),
    Column("state_name", "学籍状态", width=10),
    Column("state_date", "状态日期", "date", 12),
    Column("groups", "群体代码", "code", 24),
    Column("group_names", "特殊群体", width=24),
    Column("follow_up", "说明", width=36),
)
CHILD_COLUMNS = (
    Column("id_number", "身份证号（脱敏）", width=20),
    Column("name", "姓名", width=10),
    Column("age", "年龄（周岁）", "int", 8),
    Column("groups", "群体代码", "code", 24),
    Column("group_names", "特殊群体", width=24),
    Column("sources", "数据来源", width=30, labels="source"),
    Column("roster", "学籍记录", width=24),
)
FOLLOW_UP = {
    DROPPED_OUT: "已辍学，未在省内其他学校在读",
    TRANSFERRED: "已转出，但未在省内其他学校在读",
}


def build(ctx: Context) -> Report:
    """The report for the context's period, scope and report time."""
    ctx.tune()
    day = report_date(ctx)
    ended = list(_ended_rows(ctx))
    school_scope = ctx.scope.level == "school"
    children = [] if school_scope else list(_children_rows(ctx, day))
    sections = [
        Section(
            "ended",
            "（一）义务教育阶段特殊群体学生学籍中止名单",
            ENDED_COLUMNS,
            ended,
            "辍学、休学或转出且未在省内其他学校在读的小学、初中特殊群体学生；身份证号已脱敏。",
        ),
        Section(
            "unmatched_children",
            "（二）部门特殊群体名单中未匹配到在读学生的6至15周岁儿童",
            CHILD_COLUMNS,
            children,
            (
                "学校报告不含此部分（按证件号行政区划归属县（市、区））。"
                if school_scope
                else f"年龄按报告日期 {day.isoformat()} 计算（出生日期取自身份证号，不显示）；"
                "可能为失学儿童，请县（市、区）核实跟进。身份证号已脱敏。"
            ),
        ),
    ]
    report = Report(kind=KIND, title=TITLE, meta=ctx.meta(KIND, {}), sections=sections)
    report.meta["report_date"] = day.isoformat()
    if not ended and not children:
        report.empty = True
        report.message = f"{ctx.period.name}，{ctx.scope.name}没有需跟进的学籍中止学生或未匹配的适龄儿童。"
    return report


def report_date(ctx: Context) -> date:
    """The day ages are counted on: the report's as-of day in Beijing, or the period's last day when the period
    ended before it (a report on a past period counts the ages of that period)."""
    return min(ctx.as_of.astimezone(LOCAL).date(), ctx.period.end)


def years_before(day: date, years: int) -> date:
    """The same day `years` earlier (29 February becomes the 28th)."""
    try:
        return day.replace(year=day.year - years)
    except ValueError:
        return day.replace(year=day.year - years, day=28)


def age_on(birth: date, day: date) -> int:
    """Completed years on `day`."""
    return day.year - birth.year - ((day.month, day.day) < (birth.month, birth.day))


def _special(ctx: Context) -> Any:
    """SQL condition on AgencyRecord: a special-group record current at the report time and valid in the period."""
    return and_(AgencyRecord.status.in_(ctx.labels.groups), ctx.record_current(), ctx.record_valid())


def _ended_rows(ctx: Context) -> Iterator[tuple[Any, ...]]:
    other = aliased(Student)
    back_in_school = exists().where(
        other.id_hmac == Student.id_hmac,
        other.id != Student.id,
        other.school_code != Student.school_code,
        other.enrolment_state == ENROLLED,
        ctx.enrolled(other),
    )
    candidates = (
        select(
            Student.id,
            Student.student_id,
            Student.name,
            Student.id_mask,
            Student.id_hmac,
            Student.school_code,
            School.name,
            Student.class_name,
            Student.stage,
            Student.grade,
            Student.enrolment_state,
            Student.enrolment_date,
        )
        .join(School, School.code == Student.school_code)
        .where(
            ctx.scope.schools(),
            Student.stage.in_(COMPULSORY),
            Student.enrolment_state.in_(ENDED),
            or_(Student.enrolment_date.is_(None), Student.enrolment_date <= ctx.period.end),
            true() if ctx.live else Student.created_at <= ctx.as_of,
            ~back_in_school,
        )
        .order_by(Student.school_code, Student.student_id)
    )
    rows = ctx.session.execute(candidates).all()
    groups = _groups_of(ctx, [(r[0], r[4]) for r in rows])
    labels = value_labels(ctx.settings.rules.facts, "enrolment_state")
    for (
        pk,
        student_id,
        name,
        id_mask,
        _hmac,
        school,
        school_name,
        class_name,
        stage,
        grade,
        state,
        day,
    ) in rows:
        keys = [g for g in ctx.labels.groups if g in groups.get(pk, ())]
        if not keys:
            continue
        yield (
            student_id,
            name,
            id_mask,
            school,
            school_name,
            class_name,
            ctx.labels.stage_name(stage),
            grade,
            state,
            labels.get(state, state),
            day,
            ";".join(keys),
            "、".join(ctx.labels.group_names[k] for k in keys),
            FOLLOW_UP.get(state, "休学，请跟进复学"),
        )


def _groups_of(ctx: Context, students: list[tuple[int, str]]) -> dict[int, set[str]]:
    """{student pk: special groups reaching the student} (own number: every group; a guardian's: household ones)."""
    found: dict[int, set[str]] = defaultdict(set)
    if not students:
        return found
    for start in range(0, len(students), 1000):
        part = [pk for pk, _h in students[start : start + 1000]]
        own = (
            select(Student.id, AgencyRecord.status)
            .join(AgencyRecord, AgencyRecord.person_hmac == Student.id_hmac)
            .where(Student.id.in_(part), _special(ctx))
        )
        via = (
            select(Guardian.student_pk, AgencyRecord.status)
            .join(AgencyRecord, AgencyRecord.person_hmac == Guardian.id_hmac)
            .where(
                Guardian.student_pk.in_(part),
                _special(ctx),
                AgencyRecord.status.in_(sorted(ctx.settings.rules.vocabulary.household_statuses)),
            )
        )
        for query in (own, via):
            for pk, status in ctx.session.execute(query):
                found[pk].add(status)
    return found


def _children_rows(ctx: Context, day: date) -> Iterator[tuple[Any, ...]]:
    enrolled = exists().where(
        Student.id_hmac == AgencyRecord.person_hmac, Student.enrolment_state == ENROLLED, ctx.enrolled()
    )
    conditions = [
        _special(ctx),
        PersonBirth.birth_date <= years_before(day, AGE_FROM),
        PersonBirth.birth_date > years_before(day, AGE_TO + 1),
        ~enrolled,
    ]
    prefix = ctx.scope.person_prefix()
    if prefix is not None:
        conditions.append(AgencyRecord.person_mask.like(prefix + "%"))
    records = (
        select(
            AgencyRecord.person_hmac,
            AgencyRecord.person_mask,
            AgencyRecord.name,
            AgencyRecord.status,
            AgencyRecord.source,
            PersonBirth.birth_date,
        )
        .join(PersonBirth, PersonBirth.person_hmac == AgencyRecord.person_hmac)
        .where(*conditions)
        .order_by(AgencyRecord.person_mask, AgencyRecord.person_hmac, AgencyRecord.id)
    )
    people: dict[str, dict[str, Any]] = {}
    for hmac, person_mask, name, status, source, birth in ctx.session.execute(records):
        person = people.setdefault(
            hmac,
            {"mask": person_mask, "name": name, "age": age_on(birth, day), "groups": set(), "sources": set()},
        )
        person["groups"].add(status)
        person["sources"].add(source)
        person["name"] = person["name"] or name
    roster = _roster_states(ctx, list(people))
    for hmac, person in people.items():
        keys = [g for g in ctx.labels.groups if g in person["groups"]]
        yield (
            person["mask"],
            person["name"],
            person["age"],
            ";".join(keys),
            "、".join(ctx.labels.group_names[k] for k in keys),
            ";".join(sorted(person["sources"])),
            roster.get(hmac, "无学籍记录"),
        )


def _roster_states(ctx: Context, hmacs: list[str]) -> dict[str, str]:
    """{person: the Chinese label of the state of their latest student record} for people with one."""
    labels = value_labels(ctx.settings.rules.facts, "enrolment_state")
    found: dict[str, str] = {}
    for start in range(0, len(hmacs), 1000):
        query = (
            select(Student.id_hmac, Student.enrolment_state)
            .where(Student.id_hmac.in_(hmacs[start : start + 1000]))
            .order_by(Student.id_hmac, Student.updated_at, Student.id)
        )
        for hmac, state in ctx.session.execute(query):
            found[hmac] = f"{labels.get(state, state)}（{state}）"
    return found
