"""What a school prints on its notices: the phone for objections (监督电话) and the sign-off (落款).

Set by the school's aid officer or an administrator whose region holds the school; auditors and others read
them (on the notices). Audited (`notice.settings`) with the values before and after.
"""

from __future__ import annotations

import re
from typing import TypedDict

from sqlalchemy import select
from sqlalchemy.orm import Session

from aidservice.models import NoticeSettings, School
from aidservice.services import audit
from aidservice.services.actors import ADMIN_ROLES, Actor, region_prefix
from aidservice.services.applications.notices import default_signoff
from aidservice.services.applications.scope import may_act
from aidservice.services.errors import Forbidden, ValidationFailed
from aidservice.services.hidden import may_read, not_found
from aidservice.services.plaintext import name_problem

PHONE = re.compile(r"1[3-9]\d{9}|0\d{2,3}-?\d{7,8}(-\d{1,6})?|\d{7,8}")
"""A mobile number (11 digits), a landline with its area code (and an extension), or a local landline."""
SIGNOFF_MAX = 60
SIGNOFF_MIN = 2


class NoticeSettingsView(TypedDict):
    school_code: str
    school_name: str
    contact_phone: str
    signoff: str
    default_signoff: str
    editable: bool


def may_edit(actor: Actor, school: School) -> bool:
    """The school's officer, or an administrator whose region holds the school."""
    if may_act(actor, school):
        return True
    return actor.kind == "user" and actor.role in ADMIN_ROLES and may_read(actor, school)


def _school(session: Session, actor: Actor, school_code: str) -> School:
    school = session.get(School, school_code)
    if school is None or not may_read(actor, school):
        raise not_found("school")
    return school


def _view(session: Session, actor: Actor, school: School) -> NoticeSettingsView:
    stored = session.get(NoticeSettings, school.code)
    return {
        "school_code": school.code,
        "school_name": school.name,
        "contact_phone": stored.contact_phone if stored else "",
        "signoff": stored.signoff if stored else "",
        "default_signoff": default_signoff(school.name),
        "editable": may_edit(actor, school),
    }


def get_settings(session: Session, *, actor: Actor, school_code: str) -> NoticeSettingsView:
    return _view(session, actor, _school(session, actor, school_code))


def settings_errors(contact_phone: str, signoff: str) -> dict[str, list[str]]:
    """Field errors of the values (empty: none): empty values are allowed (nothing printed, the default)."""
    errors: dict[str, list[str]] = {}
    if contact_phone and not PHONE.fullmatch(contact_phone):
        errors["contact_phone"] = [
            "must be a mobile number (11 digits), a landline with its area code such as 025-83456789 "
            "(an extension after a hyphen), or a local number of 7 or 8 digits"
        ]
    if signoff:
        if not SIGNOFF_MIN <= len(signoff) <= SIGNOFF_MAX:
            errors["signoff"] = [f"between {SIGNOFF_MIN} and {SIGNOFF_MAX} characters"]
        elif (problem := name_problem(signoff)) is not None:
            errors["signoff"] = [problem]
    return errors


def update_settings(
    session: Session,
    *,
    actor: Actor,
    school_code: str,
    contact_phone: str,
    signoff: str,
    request_id: str | None,
) -> NoticeSettingsView:
    """Set the school's notice phone and sign-off (empty: none, the default sign-off); 422 naming bad fields."""
    school = _school(session, actor, school_code)
    if not may_edit(actor, school):
        raise Forbidden(
            "Only the school's aid officer or an administrator of its region sets what its notices print."
        )
    contact_phone, signoff = contact_phone.strip(), signoff.strip()
    if errors := settings_errors(contact_phone, signoff):
        raise ValidationFailed(errors)
    stored = session.get(NoticeSettings, school.code)
    before = {"contact_phone": stored.contact_phone, "signoff": stored.signoff} if stored else None
    if stored is None:
        stored = NoticeSettings(school_code=school.code, updated_by=actor.label)
        session.add(stored)
    after = {"contact_phone": contact_phone, "signoff": signoff}
    if before != after:
        stored.contact_phone, stored.signoff, stored.updated_by = contact_phone, signoff, actor.label
        session.flush()
        audit.record(
            session,
            actor=actor,
            action="notice.settings",
            subject=f"school:{school.code}",
            summary={"before": before, "after": after},
            request_id=request_id,
        )
    return _view(session, actor, school)


class SchoolChoice(TypedDict):
    code: str
    name: str


def schools_in_scope(session: Session, *, actor: Actor) -> list[SchoolChoice]:
    """The schools whose notices the caller reads: an officer's own, an administrator's region, all for
    auditors; none for anyone else."""
    if actor.kind != "user" or actor.role is None:
        return []
    query = select(School.code, School.name, School.region_code).order_by(School.code)
    if actor.role == "school_officer":
        query = query.where(School.code == actor.school_code)
    elif actor.role in ADMIN_ROLES and actor.region_code:
        query = query.where(School.region_code.startswith(region_prefix(actor.region_code)))
    return [
        {"code": code, "name": name}
        for code, name, region in session.execute(query).all()
        if actor.reaches_school(code, region)
    ]
