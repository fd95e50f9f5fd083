"""The lists' search text and special-group filter as SQL conditions.

Search text matches a name (contains), a student number (starts with), a class (contains), a masked number as
lists show it (320102***********1), and, for a school's own aid officer only, the last 4 or 6 characters of the
ID number through their keyed digests (students.id_tail4 / id_tail6, `IdVault.tail_digest`).

Why only the school's officer: they may already read each full number of their school (POST .../id-number,
audited), so a tail search shows them nothing new. For anybody else the tail would add the three sequence
digits to the region and check character every list shows, and leave only the birth date to guess against the
budgeted full-number lookup (tests/security/test_id_oracle.py): administrators search by name or number and
use "按身份证号查找" for a number. A 4- or 6-digit text is still searched as a student number for them.
"""

from __future__ import annotations

import re
from datetime import date

from sqlalchemy import ColumnElement, and_, or_, select

from aidservice.models import AgencyRecord, Guardian, Student
from aidservice.services.actors import Actor
from aidservice.services.context import Settings

TAIL = re.compile(r"^(\d{3}|\d{5})[\dXx]$")
MASKED = re.compile(r"^\d{6}\*{11}[\dX]$")


def may_search_tails(actor: Actor) -> bool:
    """Only the aid officer of a school (whose scope is that school): see the module's note."""
    return actor.kind == "user" and actor.role == "school_officer" and bool(actor.school_code)


def text_condition(actor: Actor, settings: Settings, text: str) -> ColumnElement[bool]:
    """Name, student number, class, masked number, and (school officers) the last 4 or 6 characters."""
    if MASKED.fullmatch(text.upper()):
        return Student.id_mask == text.upper()
    conditions = [
        Student.name.contains(text, autoescape=True),
        Student.student_id.istartswith(text, autoescape=True),
        Student.class_name.contains(text, autoescape=True),
    ]
    if TAIL.fullmatch(text) and may_search_tails(actor):
        column = Student.id_tail4 if len(text) == 4 else Student.id_tail6
        conditions.append(column == settings.ids.tail_digest(text))
    return or_(*conditions)


def group_condition(settings: Settings, group: str, today: date) -> ColumnElement[bool]:
    """The student is reached by a current agency record of the group's status valid today: a household status
    through the student's or a guardian's number, a personal one through the student's own."""
    valid = and_(
        AgencyRecord.status == group,
        AgencyRecord.superseded_by.is_(None),
        or_(AgencyRecord.valid_from.is_(None), AgencyRecord.valid_from <= today),
        or_(AgencyRecord.valid_to.is_(None), AgencyRecord.valid_to > today),
    )
    # uncorrelated IN subqueries: each is read once per query, not once per student (bench/lists_bench.py)
    reached = select(AgencyRecord.person_hmac).where(valid)
    own = Student.id_hmac.in_(reached)
    if group not in settings.rules.vocabulary.household_statuses:
        return own
    through_guardian = Student.id.in_(
        select(Guardian.student_pk)
        .join(AgencyRecord, AgencyRecord.person_hmac == Guardian.id_hmac)
        .where(valid)
    )
    return or_(own, through_guardian)
