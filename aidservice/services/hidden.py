"""Existence is not disclosed outside the caller's scope (issue 16, "existence probing").

Every route that names one record (`/applications/{id}`, `/decisions/{id}/replay`, `/students/{student_id}`,
`/schools/{code}/notices/{id}`, `/jobs/{id}`, `/reports/archive/{id}`, `/quotas/{school}/{program}/{year}`, and
the web pages of the same records) answers a record outside the caller's scope exactly as one that does not
exist: 404 with the detail `not_found(kind)` gives, which names neither the record nor a reason. A caller whose
role may not use the route at all gets its 403 before anything is looked up, whether the record exists or not.
Lists filtered by a school or region outside the scope keep their 403: the filter names no record.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Row

from aidservice.models import School
from aidservice.services.actors import Actor
from aidservice.services.errors import NotFound


def not_found(kind: str) -> NotFound:
    """The one answer for a `kind` of record that does not exist or lies outside the caller's scope."""
    return NotFound(f"No such {kind} in your scope.")


def may_read(actor: Actor, school: School | Row[Any]) -> bool:
    """Officers their school, administrators their region, auditors all; agency clients never."""
    if actor.kind == "system":
        return True
    return actor.kind == "user" and actor.reaches_school(school.code, school.region_code)


def check_visible(actor: Actor, school: School | Row[Any], kind: str) -> None:
    """404 (`not_found(kind)`) unless the caller may read the school's data."""
    if not may_read(actor, school):
        raise not_found(kind)


__all__ = ["check_visible", "may_read", "not_found"]
