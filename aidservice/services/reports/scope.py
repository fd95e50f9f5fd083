"""The region a report covers (the province, a city, a county or one school) and who may read it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, true
from sqlalchemy.orm import Session

from aidservice.models import Region, School
from aidservice.services.actors import Actor
from aidservice.services.errors import Forbidden, ValidationFailed


@dataclass(frozen=True, slots=True)
class Scope:
    """The region a report covers: the province, a city, a county or one school."""

    code: str
    level: str  # province | city | county | school
    name: str
    access_region: str  # the region that decides who may read it (a school's county for a school)

    def schools(self) -> ColumnElement[bool]:
        """SQL condition on `schools`: the school lies in this scope."""
        if self.level == "province":
            return true()
        if self.level == "city":
            return School.city_code == self.code
        if self.level == "county":
            return School.region_code == self.code
        return School.code == self.code

    def child(self) -> Any:
        """The column that names the next level down: cities of the province, counties of a city, schools."""
        if self.level == "province":
            return School.city_code
        if self.level == "city":
            return School.region_code
        return School.code

    @property
    def child_level(self) -> str:
        return {"province": "city", "city": "county"}.get(self.level, "school")

    def person_prefix(self) -> str | None:
        """Division-code prefix of people's numbers attributed to this region; None: every number (province)."""
        if self.level == "province":
            return None
        if self.level == "city":
            return self.code[:4]
        if self.level == "county":
            return self.code
        return "-"  # a school: no agency record is attributed to one school

    def as_json(self) -> dict[str, str]:
        return {"code": self.code, "level": self.level, "name": self.name}


def default_region(actor: Actor) -> str:
    """The caller's own scope: their school, their region, or the province."""
    if actor.role == "school_officer" and actor.school_code:
        return actor.school_code
    if actor.is_admin and actor.region_code:
        return actor.region_code
    return "320000"


def resolve_scope(session: Session, actor: Actor, region: str | None) -> Scope:
    """The report's region (default: the caller's scope); 422 when unknown, 403 when outside the caller's scope."""
    if actor.kind == "client":
        raise Forbidden("Reports are for signed-in users, not agency clients.")
    code = (region or "").strip() or default_region(actor)
    row = session.get(Region, code) if code.isdigit() and len(code) == 6 else None
    if row is not None:
        if not actor.reaches_region(code):
            raise Forbidden(f"Region {code} is outside your scope.")
        return Scope(code, row.level, row.name, code)
    school = session.get(School, code) if len(code) <= 32 else None
    if school is None:
        raise ValidationFailed(
            {"region": [f"no region or school {code!r}: use 320000, a city, a county or a school code"]}
        )
    if not actor.reaches_school(school.code, school.region_code):
        raise Forbidden(f"School {code} is outside your scope.")
    return Scope(school.code, "school", school.name, school.region_code)
