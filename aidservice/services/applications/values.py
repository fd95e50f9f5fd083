"""Values the applications area passes around, and the units it keeps them in: the clock (UTC), money (fen
in the database, two-place yuan strings in views), hashes, school years, and the steps an officer takes (the
procedure's actions, reassessment beyond them, and the request that names one).

Below every other module of the area but `procedure`: any of them may import it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from aidservice.engine.result import fen_to_yuan
from aidservice.schoolyear import parse_school_year
from aidservice.services.applications.procedure import REASON_REQUIRED, TRANSITIONS, allowed_actions

EXTRA_ACTIONS: dict[str, tuple[str, ...]] = {"reassess": ("approved",)}
"""Actions outside the identification procedure's state machine: an approved application is reassessed
(spring re-identification, a new agency record) and stays approved; its decisions are superseded."""
ACTIONS = (*TRANSITIONS, *EXTRA_ACTIONS)
NEEDS_REASON = frozenset(REASON_REQUIRED | set(EXTRA_ACTIONS))
RESOLUTIONS = ("upheld", "dismissed")
NOTE_MAX = 2000


def now() -> datetime:
    return datetime.now(UTC)


def aware(moment: datetime) -> datetime:
    """SQLite hands back naive datetimes; everything stored is UTC."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def yuan(fen: int | None) -> str | None:
    amount = fen_to_yuan(fen)
    return None if amount is None else f"{amount:.2f}"


def fen(amount: str | None) -> int | None:
    return None if amount is None else int(Decimal(str(amount)).scaleb(2))


def sha256_text(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def actions_allowed(state: str) -> list[str]:
    """What can be done next: the procedure's actions, and reassessment once approved."""
    return allowed_actions(state) + [a for a, states in EXTRA_ACTIONS.items() if state in states]


def school_year_errors(school_year: object) -> list[str]:
    try:
        parse_school_year(str(school_year))
    except ValueError as exc:
        return [str(exc)]
    return []


@dataclass(frozen=True, slots=True)
class ActionRequest:
    action: str
    version: int
    note: str = ""
    level: str | None = None
    outcome: str | None = None
