"""What the roster's use cases (`roster`, one school or student at a time) and the import (`roster_upsert`)
share: the stage and grade checks against the rules, the audit view of a student, the re-evaluation of the
students a change touched, the answer to a concurrent change, and IN lists in bounded chunks.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

from sqlalchemy.orm import Session

from aidservice.identity import mask
from aidservice.services.actors import Actor
from aidservice.services.context import Settings
from aidservice.services.determinations.students import redetermine_students
from aidservice.services.errors import Conflict
from aidservice.services.roster.roster_schema import STUDENT_FIELDS

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


def audit_view(values: Mapping[str, Any], guardians: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """A student as the audit trail records it: ID numbers masked, names cut to their first character."""
    return {
        "id_number": mask(values["id_number"]),
        "name": mask_name(values["name"]),
        **{name: values[name] for name in STUDENT_FIELDS[2:]},
        "guardians": sorted(
            (
                {"id_number": mask(g["id_number"]), "name": mask_name(g["name"]), "relation": g["relation"]}
                for g in guardians
            ),
            key=lambda g: (g["id_number"], g["relation"]),
        ),
    }
