"""Login throttling: `LoginGuard`s (see services.accounts) that count failed sign-ins and refuse while locked.

Five failures within 15 minutes for one account (case-insensitive), or from one address, lock that account or
address for 15 minutes; a successful sign-in clears the account's count. Three backends, chosen by
`guard_from_config` (AID_LOGIN_THROTTLE):

- `RedisLoginGuard` when a Redis URL is configured: one counter per key, INCR and EXPIRE in one Lua script, the
  lock a key with a TTL. Every worker and every host sees the same counts. Should Redis stop answering, sign-ins
  go on unthrottled (argon2 still makes each guess slow) and the outage is logged: a throttle outage must not
  lock every officer out.
- `DatabaseLoginGuard` otherwise: the `login_failures` table, written in the request's own transaction (the
  caller commits after a failed sign-in too), rows locked while counted, so gunicorn workers share the counts.
- `MemoryLoginGuard`: per process (workers × 5 attempts per window); the test configuration's default.

The Redis and database guards count a fixed window from a key's first failure; keys are HMACs (SECRET_KEY) of
the username or the address, so what someone typed as a username is never stored. Behind a proxy the address
is the proxy's unless the app is told the client's (ProxyFix), and then one address stands for everyone: the
per-account limit still holds.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from math import ceil
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, or_, select
from sqlalchemy.orm import Session

from aidservice.models import LoginFailure

from .errors import DomainError

if TYPE_CHECKING:
    from .accounts import LoginGuard

MAX_FAILURES = 5
WINDOW_SECONDS = 15 * 60
LOCKOUT_SECONDS = 15 * 60
MAX_KEYS = 10_000  # past this, forget keys with nothing recent (a spray of usernames cannot grow memory)
PRUNE_EVERY = 50  # the database guard deletes rows with nothing recent once per this many failures
log = logging.getLogger(__name__)


class TooManyAttempts(DomainError):
    """Sign-in refused before any password is checked: too many recent failures (429)."""

    status = 429
    title = "Too many attempts"
    type_suffix = "too-many-requests"

    def __init__(self, retry_after: int) -> None:
        minutes = max(1, ceil(retry_after / 60))
        super().__init__(f"Too many failed sign-ins; try again in {minutes} minutes.")
        self.retry_after = retry_after
        self.minutes = minutes
        self.headers = {"Retry-After": str(retry_after)}


@dataclass(slots=True)
class _Count:
    failures: deque[float] = field(default_factory=deque)
    locked_until: float = 0.0


class MemoryLoginGuard:
    """Counts failures per account (case-insensitive) and per address; thread-safe, one per process."""

    def __init__(
        self,
        max_failures: int = MAX_FAILURES,
        window: float = WINDOW_SECONDS,
        lockout: float = LOCKOUT_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_failures = max_failures
        self.window = window
        self.lockout = lockout
        self.clock = clock
        self._counts: dict[str, _Count] = {}
        self._lock = threading.Lock()

    @staticmethod
    def _keys(username: str, address: str | None) -> list[str]:
        keys = [f"user:{username.strip().casefold()}"]
        if address:
            keys.append(f"addr:{address}")
        return keys

    def before_attempt(self, username: str, address: str | None) -> None:
        """Raise TooManyAttempts while the account or the address is locked."""
        now = self.clock()
        with self._lock:
            waits = [c.locked_until - now for k in self._keys(username, address)
                     if (c := self._counts.get(k)) is not None and c.locked_until > now]
        if waits:
            raise TooManyAttempts(ceil(max(waits)))

    def after_failure(self, username: str, address: str | None) -> None:
        """Count a failure; the fifth within the window locks the key."""
        now = self.clock()
        with self._lock:
            if len(self._counts) > MAX_KEYS:
                self._forget_idle(now)
            for key in self._keys(username, address):
                count = self._counts.setdefault(key, _Count())
                self._prune(count, now)
                count.failures.append(now)
                if len(count.failures) >= self.max_failures:
                    count.locked_until = now + self.lockout
                    count.failures.clear()

    def after_success(self, username: str, address: str | None) -> None:
        """Forget the account's failures (the address keeps its count: it may be trying many accounts)."""
        with self._lock:
            self._counts.pop(self._keys(username, None)[0], None)

    def _prune(self, count: _Count, now: float) -> None:
        while count.failures and count.failures[0] <= now - self.window:
            count.failures.popleft()

    def _forget_idle(self, now: float) -> None:
        for key in list(self._counts):
            count = self._counts[key]
            self._prune(count, now)
            if not count.failures and count.locked_until <= now:
                del self._counts[key]


def key_digests(secret: str, username: str, address: str | None) -> list[str]:
    """The account's key, then the address's: HMAC-SHA256 hex digests, so no typed username is stored."""
    keys = [f"user:{username.strip().casefold()}"]
    if address:
        keys.append(f"addr:{address}")
    return [hmac.new(secret.encode(), key.encode(), hashlib.sha256).hexdigest() for key in keys]


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _aware(moment: datetime) -> datetime:
    """SQLite returns naive datetimes; everything stored is UTC."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


class DatabaseLoginGuard:
    """Counts in `login_failures` through the request's session (the caller commits, after failures too)."""

    def __init__(
        self,
        session: Callable[[], Session],
        secret: str,
        max_failures: int = MAX_FAILURES,
        window: float = WINDOW_SECONDS,
        lockout: float = LOCKOUT_SECONDS,
        clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        self.session = session
        self.secret = secret
        self.max_failures = max_failures
        self.window = timedelta(seconds=window)
        self.lockout = timedelta(seconds=lockout)
        self.clock = clock
        self._failures_seen = 0

    def before_attempt(self, username: str, address: str | None) -> None:
        """Raise TooManyAttempts while the account or the address is locked."""
        now = self.clock()
        keys = key_digests(self.secret, username, address)
        locks = self.session().execute(
            select(LoginFailure.locked_until).where(LoginFailure.key.in_(keys), LoginFailure.locked_until.is_not(None))
        ).scalars()
        waits = [(_aware(until) - now).total_seconds() for until in locks if _aware(until) > now]
        if waits:
            raise TooManyAttempts(ceil(max(waits)))

    def after_failure(self, username: str, address: str | None) -> None:
        """Count a failure under each key; the fifth within the window locks the key."""
        session, now = self.session(), self.clock()
        for key in key_digests(self.secret, username, address):
            self._count(session, key, now)
        self._failures_seen += 1
        if self._failures_seen % PRUNE_EVERY == 0:
            self.prune(session, now)

    def after_success(self, username: str, address: str | None) -> None:
        """Forget the account's failures (the address keeps its count: it may be trying many accounts)."""
        key = key_digests(self.secret, username, None)[0]
        self.session().execute(delete(LoginFailure).where(LoginFailure.key == key))

    def _count(self, session: Session, key: str, now: datetime) -> None:
        """Add one failure to a key's row, made if missing and locked while counted (concurrent workers wait)."""
        session.execute(_insert_missing(session, key, now))
        row = session.execute(
            select(LoginFailure).where(LoginFailure.key == key).with_for_update()
            .execution_options(populate_existing=True)
        ).scalar_one()
        if _aware(row.window_started_at) <= now - self.window:
            row.failures, row.window_started_at = 0, now
        row.failures += 1
        if row.failures >= self.max_failures:
            row.failures, row.window_started_at, row.locked_until = 0, now, now + self.lockout
        session.flush()

    def prune(self, session: Session, now: datetime) -> int:
        """Delete rows with no failure in the window and no lock in force; how many went."""
        return session.execute(
            delete(LoginFailure).where(
                LoginFailure.window_started_at <= now - self.window,
                or_(LoginFailure.locked_until.is_(None), LoginFailure.locked_until <= now),
            )
        ).rowcount


def _insert_missing(session: Session, key: str, now: datetime) -> Any:
    """INSERT ... ON CONFLICT DO NOTHING in the session's dialect (PostgreSQL or SQLite)."""
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert(LoginFailure).values(key=key, failures=0, window_started_at=now).on_conflict_do_nothing(
        index_elements=["key"]
    )


COUNT_SCRIPT = """
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
if n >= tonumber(ARGV[2]) then
  redis.call('SET', KEYS[2], '1', 'EX', ARGV[3])
  redis.call('DEL', KEYS[1])
end
return n
"""
"""One failure, atomically: count it, start the window on the first, and on the last lock the key."""


class RedisLoginGuard:
    """Counts in Redis (`<prefix>login:fail:<key>`, `<prefix>login:lock:<key>`); fails open when Redis is down."""

    def __init__(
        self,
        client: Any,
        secret: str,
        prefix: str = "aidservice:",
        max_failures: int = MAX_FAILURES,
        window: float = WINDOW_SECONDS,
        lockout: float = LOCKOUT_SECONDS,
    ) -> None:
        self.client = client
        self.secret = secret
        self.prefix = prefix + "login:"
        self.max_failures = max_failures
        self.window = int(window)
        self.lockout = int(lockout)
        self._count = client.register_script(COUNT_SCRIPT)

    def _names(self, kind: str, keys: list[str]) -> list[str]:
        return [f"{self.prefix}{kind}:{key}" for key in keys]

    def before_attempt(self, username: str, address: str | None) -> None:
        """Raise TooManyAttempts while the account or the address is locked."""
        from redis.exceptions import RedisError

        pipe = self.client.pipeline(transaction=False)
        for name in self._names("lock", key_digests(self.secret, username, address)):
            pipe.pttl(name)
        try:
            ttls = pipe.execute()
        except RedisError as exc:
            log.error("login throttle: Redis unavailable (%s); sign-in not throttled", type(exc).__name__)
            return
        waits = [ttl for ttl in ttls if ttl > 0]
        if waits:
            raise TooManyAttempts(ceil(max(waits) / 1000))

    def after_failure(self, username: str, address: str | None) -> None:
        """Count a failure under each key; the fifth within the window locks the key."""
        from redis.exceptions import RedisError

        try:
            for key in key_digests(self.secret, username, address):
                fail, lock = self._names("fail", [key])[0], self._names("lock", [key])[0]
                self._count(keys=[fail, lock], args=[self.window, self.max_failures, self.lockout])
        except RedisError as exc:
            log.error("login throttle: Redis unavailable (%s); failure not counted", type(exc).__name__)

    def after_success(self, username: str, address: str | None) -> None:
        """Forget the account's failures (the address keeps its count: it may be trying many accounts)."""
        from redis.exceptions import RedisError

        try:
            self.client.delete(*self._names("fail", key_digests(self.secret, username, None)))
        except RedisError as exc:
            log.error("login throttle: Redis unavailable (%s); count not reset", type(exc).__name__)


def guard_from_config(config: Mapping[str, Any], session: Callable[[], Session]) -> LoginGuard:
    """The guard AID_LOGIN_THROTTLE names; `session` gives the request's session (database backend)."""
    backend, secret = config["AID_LOGIN_THROTTLE"], config["SECRET_KEY"]
    if backend == "memory":
        return MemoryLoginGuard()
    if backend == "redis":
        import redis
        from redis.backoff import NoBackoff
        from redis.retry import Retry

        client = redis.Redis.from_url(  # no retries: a sign-in must not wait for an outage (see above)
            config["AID_REDIS_URL"], socket_timeout=1, socket_connect_timeout=1, retry=Retry(NoBackoff(), 0)
        )
        return RedisLoginGuard(client, secret, prefix=config["AID_REDIS_PREFIX"])
    return DatabaseLoginGuard(session, secret)
