"""The seed's groups in the demo province (fact sheet §3a): east–west cooperation students (item 35), enrolments
that ended (item 30: dropped out, suspended, transferred; some transfers enrolled again in another school) and a
few children in the agencies' special-group registers who are on no roster, so that `make run` shows non-empty
east–west lines and dropout-control lists.

Drawn from a random stream of its own, so the rest of the province is the same as without it. The partner
regions come from the caller (the loaded rules' `east_west_origin` values), never from a list here.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from datetime import date, timedelta
from typing import Any

from aidservice.engine.vocabulary import Vocabulary
from aidservice.services.vocabulary import DROPPED_OUT, ENROLLED, SUSPENDED, TRANSFERRED

EAST_WEST_SHARE = 0.08  # of vocational students
ENDED_SHARE_SPECIAL = 0.12  # of compulsory-stage students an agency register reaches
ENDED_SHARE_OTHER = 0.01
REENROLLED_EVERY = 2  # every second transfer enrolled again in another school (the report must not list it)


def add_seed_groups(
    students: list[dict[str, Any]],
    records: dict[str, list[dict[str, Any]]],
    schools: Sequence[dict[str, Any]],
    take_id: Callable[[str, date], str],
    *,
    seed: int,
    origins: Sequence[str],
    start: date,
    vocabulary: Vocabulary,
) -> None:
    """Give every student the seed's roster fields, some of them east–west or ended, and add unmatched children."""
    rnd = random.Random(f"seed-groups/{seed}")
    pick = random.Random(f"east-west/{seed}")  # a stream of its own: the rest does not depend on `origins`
    listed = {r["id_number"] for items in records.values() for r in items}
    by_stage: dict[str, list[dict[str, Any]]] = {}
    for school in schools:
        for stage in school["stages"]:
            by_stage.setdefault(stage, []).append(school)
    moved: list[dict[str, Any]] = []
    transfers = 0
    autumn = date(start.year if start.month >= 9 else start.year - 1, 9, 1)  # ended in the autumn semester
    for student in students:
        student.update(
            east_west_cooperation=False, east_west_origin=None, enrolment_state=ENROLLED, enrolment_date=None
        )
        stage = student["stage"]
        if stage == "vocational" and origins and pick.random() < EAST_WEST_SHARE:
            student.update(east_west_cooperation=True, east_west_origin=pick.choice(list(origins)))
        if stage not in ("primary", "junior"):
            continue
        reached = student["id_number"] in listed or any(
            g["id_number"] in listed for g in student["guardians"]
        )
        if rnd.random() >= (ENDED_SHARE_SPECIAL if reached else ENDED_SHARE_OTHER):
            continue
        state = rnd.choice((DROPPED_OUT, SUSPENDED, TRANSFERRED))
        student.update(enrolment_state=state, enrolment_date=autumn + timedelta(days=rnd.randrange(20, 140)))
        others = [s for s in by_stage.get(stage, []) if s["code"] != student["school_code"]]
        transfers += state == TRANSFERRED
        if state == TRANSFERRED and others and transfers % REENROLLED_EVERY == 1:
            school = rnd.choice(others)
            moved.append(
                {
                    **student,
                    "student_id": student["student_id"] + "T",
                    "school_code": school["code"],
                    "guardians": [dict(g) for g in student["guardians"]],
                    "enrolment_state": ENROLLED,
                    "enrolment_date": student["enrolment_date"],
                }
            )
    if moved:  # the province keeps its size: the last plain students make room for the new enrolments
        spare = [i for i, s in enumerate(students) if s["enrolment_state"] == ENROLLED][-len(moved) :]
        for index in reversed(spare):
            del students[index]
        students.extend(moved)
    kinds = [
        (status.source, status.name)
        for status in vocabulary.statuses.values()
        if status.name in vocabulary.group_statuses and not any(a.required for a in status.attributes)
    ]
    if kinds:
        _unmatched_children(records, schools, take_id, rnd, start, max(3, len(students) // 400), kinds)


def _unmatched_children(
    records: dict[str, list[dict[str, Any]]],
    schools: Sequence[dict[str, Any]],
    take_id: Callable[[str, date], str],
    rnd: random.Random,
    start: date,
    count: int,
    kinds: Sequence[tuple[str, str]],
) -> None:
    """Children aged about 6 to 15 whom a register lists and no roster holds (and a few just outside those ages),
    each with a special-group status of the rules (`kinds`: (source, status) pairs)."""
    counties = sorted({s["region_code"] for s in schools})
    for n in range(count):
        years = 5 + (n * 7) % 13  # 5 to 17, spread: the ones of 5, 16 and 17 are not listed
        birth = date(start.year - years, 1, 1) + timedelta(days=rnd.randrange(365))
        source, status = kinds[n % len(kinds)]
        records.setdefault(source, []).append(
            {
                "id_number": take_id(rnd.choice(counties), birth),
                "name": "未入学儿童",
                "status": status,
                "valid_from": date(start.year - 1, 1, 1).isoformat(),
                "valid_to": None,
                "attributes": {},
            }
        )
