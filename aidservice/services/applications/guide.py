"""Guide ratios and proposed places (动态调整资助比例, policy §3 "Guide ratios"; 《2020年工作要点》第29项).

For each county and each school of a region, per program of a stage and a school year: enrolled students
of the stage, identified students (an approved application of the year whose standing level is at least
`general`), aided students (a current `awarded` decision of the program), special-group students, the
shares of enrolment, the guide share the rule set gives the stage (`procedure.guide_ratios`, keyed by the
school's city), and the proposed places = max(special-group students, ceil(guide × enrolment)). A county's
proposal is the sum of its schools' (places are set per school). A stage without a guide says so: no
number is invented.

Special-group students are those whose application of the year records an agency special-group status
(the test quota allocation uses, `quotas.is_special`); the quota columns (places, funded, not funded,
shortfall) come from the school's quota and the current decisions, as the quota view counts them.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from aidservice.engine.model import Parameter
from aidservice.models import Application, Decision, Quota, Region, School, Student
from aidservice.services.actors import Actor
from aidservice.services.applications.quotas import is_special
from aidservice.services.applications.values import school_year_errors
from aidservice.services.context import Settings
from aidservice.services.errors import Forbidden, ValidationFailed
from aidservice.services.reports.common import rate
from aidservice.services.reports.scope import Scope, resolve_scope

IDENTIFIED_LEVELS = ("general", "difficult", "special")
NO_GUIDE = "该学段暂无省定指导比例，不提出建议名额"
NO_VALUE = "指导比例在该学年没有取值"


@dataclass(frozen=True, slots=True)
class GuideRow:
    """One county or school for one program: counts, shares, the guide and the proposal."""

    level: str  # county | school
    code: str
    name: str
    county_code: str
    city_code: str
    program: str
    program_name: str
    enrolled: int
    identified: int
    aided: int
    special: int
    identified_share: float | None
    aided_share: float | None
    guide_share: float | None  # None: the stage has no guide (or no value that year); see `note`
    proposed_places: int | None
    places: int | None  # the quota set for the school (a county: the sum of its schools'), None when none
    funded: int
    not_funded: int
    shortfall: int
    note: str = ""


@dataclass(frozen=True, slots=True)
class GuideView:
    region: dict[str, str]
    school_year: str
    stage: str
    stage_name: str
    guide_parameter: str | None
    guide_label: str
    guide_status: str
    guide_note: str
    basis: list[str]
    rows: list[GuideRow] = field(default_factory=list)


@dataclass
class _Counts:
    enrolled: int = 0
    identified: int = 0
    special: int = 0
    aided: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    not_funded: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    places: dict[str, int] = field(default_factory=dict)


def _check(settings: Settings, actor: Actor, stage: str, school_year: str) -> None:
    if not (actor.kind == "system" or actor.is_admin or actor.is_auditor):
        raise Forbidden("Guide ratios and proposed places are for administrators and auditors.")
    errors: dict[str, list[str]] = {}
    stages = settings.rules.rules.facts["stage"].values
    if stage not in stages:
        errors["stage"] = [f"unknown stage {stage!r}; one of {', '.join(stages)}"]
    if problems := school_year_errors(school_year):
        errors["school_year"] = problems
    if errors:
        raise ValidationFailed(errors)


def proposed(
    guide: Parameter | None, on: date, city_code: str, enrolled: int, special: int
) -> tuple[int | None, str]:
    """(places, note): max(special, ceil(share × enrolled)) in whole students; None with the reason when the
    stage has no guide or the guide no value on `on` for the city."""
    if guide is None:
        return None, NO_GUIDE
    dated = guide.at(on, city_code if guide.key else None)
    if dated is None or not isinstance(dated.value, int):
        return None, NO_VALUE
    return max(special, -(-dated.value * enrolled // guide.scale)), ""


def guide_share(guide: Parameter | None, on: date, city_code: str) -> float | None:
    """The guide share of enrolment for the city (0.08 = 8 %), or None without a guide or a value."""
    if guide is None:
        return None
    dated = guide.at(on, city_code if guide.key else None)
    return dated.value / guide.scale if dated is not None and isinstance(dated.value, int) else None


def quota_guide(
    session: Session,
    *,
    actor: Actor,
    settings: Settings,
    region: str | None,
    school_year: str | None,
    stage: str,
) -> GuideView:
    """The guide view of a region (default: the caller's) for a stage and school year (default: the current)."""
    year = school_year or settings.school_year
    _check(settings, actor, stage, year)
    scope = resolve_scope(session, actor, region)
    rules = settings.rules.rules
    param_id = settings.rules.procedure.guide_ratios.get(stage)
    guide = rules.parameters.get(param_id) if param_id else None
    on = date(int(year[:4]), 9, 1)  # the school year's first day
    programs = [p for p in rules.programs if stage in p.stages and p.kind != "loan"]
    schools = list(session.execute(select(School).where(scope.schools()).order_by(School.code)).scalars())
    groups = settings.rules.vocabulary.group_statuses
    counts = _count(session, scope, year, stage, [p.id for p in programs], groups)
    counties = {
        r.code: r.name for r in session.execute(select(Region).where(Region.level == "county")).scalars()
    }
    rows: list[GuideRow] = []
    by_county: dict[str, list[GuideRow]] = defaultdict(list)
    for school in schools:
        c = counts.get(school.code, _Counts())
        if stage not in (school.stages or []) and not c.enrolled:
            continue  # a school without the stage: nothing to propose
        for program in programs:
            places, note = proposed(guide, on, school.city_code, c.enrolled, c.special)
            quota = c.places.get(program.id)
            funded = c.aided[program.id]
            row = GuideRow(
                level="school",
                code=school.code,
                name=school.name,
                county_code=school.region_code,
                city_code=school.city_code,
                program=program.id,
                program_name=program.name,
                enrolled=c.enrolled,
                identified=c.identified,
                aided=funded,
                special=c.special,
                identified_share=rate(c.identified, c.enrolled),
                aided_share=rate(funded, c.enrolled),
                guide_share=guide_share(guide, on, school.city_code),
                proposed_places=places,
                places=quota,
                funded=funded,
                not_funded=c.not_funded[program.id],
                shortfall=max(0, funded - quota) if quota is not None else 0,
                note=note,
            )
            by_county[school.region_code].append(row)
    for county in sorted(by_county) if scope.level != "school" else ():
        parts = by_county[county]
        for program in programs:
            mine = [r for r in parts if r.program == program.id]
            enrolled, identified = sum(r.enrolled for r in mine), sum(r.identified for r in mine)
            aided, special = sum(r.aided for r in mine), sum(r.special for r in mine)
            proposals = [r.proposed_places for r in mine]
            quotas = [r.places for r in mine if r.places is not None]
            city = county[:4] + "00"
            rows.append(
                GuideRow(
                    level="county",
                    code=county,
                    name=counties.get(county, county),
                    county_code=county,
                    city_code=city,
                    program=program.id,
                    program_name=program.name,
                    enrolled=enrolled,
                    identified=identified,
                    aided=aided,
                    special=special,
                    identified_share=rate(identified, enrolled),
                    aided_share=rate(aided, enrolled),
                    guide_share=guide_share(guide, on, city),
                    proposed_places=None if None in proposals else sum(p or 0 for p in proposals),
                    places=sum(quotas) if quotas else None,
                    funded=aided,
                    not_funded=sum(r.not_funded for r in mine),
                    shortfall=sum(r.shortfall for r in mine),
                    note=mine[0].note if mine else "",
                )
            )
        rows.extend(sorted(parts, key=lambda r: (r.code, r.program)))
    if scope.level == "school":
        rows = [r for parts in by_county.values() for r in parts]
    provenance = guide.status if guide is not None else ""
    return GuideView(
        region=scope.as_json(),
        school_year=year,
        stage=stage,
        stage_name=rules.facts["stage"].label_of(stage),
        guide_parameter=param_id,
        guide_label=guide.label if guide is not None else "",
        guide_status=provenance,
        guide_note=guide.note if guide is not None else NO_GUIDE,
        basis=[
            f"{c.number or c.title} {c.clause}".strip() for c in (guide.basis if guide is not None else ())
        ],
        rows=rows,
    )


def _count(
    session: Session, scope: Scope, year: str, stage: str, programs: list[str], groups: Sequence[str]
) -> dict[str, _Counts]:
    """Per school of the scope: enrolled, identified, special-group students of the stage; aided and unfunded
    students per program; the quota places per program."""
    out: dict[str, _Counts] = defaultdict(_Counts)
    in_scope = School.code.in_(select(School.code).where(scope.schools()))
    of_stage = (Student.stage == stage) & Student.school_code.in_(select(School.code).where(scope.schools()))
    for code, n in session.execute(
        select(Student.school_code, func.count()).where(of_stage).group_by(Student.school_code)
    ):
        out[code].enrolled = n
    special: dict[str, set[int]] = defaultdict(set)
    identified: dict[str, set[int]] = defaultdict(set)
    for code, student_pk, state, level, facts in session.execute(
        select(
            Application.school_code,
            Application.student_pk,
            Application.state,
            Application.level,
            Application.facts,
        )
        .join(Student, Student.id == Application.student_pk)
        .where(of_stage, Application.school_year == year, Application.state != "rejected")
    ):
        if state == "approved" and level in IDENTIFIED_LEVELS:
            identified[code].add(student_pk)
        if is_special(facts or {}, groups):
            special[code].add(student_pk)
    for code, pks in identified.items():
        out[code].identified = len(pks)
    for code, pks in special.items():
        out[code].special = len(pks)
    for code, program, status, n in session.execute(
        select(
            Decision.school_code,
            Decision.program,
            Decision.status,
            func.count(func.distinct(Decision.student_pk)),
        )
        .join(Student, Student.id == Decision.student_pk)
        .where(
            of_stage,
            Decision.school_year == year,
            Decision.current.is_(True),
            Decision.program.in_(programs),
        )
        .group_by(Decision.school_code, Decision.program, Decision.status)
    ):
        if status == "awarded":
            out[code].aided[program] = n
        elif status == "not_funded":
            out[code].not_funded[program] = n
    for quota in session.execute(
        select(Quota)
        .join(School, School.code == Quota.school_code)
        .where(in_scope, Quota.school_year == year)
    ).scalars():
        out[quota.school_code].places[quota.program] = quota.places
    return out
