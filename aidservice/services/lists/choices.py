"""The choices of the list pages' region and school filters: the regions and schools of the caller's scope, by
name (administrators: their region and what lies under it; auditors: the province; school officers: none, their
list is their school's). A chosen region narrows the schools offered to its own."""

from __future__ import annotations

from typing import Any, TypedDict

from sqlalchemy import select
from sqlalchemy.orm import Session

from aidservice.models import Region, School
from aidservice.services.actors import Actor, in_region
from aidservice.services.regions import region_level

SCHOOLS_MAX = 500
"""At most this many schools offered at once (a province has thousands: choose a region first)."""


class RegionChoice(TypedDict):
    code: str
    name: str
    level: str  # province | city | county


class SchoolChoice(TypedDict):
    code: str
    name: str
    region_code: str


class FilterChoices(TypedDict):
    regions: list[RegionChoice]
    schools: list[SchoolChoice]
    more_schools: bool  # more schools than offered: the region filter narrows them


def _top(actor: Actor) -> str | None:
    """The region under which the caller reads: theirs, '' for the whole province (auditors), None: none."""
    if actor.kind != "user":
        return None
    if actor.is_auditor:
        return ""
    if actor.is_admin and actor.region_code:
        return actor.region_code
    return None


def region_choices(session: Session, *, actor: Actor) -> list[RegionChoice]:
    """The cities and counties under the caller's region (all of the province's for auditors), by code."""
    top = _top(actor)
    if top is None:
        return []
    region_code: Any = Region.code
    regions = select(Region.code, Region.name).order_by(Region.code)
    if top:
        regions = regions.where(in_region(region_code, top))
    found: list[RegionChoice] = [
        {"code": code, "name": name, "level": region_level(code)} for code, name in session.execute(regions)
    ]
    return [r for r in found if r["level"] != "province"]


def filter_choices(session: Session, *, actor: Actor, region: str | None) -> FilterChoices:
    """The regions (cities and counties) and schools the caller may filter the lists by."""
    top = _top(actor)
    if top is None:
        return {"regions": [], "schools": [], "more_schools": False}
    school_region: Any = School.region_code
    schools = select(School.code, School.name, School.region_code).order_by(School.region_code, School.code)
    if top:
        schools = schools.where(in_region(school_region, top))
    if region:
        schools = schools.where(in_region(school_region, region))
    rows = session.execute(schools.limit(SCHOOLS_MAX + 1)).all()
    return {
        "regions": region_choices(session, actor=actor),
        "schools": [{"code": c, "name": n, "region_code": rc} for c, n, rc in rows[:SCHOOLS_MAX]],
        "more_schools": len(rows) > SCHOOLS_MAX,
    }


def stages_taught(session: Session, *, actor: Actor, limit: int = 2000) -> set[str]:
    """The stages the schools of the caller's scope teach (from at most `limit` schools): a page's default."""
    top = _top(actor)
    if top is None:
        return set()
    school_region: Any = School.region_code
    query = select(School.stages).limit(limit)
    if top:
        query = query.where(in_region(school_region, top))
    return {stage for stages in session.scalars(query) for stage in (stages or [])}
