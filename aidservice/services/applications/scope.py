"""Who reads and who acts on a school's applications (and the records made from them).

A school officer creates and acts on the applications of their own school only (the system too, for CLI
jobs). Administrators read the applications of their region and auditors all of them, but neither acts:
identification is the school's procedure (its review group and aid office), administrators set quotas and
oversee. Agency clients never reach applications. A reader of the school who may not act is told why (403);
anyone else is told the record does not exist in their scope (404, see hidden).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Row

from aidservice.models import School
from aidservice.services.actors import ADMIN_ROLES, Actor
from aidservice.services.errors import Forbidden
from aidservice.services.hidden import may_read, not_found


def may_act(actor: Actor, school: School) -> bool:
    """Only the school's own officer (or the system, for CLI jobs) acts on its applications."""
    if actor.kind == "system":
        return True
    return actor.kind == "user" and actor.role == "school_officer" and actor.school_code == school.code


def check_read(actor: Actor, school: School | Row[Any], what: str) -> None:
    if not may_read(actor, school):
        raise Forbidden(f"{what} belongs to a school outside your scope.")


def check_act(actor: Actor, school: School, what: str, kind: str) -> None:
    """The school's officer acts; a reader of the school is told why not (403); anyone else is told the `kind`
    of record does not exist in their scope (404, see hidden)."""
    if may_act(actor, school):
        return
    if actor.kind == "user" and actor.role in (*ADMIN_ROLES, "auditor") and may_read(actor, school):
        raise Forbidden(f"Only the school's aid officer acts on {what}; your role ({actor.role}) reads it.")
    raise not_found(kind)
