"""Regions by division code: the province and its 13 cities come with migration 0003, counties are added here."""

from __future__ import annotations

import re

from sqlalchemy.orm import Session

from aidservice.models import Region
from aidservice.services import audit
from aidservice.services.actors import Actor
from aidservice.services.errors import ValidationFailed
from aidservice.services.plaintext import name_problem

PROVINCE_CODE = "320000"
DIVISION_CODE = re.compile(r"^\d{6}$")
NAME_MAX = 64


def region_level(code: str) -> str:
    """province (xx0000), city (xxxx00) or county, from the shape of the code alone."""
    if code.endswith("0000"):
        return "province"
    if code.endswith("00"):
        return "city"
    return "county"


def city_code_of(region_code: str) -> str:
    """The prefecture city a county or city code belongs to (what the rules read as `city_code`)."""
    return region_code[:4] + "00"


def check_code(code: object, field: str = "region_code") -> str:
    """A 6-digit Jiangsu division code, or ValidationFailed naming `field`."""
    if not isinstance(code, str) or not DIVISION_CODE.fullmatch(code):
        raise ValidationFailed({field: ["must be a 6-digit division code"]})
    if not code.startswith(PROVINCE_CODE[:2]):
        raise ValidationFailed({field: [f"must be a Jiangsu division code ({PROVINCE_CODE[:2]}xxxx)"]})
    return code


def ensure_county(
    session: Session,
    code: str,
    name: str | None = None,
    *,
    actor: Actor | None = None,
    request_id: str | None = None,
    field: str = "region_code",
) -> Region:
    """The county `code`, added under its city when not yet known, so schools can be placed in new counties.

    The city (`code[:4] + "00"`) must exist. Without a name the code stands in for it until an
    administrator names it (`aid regions add CODE NAME` renames such a county). Audited; the
    caller commits.
    """
    check_code(code, field)
    if region_level(code) != "county":
        raise ValidationFailed({field: ["must be a county-level code (not ending in 00)"]})
    clean_name = (name or "").strip()
    if len(clean_name) > NAME_MAX:
        raise ValidationFailed({"name": [f"must be at most {NAME_MAX} characters"]})
    if (problem := name_problem(clean_name)) is not None:
        raise ValidationFailed({"name": [problem]})
    who = actor or Actor.system()
    existing = session.get(Region, code)
    if existing is not None:
        if clean_name and existing.name != clean_name:
            before = existing.name
            existing.name = clean_name
            audit.record(
                session,
                actor=who,
                action="region.rename",
                subject=f"region:{code}",
                summary={"before": {"name": before}, "after": {"name": clean_name}},
                request_id=request_id,
            )
        return existing
    city = session.get(Region, city_code_of(code))
    if city is None or city.level != "city":
        raise ValidationFailed({field: [f"its city {city_code_of(code)} is not a known prefecture city"]})
    county = Region(code=code, name=clean_name or code, level="county", parent_code=city.code)
    session.add(county)
    session.flush()
    audit.record(
        session,
        actor=who,
        action="region.create",
        subject=f"region:{code}",
        summary={"after": {"name": county.name, "level": "county", "parent_code": city.code}},
        request_id=request_id,
    )
    return county


def resolve_region(
    session: Session,
    code: str,
    *,
    actor: Actor | None = None,
    request_id: str | None = None,
    field: str = "region_code",
) -> Region:
    """An existing region, or a county added on the fly; unknown cities and the province's other codes are errors."""
    check_code(code, field)
    region = session.get(Region, code)
    if region is not None:
        return region
    if region_level(code) != "county":
        raise ValidationFailed({field: [f"unknown region {code}"]})
    return ensure_county(session, code, actor=actor, request_id=request_id, field=field)
