"""The administrators' drill-down: a region's next level down (the province by city, a city by county, a county
by school), each row with its students and their standings by level (`services.standing`, the rule the
dashboard and the regions report count by), in one grouped query; a school row leads to the school's roster.

Scope: administrators reach their region and what lies under it, auditors the province; anything else is
Forbidden, an unknown code NotFound (the page answers 403/404 like the rest of the app).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any, Literal, TypedDict

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from aidservice.models import Region, School, Student
from aidservice.services.actors import Actor, in_region
from aidservice.services.errors import Forbidden, NotFound
from aidservice.services.regions import PROVINCE_CODE, city_code_of, region_level
from aidservice.services.standing.standing import with_levels

LEVELS = ("special", "difficult", "general", "none")


class Crumb(TypedDict):
    code: str
    name: str


class DrillRow(TypedDict):
    """A region or school under the one shown: students, standings by level, those without a standing."""

    kind: Literal["region", "school"]
    code: str
    name: str
    students: int
    levels: dict[str, int]
    undetermined: int


class Drilldown(TypedDict):
    code: str
    name: str
    level: str
    child_kind: Literal["region", "school"]
    trail: list[Crumb]  # from the actor's own region (or the province) down to this region's parent
    rows: list[DrillRow]


def top_region(actor: Actor) -> str:
    """Where the caller's drill-down starts: their region (administrators) or the province (auditors)."""
    if actor.kind == "user" and actor.is_admin and actor.region_code:
        return actor.region_code
    if actor.kind == "user" and actor.is_auditor:
        return PROVINCE_CODE
    raise Forbidden("The regions' drill-down is for administrators and auditors.")


def drilldown(session: Session, *, actor: Actor, code: str, school_year: str) -> Drilldown:
    """The region `code` with its next level's rows (the caller's scope checked first)."""
    top = top_region(actor)
    if not actor.reaches_region(code):
        raise Forbidden(f"Region {code} is outside your scope.")
    region = session.get(Region, code)
    if region is None:
        raise NotFound(f"No region {code}.")
    level = region_level(code)
    rows = (
        _school_rows(session, code, school_year)
        if level == "county"
        else _region_rows(session, code, school_year)
    )
    return {
        "code": code,
        "name": region.name,
        "level": level,
        "child_kind": "school" if level == "county" else "region",
        "trail": _trail(session, top, region),
        "rows": rows,
    }


def _trail(session: Session, top: str, region: Region) -> list[Crumb]:
    """The regions above `region` down from `top` (never above the caller's own region)."""
    crumbs: list[Crumb] = []
    current = region
    while current.code != top and current.parent_code:
        parent = session.get(Region, current.parent_code)
        if parent is None:
            break
        crumbs.append({"code": parent.code, "name": parent.name})
        current = parent
    return list(reversed(crumbs))


def _counts(session: Session, code: str, school_year: str, key: str) -> dict[str, dict[str, int]]:
    """Per school or per school region (`key`): students by standing level ('' for none yet)."""
    column = School.code if key == "school" else School.region_code
    region: Any = School.region_code  # a column of the mapped class (what `in_region` takes)
    students = (
        select(Student.id).join(School, School.code == Student.school_code).where(in_region(region, code))
    )
    levels = with_levels(students, school_year)
    query = levels.query.with_only_columns(
        column, levels.level, func.count(), maintain_column_froms=True
    ).group_by(column, levels.level)
    counts: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for unit, level, n in session.execute(query):
        counts[unit][level or ""] += n
    return counts


def _row(kind: Literal["region", "school"], code: str, name: str, counts: dict[str, int]) -> DrillRow:
    return {
        "kind": kind,
        "code": code,
        "name": name,
        "students": sum(counts.values()),
        "levels": {level: counts.get(level, 0) for level in LEVELS},
        "undetermined": counts.get("", 0),
    }


def _region_rows(session: Session, code: str, school_year: str) -> list[DrillRow]:
    """The province by city, a city by county: every known child region gets a row, with students or not."""
    children = session.execute(
        select(Region.code, Region.name).where(Region.parent_code == code).order_by(Region.code)
    ).all()
    by_child: dict[str, dict[str, int]] = {child: defaultdict(int) for child, _name in children}
    city = region_level(code) == "province"
    for region_code, levels in _counts(session, code, school_year, "region").items():
        child = city_code_of(region_code) if city else region_code
        if child == code or child not in by_child:
            continue  # a school placed on the region itself has no child row to sit in
        for level, n in levels.items():
            by_child[child][level] += n
    return [_row("region", child, name, by_child[child]) for child, name in children]


def _school_rows(session: Session, code: str, school_year: str) -> list[DrillRow]:
    """A county by school."""
    schools = session.execute(
        select(School.code, School.name).where(School.region_code == code).order_by(School.code)
    ).all()
    counts = _counts(session, code, school_year, "school")
    return [_row("school", school, name, counts.get(school, {})) for school, name in schools]
