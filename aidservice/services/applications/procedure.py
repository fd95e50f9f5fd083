"""The identification procedure as pure rules: the state machine, notice working days, instalments and
quota allocation (in the order the rule set's `procedure.quota_order` gives). No database here; services
apply these to rows.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from aidservice.engine.result import LEVELS

# action -> (states it is allowed from, state it leads to)
TRANSITIONS: dict[str, tuple[tuple[str, ...], str]] = {
    "review": (("submitted",), "reviewed"),
    "publish_notice": (("reviewed",), "notice"),
    "object": (("notice",), "objected"),
    "resolve": (("objected",), "notice"),
    "approve": (("notice",), "approved"),
    "reject": (("submitted", "reviewed", "notice", "objected"), "rejected"),
}
REASON_REQUIRED = frozenset({"object", "resolve", "reject"})


class IllegalTransition(ValueError):
    """An action that the application's current state does not allow."""

    def __init__(self, action: str, state: str) -> None:
        self.action, self.state = action, state
        self.allowed = allowed_actions(state)
        super().__init__(
            f"'{action}' is not allowed while the application is {state}; allowed: {', '.join(self.allowed) or 'none'}"
        )


def allowed_actions(state: str) -> list[str]:
    """The actions that can be taken from a state, in procedure order."""
    return [action for action, (sources, _target) in TRANSITIONS.items() if state in sources]


def next_state(state: str, action: str) -> str:
    """The state after `action`, or IllegalTransition naming the allowed actions."""
    rule = TRANSITIONS.get(action)
    if rule is None or state not in rule[0]:
        raise IllegalTransition(action, state)
    return rule[1]


def add_working_days(start: date, days: int, holidays: Iterable[date] = ()) -> date:
    """The last day of a period of `days` working days beginning on `start` (or the next working day).

    Weekends and the configured holidays do not count.
    """
    off = set(holidays)
    counted, day = 0, start
    while True:
        if day.weekday() < 5 and day not in off:
            counted += 1
            if counted == days:
                return day
        day += timedelta(days=1)


@dataclass(frozen=True, slots=True)
class Instalment:
    period: str  # "2020-2021-autumn", "2020-2021-spring", "2020-2021-m01"
    due: date
    amount_fen: int


def instalments(school_year: str, payment: str, amount_fen: int | None) -> list[Instalment]:
    """How an award is paid: half per semester, 10 monthly payments, or nothing (loans, unknown amounts)."""
    if amount_fen is None or payment == "none":
        return []
    first = int(school_year[:4])
    if payment == "monthly_10":
        months = [date(first, m, 1) for m in range(9, 13)] + [
            date(first + 1, m, 1) for m in (1, 3, 4, 5, 6, 7)
        ]
        return _split(amount_fen, [(f"{school_year}-m{i + 1:02d}", due) for i, due in enumerate(months)])
    return _split(
        amount_fen,
        [(f"{school_year}-autumn", date(first, 9, 1)), (f"{school_year}-spring", date(first + 1, 3, 1))],
    )


def _split(amount_fen: int, periods: Sequence[tuple[str, date]]) -> list[Instalment]:
    """Equal parts in whole fen; any remainder goes to the first instalments so the parts add up exactly."""
    base, extra = divmod(amount_fen, len(periods))
    return [Instalment(p, due, base + (1 if i < extra else 0)) for i, (p, due) in enumerate(periods)]


@dataclass(frozen=True, slots=True)
class Candidate:
    """An application competing for a capped program."""

    application_id: int
    special: bool
    level: str
    per_capita_income_fen: int | None
    submitted_at: datetime


@dataclass(frozen=True, slots=True)
class Allocation:
    application_id: int
    rank: int
    of: int
    places: int
    funded: bool
    special: bool
    explanation: str


def _sort_part(c: Candidate, key: str) -> tuple:
    """One sort key of the rule set's `procedure.quota_order` (engine.model.QUOTA_SORT_KEYS)."""
    if key == "special_group":
        return (0 if c.special else 1,)
    if key == "level":
        return (-LEVELS.index(c.level),)
    if key == "per_capita_income":  # lower first, unknown last
        return (c.per_capita_income_fen is None, c.per_capita_income_fen or 0)
    if key == "applied_at":
        return (c.submitted_at,)
    raise ValueError(f"unknown quota sort key {key!r}")  # the loader refuses it first


def allocation_key(c: Candidate, order: Sequence[str]) -> tuple:
    """The rule set's order (`procedure.quota_order`, e.g. special groups, level, lower income, earlier
    application); ties end on the application id so the ranking is total."""
    return (*(part for key in order for part in _sort_part(c, key)), c.application_id)


def allocate(candidates: Sequence[Candidate], places: int, *, order: Sequence[str]) -> list[Allocation]:
    """Rank candidates by `order` (the rule set's quota order) and fund them within `places`; special-group
    students are always funded (a shortfall is reported, never absorbed by cutting them). Deterministic for
    the same candidates."""
    ordered = sorted(candidates, key=lambda c: allocation_key(c, order))
    out = []
    for rank, c in enumerate(ordered, start=1):
        funded = c.special or rank <= places
        if c.special and rank > places:
            why = f"funded: special group, rank {rank} of {len(ordered)} beyond quota {places} (shortfall reported)"
        elif funded:
            why = f"funded: rank {rank} of {len(ordered)} within quota {places}"
        else:
            why = f"not funded: rank {rank} of {len(ordered)} beyond quota {places}"
        out.append(Allocation(c.application_id, rank, len(ordered), places, funded, c.special, why))
    return out
