"""What the roster's use cases (`roster`, one school or student at a time) and the import (`roster_upsert`)
share: the stage and grade checks against the rules, the audit view of a student, the re-evaluation of the
students a change touched, the answer to a concurrent change, and IN lists in bounded chunks.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import date
from typing import Any

from sqlalchemy.orm import Session

from aidservice.identity import mask
from aidservice.services.actors import Actor
from aidservice.services.context import Settings
from aidservice.services.determinations.students import redetermine_students
from aidservice.services.errors import Conflict
from aidservice.services.roster.roster_schema import STUDENT_FIELDS
from aidservice.services.vocabulary import ENROLLED, ON_ROLL, value_of

IN_CHUNK = 2000  # bound parameters per IN list, well inside SQLite's and PostgreSQL's limits


def chunks(items: Sequence[Any], size: int = IN_CHUNK) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def mask_name(name: str) -> str:
    """What the audit trail keeps of a name: the first character."""
    return name[:1] + "*" * max(len(name) - 1, 0)


def redetermine(
    session: Session, *, actor: Actor, settings: Settings, student_pks: Sequence[int], request_id: str | None
) -> None:
    """Re-evaluate the students a roster change touched, in this transaction."""
    if not student_pks:
        return
    redetermine_students(
        session,
        actor=actor,
        settings=settings,
        student_pks=list(student_pks),
        cause="roster",
        request_id=request_id,
    )


def concurrent_change() -> Conflict:
    return Conflict("Another request changed the same records at the same time; send this one again.")


def stage_errors(
    settings: Settings, stage: str, offered: Sequence[str] | None, path: str = "stage"
) -> list[str]:
    """The stage must be one the rules know and (for a student) one the school offers."""
    known = tuple(settings.rules.facts["stage"].values)
    if stage not in known:
        return [f"{stage!r} is not one of {', '.join(known)}"]
    if offered is not None and stage not in offered:
        return [f"the school does not offer {stage} (it offers {', '.join(offered)})"]
    return []


def grade_errors(settings: Settings, grade: int) -> list[str]:
    spec = settings.rules.facts["grade"]
    low, high = spec.min, spec.max
    if (low is not None and grade < low) or (high is not None and grade > high):
        return [f"must be between {low} and {high}"]
    return []


def seed_errors(settings: Settings, data: Mapping[str, Any]) -> dict[str, list[str]]:
    """East–west cooperation (seed item 35) and the enrolment state (item 30), checked against the rules.

    The flag is for vocational students only and needs its origin region; an origin goes with the flag only;
    both origin and state are values of the rules' enum facts; a state other than enrolled needs its date.
    """
    facts = settings.rules.facts
    errors: dict[str, list[str]] = {}
    origin, flagged = data.get("east_west_origin"), data.get("east_west_cooperation", False)
    if flagged and data.get("stage") != "vocational":
        errors["east_west_cooperation"] = [
            "only vocational (中职) students are in the east–west cooperation plan"
        ]
    if flagged and origin is None:
        errors["east_west_origin"] = ["is required for an east–west cooperation student"]
    elif origin is not None and not flagged:
        errors["east_west_origin"] = ["is given only for an east–west cooperation student"]
    elif origin is not None and origin not in facts["east_west_origin"].values:
        errors["east_west_origin"] = [
            f"{origin!r} is not one of {', '.join(facts['east_west_origin'].values)}"
        ]
    state = data.get("enrolment_state", ENROLLED)
    if state not in facts["enrolment_state"].values:
        errors["enrolment_state"] = [f"{state!r} is not one of {', '.join(facts['enrolment_state'].values)}"]
    elif state != ENROLLED and data.get("enrolment_date") is None:
        errors["enrolment_date"] = [f"is required when the enrolment state is {state}"]
    return errors


ENUM_CELLS = ("stage", "east_west_origin", "enrolment_state")
"""Import cells that may hold a Chinese label of the rules' enum fact instead of its value."""


def enum_values(facts: Mapping[str, Any], payload: Mapping[str, Any]) -> Mapping[str, Any]:
    """An import row with its stage, east–west origin and enrolment state cells as values when written as labels."""
    if not any(name in payload for name in ENUM_CELLS):
        return payload
    return {
        **payload,
        **{name: value_of(facts, name, payload[name]) for name in ENUM_CELLS if name in payload},
    }


def on_roll(state: str) -> bool:
    """Whether a record in this state holds its ID number (one such record per number, see vocabulary.ON_ROLL)."""
    return state in ON_ROLL


def audit_view(values: Mapping[str, Any], guardians: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """A student as the audit trail records it: ID numbers masked, names cut to their first character."""
    return {
        "id_number": mask(values["id_number"]),
        "name": mask_name(values["name"]),
        **{name: _plain(values[name]) for name in STUDENT_FIELDS[2:]},
        "guardians": sorted(
            (
                {"id_number": mask(g["id_number"]), "name": mask_name(g["name"]), "relation": g["relation"]}
                for g in guardians
            ),
            key=lambda g: (g["id_number"], g["relation"]),
        ),
    }


def _plain(value: Any) -> Any:
    """A value as the audit trail's JSON holds it (a date as ISO text)."""
    return value.isoformat() if isinstance(value, date) else value
