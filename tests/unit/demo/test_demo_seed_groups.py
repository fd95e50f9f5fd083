"""The demo province has the seed's groups: east–west students, ended enrolments (some transfers enrolled again
elsewhere) and register children on no roster, so the demo's reports show non-empty lines."""

from __future__ import annotations

from collections import Counter
from datetime import date

from aidservice.demo.province import generate
from aidservice.engine import load_rules
from config import REPO_ROOT

RULES = load_rules(REPO_ROOT / "rules")
ORIGINS = RULES.facts["east_west_origin"].values
VOCABULARY = RULES.vocabulary


def test_the_demo_province_has_east_west_students_ended_enrolments_and_unrostered_children() -> None:
    demo = generate(3000, VOCABULARY, 3, date(2020, 9, 1), ORIGINS)
    assert len(demo.students) == 3000
    east_west = [s for s in demo.students if s["east_west_cooperation"]]
    assert east_west and all(
        s["stage"] == "vocational" and s["east_west_origin"] in ORIGINS for s in east_west
    )
    states = Counter(s["enrolment_state"] for s in demo.students)
    assert {"dropped_out", "suspended", "transferred"} <= set(states) and states["enrolled"] > 2500
    ended = [s for s in demo.students if s["enrolment_state"] != "enrolled"]
    assert all(s["stage"] in ("primary", "junior") and s["enrolment_date"] for s in ended)
    enrolled_numbers = Counter(s["id_number"] for s in demo.students if s["enrolment_state"] == "enrolled")
    assert max(enrolled_numbers.values()) == 1, "one enrolled record per person"
    transferred = {s["id_number"] for s in demo.students if s["enrolment_state"] == "transferred"}
    assert transferred & set(enrolled_numbers), "some transfers enrolled again in another school"
    rostered = {s["id_number"] for s in demo.students}
    children = [
        r
        for items in demo.records.values()
        for r in items
        if r["id_number"] not in rostered and r["name"] == "未入学儿童"
    ]
    ages = {2020 - int(r["id_number"][6:10]) for r in children}
    assert len(children) >= 3 and sum(6 <= a <= 15 for a in ages) >= 3


def test_without_origins_there_are_no_east_west_students_and_the_rest_is_unchanged() -> None:
    plain, labelled = generate(400, VOCABULARY, 5), generate(400, VOCABULARY, 5, date(2020, 9, 1), ORIGINS)
    assert not any(s["east_west_cooperation"] for s in plain.students)
    strip = ("east_west_cooperation", "east_west_origin")
    assert [{k: v for k, v in s.items() if k not in strip} for s in plain.students] == [
        {k: v for k, v in s.items() if k not in strip} for s in labelled.students
    ]
