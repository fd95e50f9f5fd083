"""Probes for a full identity number: who may ask "is this number enrolled?", the audit of every answer, and the
per-account budget that stops guessing.

The mask shows a number's region and check character only (aidservice.identity.mask), so whoever can confirm a
guessed full number learns the rest. Two things answer such a guess: the lookup "按身份证号查找" (find a student
by full number) and a save whose number another student record already holds (409). Both go through here:

- Who may look up: a school's aid officer (their own school) and a county administrator (the county's schools:
  transfers and objections between the county's schools are the county bureau's work). City and province
  administrators and auditors search by name, school and masked number: their lookup is refused (403) before
  the number is read, so nothing is learned.
- Every lookup is an audit event (`student.id_number.lookup`: outcome hit, miss or refused, the masked number,
  the channel); every save refused because the number is held elsewhere is one too (`student.id_number.conflict`).
  The summary never holds the plain number.
- A miss (no student with this number in the caller's scope) and a conflict are charged to the account: the
  tenth within an hour locks the account's lookups, and its saves of students, until the next midnight in
  Beijing (429 with Retry-After) and logs one alert line naming the account by id (no number). A hit costs
  nothing: the officer found their own student.

Counts live where the sign-in throttle keeps its own (services.throttle, AID_LOGIN_THROTTLE): the
`login_failures` table under a key of their own (an HMAC with SECRET_KEY of "idprobe:<actor>"), Redis, or the
process's memory. In the table a row's `locked_until` holds the end of the hour while counting (so the sign-in
throttle's pruning keeps it) and the end of the day once locked; `failures` reaching the limit is the lock.
Unlike sign-in, an outage of Redis fails closed for lookups: they answer 503 (a search by name still works);
saves and imports go on (the outage is logged, their conflicts audited but not counted).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta, timezone
from math import ceil
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from aidservice.identity import InvalidIdNumber, id_hmac, mask, normalise_id_number
from aidservice.models import LoginFailure, School, Student
from aidservice.services import audit
from aidservice.services.actors import Actor, in_region
from aidservice.services.context import Settings
from aidservice.services.errors import Conflict, DomainError, Forbidden, ValidationFailed

MAX_MISSES = 10
WINDOW_SECONDS = 60 * 60
BEIJING = timezone(timedelta(hours=8), "Asia/Shanghai")
LOOKUP_ROLES = ("school_officer", "county_admin")
CONFLICT_MESSAGE = "another student record has this identity number"
"""The row message of an import (services.roster) and the field message of a save whose number is taken."""
LOOKUP_ACTION = "student.id_number.lookup"
CONFLICT_ACTION = "student.id_number.conflict"
log = logging.getLogger(__name__)


class LookupsLocked(DomainError):
    """Too many lookups or conflicts without a match today: refused before the number is read (429)."""

    status = 429
    title = "Too many lookups"
    type_suffix = "too-many-requests"

    def __init__(self, retry_after: int) -> None:
        super().__init__(
            "Too many identity-number lookups without a match; try again tomorrow "
            "(search by name, student id or class meanwhile)."
        )
        self.retry_after = max(1, retry_after)
        self.headers = {"Retry-After": str(self.retry_after)}


class LookupForbidden(Forbidden):
    """A role that searches by name and masked number only asked by full number (403, audited)."""


class IdNumberTaken(Conflict):
    """A save whose number another student record holds: a neutral 409 naming no school, city or student."""

    def __init__(self, masked: str) -> None:
        super().__init__(
            "Another student record has this identity number.", {"id_number": [CONFLICT_MESSAGE]}
        )
        self.masked = masked


class LookupsUnavailable(DomainError):
    """The budget cannot be read (Redis down): lookups fail closed (503)."""

    status = 503
    title = "Service unavailable"
    type_suffix = "unavailable"


class ProbeCounter(Protocol):
    """Counts an account's misses; `locked_for` says how many seconds its lock has left (0: not locked)."""

    def locked_for(self, key: str, now: datetime) -> int: ...

    def left(self, key: str, now: datetime) -> int:
        """How many more misses the account may have before the one that locks it (0 while locked)."""
        ...

    def charge(self, key: str, now: datetime) -> int:
        """Count one miss; the seconds of the lock it started (0 when it did not lock)."""
        ...


def seconds_to_beijing_midnight(now: datetime) -> int:
    """Seconds from `now` to the next 00:00 in Beijing (UTC+8, no daylight saving)."""
    local = now.astimezone(BEIJING)
    midnight = datetime.combine(local.date() + timedelta(days=1), time(0), tzinfo=BEIJING)
    return max(1, ceil((midnight - local).total_seconds()))


def account_key(secret: str, actor: Actor) -> str:
    """The counter's key: an HMAC of the account, so the table says nothing about who was counted."""
    who = f"idprobe:{actor.kind}:{actor.id if actor.id is not None else actor.name}"
    return hmac.new(secret.encode(), who.encode(), hashlib.sha256).hexdigest()


# ------------------------------------------------------------------------------------------ backends


@dataclass(slots=True)
class _Tally:
    misses: int
    window_ends: datetime
    locked_until: datetime | None = None


class MemoryProbeCounter:
    """Per process (each worker has its own budget); the test configuration's default."""

    def __init__(self, max_misses: int = MAX_MISSES, window: float = WINDOW_SECONDS) -> None:
        self.max_misses, self.window = max_misses, timedelta(seconds=window)
        self._tallies: dict[str, _Tally] = {}
        self._lock = threading.Lock()

    def locked_for(self, key: str, now: datetime) -> int:
        with self._lock:
            tally = self._tallies.get(key)
        if tally is None or tally.locked_until is None or tally.locked_until <= now:
            return 0
        return ceil((tally.locked_until - now).total_seconds())

    def left(self, key: str, now: datetime) -> int:
        with self._lock:
            tally = self._tallies.get(key)
        if tally is not None and tally.locked_until is not None and tally.locked_until > now:
            return 0
        if tally is None or tally.window_ends <= now:
            return self.max_misses
        return max(0, self.max_misses - tally.misses)

    def charge(self, key: str, now: datetime) -> int:
        with self._lock:
            tally = self._tallies.get(key)
            if tally is None or (tally.window_ends <= now and (tally.locked_until or now) <= now):
                tally = self._tallies[key] = _Tally(0, now + self.window)
            tally.misses += 1
            if tally.misses >= self.max_misses and tally.locked_until is None:
                tally.locked_until = now + timedelta(seconds=seconds_to_beijing_midnight(now))
                return seconds_to_beijing_midnight(now)
        return 0


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


class DatabaseProbeCounter:
    """Counts in `login_failures` through the request's session (the caller commits, misses too)."""

    def __init__(
        self, session: Callable[[], Session], max_misses: int = MAX_MISSES, window: float = WINDOW_SECONDS
    ) -> None:
        self.session, self.max_misses, self.window = session, max_misses, timedelta(seconds=window)

    def locked_for(self, key: str, now: datetime) -> int:
        row = (
            self.session()
            .execute(select(LoginFailure.failures, LoginFailure.locked_until).where(LoginFailure.key == key))
            .first()
        )
        if row is None or row.failures < self.max_misses or row.locked_until is None:
            return 0
        until = _aware(row.locked_until)
        return ceil((until - now).total_seconds()) if until > now else 0

    def left(self, key: str, now: datetime) -> int:
        row = (
            self.session()
            .execute(select(LoginFailure.failures, LoginFailure.locked_until).where(LoginFailure.key == key))
            .first()
        )
        if (
            row is None or row.locked_until is None or _aware(row.locked_until) <= now
        ):  # no window, or it is over
            return self.max_misses
        return max(0, self.max_misses - row.failures)

    def charge(self, key: str, now: datetime) -> int:
        session = self.session()
        insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
        session.execute(
            insert(LoginFailure)
            .values(key=key, failures=0, window_started_at=now, locked_until=now + self.window)
            .on_conflict_do_nothing(index_elements=["key"])
        )
        row = session.execute(
            select(LoginFailure)
            .where(LoginFailure.key == key)
            .with_for_update()
            .execution_options(populate_existing=True)
        ).scalar_one()
        if _aware(row.locked_until or now) <= now:  # the hour (or yesterday's lock) is over: a new window
            row.failures, row.window_started_at, row.locked_until = 0, now, now + self.window
        row.failures += 1
        locked = 0
        if row.failures == self.max_misses:
            locked = seconds_to_beijing_midnight(now)
            row.locked_until = now + timedelta(seconds=locked)
        session.flush()
        return locked


COUNT_SCRIPT = """
if redis.call('EXISTS', KEYS[2]) == 1 then return 0 end
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
if n >= tonumber(ARGV[2]) then
  redis.call('SET', KEYS[2], '1', 'EX', ARGV[3])
  redis.call('DEL', KEYS[1])
  return 1
end
return 0
"""
"""One miss, atomically: count it, start the hour on the first, on the tenth set the lock until midnight."""


class RedisProbeCounter:
    """Counts in Redis (`<prefix>idprobe:fail:<key>`, `<prefix>idprobe:lock:<key>`); fails closed."""

    def __init__(
        self,
        client: Any,
        prefix: str = "aidservice:",
        max_misses: int = MAX_MISSES,
        window: float = WINDOW_SECONDS,
    ) -> None:
        self.client, self.prefix = client, prefix + "idprobe:"
        self.max_misses, self.window = max_misses, int(window)
        self._count = client.register_script(COUNT_SCRIPT)

    def locked_for(self, key: str, now: datetime) -> int:
        from redis.exceptions import RedisError

        try:
            ttl = self.client.pttl(f"{self.prefix}lock:{key}")
        except RedisError as exc:
            log.error("id lookup budget: Redis unavailable (%s); lookups refused", type(exc).__name__)
            raise LookupsUnavailable("Lookups by identity number are unavailable; search by name.") from None
        return ceil(ttl / 1000) if ttl > 0 else 0

    def left(self, key: str, now: datetime) -> int:
        from redis.exceptions import RedisError

        try:
            locked, misses = (
                self.client.pipeline(transaction=False)
                .exists(f"{self.prefix}lock:{key}")
                .get(f"{self.prefix}fail:{key}")
                .execute()
            )
        except RedisError as exc:
            log.error("id lookup budget: Redis unavailable (%s)", type(exc).__name__)
            raise LookupsUnavailable("Lookups by identity number are unavailable; search by name.") from None
        return 0 if locked else max(0, self.max_misses - int(misses or 0))

    def charge(self, key: str, now: datetime) -> int:
        from redis.exceptions import RedisError

        locked = seconds_to_beijing_midnight(now)
        try:
            started = self._count(
                keys=[f"{self.prefix}fail:{key}", f"{self.prefix}lock:{key}"],
                args=[self.window, self.max_misses, locked],
            )
        except RedisError as exc:
            log.error("id lookup budget: Redis unavailable (%s); miss not counted", type(exc).__name__)
            raise LookupsUnavailable("Lookups by identity number are unavailable; search by name.") from None
        return locked if started else 0


def counter_from_config(config: Mapping[str, Any], session: Callable[[], Session]) -> ProbeCounter:
    """The counter beside the sign-in throttle's counts (AID_LOGIN_THROTTLE: redis, database or memory)."""
    backend = config["AID_LOGIN_THROTTLE"]
    if backend == "memory":
        return MemoryProbeCounter()
    if backend == "redis":
        import redis
        from redis.backoff import NoBackoff
        from redis.retry import Retry

        client = redis.Redis.from_url(
            config["AID_REDIS_URL"], socket_timeout=1, socket_connect_timeout=1, retry=Retry(NoBackoff(), 0)
        )
        return RedisProbeCounter(client, prefix=config["AID_REDIS_PREFIX"])
    return DatabaseProbeCounter(session)


# ------------------------------------------------------------------------------------------ use cases


@dataclass(frozen=True, slots=True)
class Budget:
    """The counter and the secret that keys it, with the clock (tests move it)."""

    counter: ProbeCounter
    secret: str
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)


def may_look_up(actor: Actor) -> bool:
    """School officers (own school) and county administrators (own county) look students up by full number."""
    if actor.kind != "user" or actor.role not in LOOKUP_ROLES:
        return False
    return bool(actor.school_code) if actor.role == "school_officer" else bool(actor.region_code)


def check_not_locked(actor: Actor, budget: Budget, *, fail_open: bool = False) -> None:
    """Raise LookupsLocked (429) while the account's budget is spent. Saves and imports pass `fail_open`: when
    the counter cannot be read (Redis down) they go on (logged) rather than stop every roster write."""
    try:
        left = budget.counter.locked_for(account_key(budget.secret, actor), budget.clock())
    except LookupsUnavailable:
        if fail_open:
            return
        raise
    if left > 0:
        raise LookupsLocked(left)


def find_by_id_number(
    session: Session,
    *,
    actor: Actor,
    settings: Settings,
    budget: Budget,
    id_number: str,
    channel: str = "web lookup",
    request_id: str | None = None,
) -> str | None:
    """The student id of the student with this full number in the caller's scope, or None (a miss).

    LookupForbidden (403) for roles that may not look up: audited, nothing searched, nothing counted; 429 while
    locked (audited as refused); 422 for a number that is not a valid resident ID (not audited, not counted: it
    cannot be anyone's). Hit or miss, an audit event in the caller's transaction; a miss is charged. The caller
    commits after a hit, a miss, a 403 and a 429."""
    if not may_look_up(actor):
        raise refuse_lookup(session, actor=actor, id_number=id_number, channel=channel, request_id=request_id)
    try:
        number = normalise_id_number((id_number or "").strip())
    except InvalidIdNumber as exc:
        raise ValidationFailed({"id_number": [str(exc)]}) from None
    try:
        check_not_locked(actor, budget)
    except LookupsLocked:
        _audit(session, actor, LOOKUP_ACTION, "lookup:id_number", "refused", number, channel, request_id)
        raise
    found = session.execute(_lookup_query(actor, id_hmac(settings.id_hmac_key, number))).scalar_one_or_none()
    if found is not None:
        _audit(session, actor, LOOKUP_ACTION, f"student:{found}", "hit", number, channel, request_id)
        return found
    _audit(session, actor, LOOKUP_ACTION, "lookup:id_number", "miss", number, channel, request_id)
    _charge(actor, budget)
    return None


def refuse_lookup(
    session: Session,
    *,
    actor: Actor,
    id_number: str | None,
    channel: str = "web lookup",
    request_id: str | None = None,
) -> LookupForbidden:
    """The 403 of a role that may not look up, with its audit event (the number masked when it is one)."""
    try:
        shown = mask(normalise_id_number((id_number or "").strip()))
    except InvalidIdNumber:
        shown = "invalid"
    audit.record(
        session,
        actor=actor,
        action=LOOKUP_ACTION,
        subject="lookup:id_number",
        summary={"outcome": "forbidden", "id_number": shown, "channel": channel},
        request_id=request_id,
    )
    return LookupForbidden(
        "Only a school's aid officer or a county administrator looks students up by full "
        "identity number; search by name, school or class."
    )


def charge_conflict(
    session: Session,
    *,
    actor: Actor,
    budget: Budget,
    masked: str | None,
    channel: str,
    request_id: str | None = None,
    count: int = 1,
    charged: int | None = None,
    refused: bool = False,
) -> int:
    """A save refused because another record holds the number: audited (masked) and charged, `count` times
    (an import's rows: `masked` None; `charged` of them when fewer are left, `refused` when none was answered).
    Returns the seconds of the lock the charges started (0 when they did not lock)."""
    summary: dict[str, Any] = {"outcome": "conflict", "channel": channel, "count": count}
    if masked is not None:
        summary["id_number"] = masked
    if refused:
        summary["refused"] = True
    audit.record(
        session,
        actor=actor,
        action=CONFLICT_ACTION,
        subject="lookup:id_number",
        summary=summary,
        request_id=request_id,
    )
    locked = 0
    try:
        for _ in range(count if charged is None else charged):
            locked = max(locked, _charge(actor, budget))
    except LookupsUnavailable:
        pass  # a save's conflict is still answered and audited; the outage is logged by the counter
    return locked


def budget_left(actor: Actor, budget: Budget) -> int | None:
    """How many more misses or conflicts the account may have before the one that locks it; None when the
    counter cannot be read (Redis down: saves and imports go on, their conflicts audited, not counted)."""
    try:
        return budget.counter.left(account_key(budget.secret, actor), budget.clock())
    except LookupsUnavailable:
        return None


def conflicts_in(errors: Mapping[str, Sequence[str]]) -> int:
    """How many rows of an import's `errors` ({"rows.<n>.id_number": [...]}) hold a number taken elsewhere."""
    return sum(
        1 for key, messages in errors.items() if key.endswith(".id_number") and CONFLICT_MESSAGE in messages
    )


def _lookup_query(actor: Actor, digest: str) -> Any:
    query = (
        select(Student.student_id)
        .join(School, School.code == Student.school_code)
        .where(Student.id_hmac == digest)
    )
    if actor.role == "school_officer":
        return query.where(Student.school_code == actor.school_code).limit(1)
    return query.where(in_region(School.region_code, actor.region_code or "")).limit(1)


def _charge(actor: Actor, budget: Budget) -> int:
    now = budget.clock()
    locked = budget.counter.charge(account_key(budget.secret, actor), now)
    if locked:
        log.warning(
            "id lookup alert: account %s reached %d lookups or conflicts without a match within an hour; "
            "its lookups and student saves are refused for %d s (until midnight, Beijing)",
            f"{actor.kind}#{actor.id}",
            MAX_MISSES,
            locked,
        )
    return locked


def _audit(
    session: Session,
    actor: Actor,
    action: str,
    subject: str,
    outcome: str,
    number: str,
    channel: str,
    request_id: str | None,
) -> None:
    audit.record(
        session,
        actor=actor,
        action=action,
        subject=subject,
        summary={"outcome": outcome, "id_number": mask(number), "channel": channel},
        request_id=request_id,
    )
