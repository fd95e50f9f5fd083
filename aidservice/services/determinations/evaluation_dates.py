"""Which evaluation dates the service accepts: one policy for the API, the CLI and background jobs.

Two rules, checked before any work is done:

1. *Coverage* (policy §0). Every evaluation date lies in the rule set's `coverage: {from, to}`; outside it
   the rules describe nothing and a level would be reached only because parameters had no value. The engine
   refuses such a date too (`OutsideCoverage`); checking here first turns it into a 422 naming `as_of` before
   anything is read or stored.
2. *Re-determination in the current school year.* A re-determination stores current determinations for
   AID_SCHOOL_YEAR, so its date lies in that school year's semesters (autumn from 1 September, spring from
   1 March, until 31 August). `force` (the CLI's `--force`) also accepts an earlier school year, still inside
   coverage, and the caller audits it; a later one is never accepted. A dry run (the what-if) writes nothing
   and is held to coverage only.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy.orm import Session

from aidservice.engine import OutsideCoverage, RuleSet
from aidservice.engine.coverage import require_covered as engine_require_covered
from aidservice.schoolyear import school_year_span
from aidservice.services import audit
from aidservice.services.actors import Actor
from aidservice.services.context import Settings
from aidservice.services.errors import ValidationFailed

FIELD = "as_of"


def require_covered(rules: RuleSet, as_of: date, *, field: str = FIELD) -> date:
    """`as_of` when the rules cover it; else ValidationFailed naming `field`, the date and the coverage."""
    try:
        engine_require_covered(rules.rules, as_of)
    except OutsideCoverage as exc:
        raise ValidationFailed({field: [str(exc)]}) from None
    return as_of


def redetermination_date(
    settings: Settings, rules: RuleSet, as_of: date | None, *, force: bool = False, dry_run: bool = False
) -> date:
    """The checked date of a region re-determination (default: the current semester's first day).

    Inside coverage always; inside AID_SCHOOL_YEAR unless `dry_run`, or `force` and an earlier school year.
    """
    day = require_covered(rules, as_of or settings.default_as_of())
    first, last = school_year_span(settings.school_year)
    if dry_run or first <= day <= last or (force and day < first):
        return day
    where = "after" if day > last else "before"
    hint = "" if day > last else "; an earlier school year needs an explicit --force on the CLI"
    raise ValidationFailed(
        {
            FIELD: [
                f"{day.isoformat()} is {where} the current school year {settings.school_year} "
                f"({first.isoformat()} to {last.isoformat()}){hint}"
            ]
        }
    )


def is_forced(settings: Settings, day: date) -> bool:
    """True when an accepted date lies before the current school year (a run only `force` allows)."""
    return day < school_year_span(settings.school_year)[0]


def record_forced(
    session: Session, *, actor: Actor, settings: Settings, day: date, region: str | None, job_key: str
) -> None:
    """Audit a re-determination that only `force` allowed (a past school year); committed with the run's first chunk."""
    audit.record(
        session,
        actor=actor,
        action="redetermine.forced",
        subject=f"job:{job_key}"[:160],
        summary={
            "region": region,
            "as_of": day.isoformat(),
            "school_year": settings.school_year,
            "reason": "as_of before the current school year, allowed by --force",
        },
    )
