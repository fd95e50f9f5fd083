"""The roster's typed views name their keys one by one: they must keep up with the payload's fields."""

from __future__ import annotations

from aidservice.services.roster.roster import SCHOOL_RULE_FIELDS, SchoolView, StudentView
from aidservice.services.roster.roster_schema import BOOL_FIELDS, STUDENT_FIELDS


def test_student_view_shows_every_field_of_the_payload() -> None:
    assert set(STUDENT_FIELDS) | set(BOOL_FIELDS) <= StudentView.__required_keys__


def test_school_rule_fields_are_fields_of_the_school_view() -> None:
    assert set(SCHOOL_RULE_FIELDS) <= SchoolView.__required_keys__
