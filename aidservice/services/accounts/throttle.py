"""Login throttling: `LoginGuard`s (see services.accounts) that count failed sign-ins and refuse while locked.

OWASP's device-cookie technique ("Slow Down Online Guessing Attacks with Device Cookies"): a client that has
signed in to an account before holds a device token for it (services.devices), and failures are counted so that
a stranger can never lock the owner out of the devices they already use:

- from a **known device** (a valid token for this account): against that device alone, key `dev:<nonce>`. Five
  failures within 15 minutes lock that device for 15 minutes; no other device, and not the account, notices. Its
  attempts pass the two locks below.
- from an **unknown device** (no token, or a forged, expired or other account's token): against the account's
  "unrecognised devices" bucket, key `user:<username, case-folded>`, five in 15 minutes locking it for 15 minutes
  (only known devices may then try that account), and against the client's address, key `addr:<address>`.
- an **address** is slowed, not blocked: 30 failures within 15 minutes make it wait one minute, and the count
  starts again; a school's officers behind one NAT address lose at most a minute, and only on new devices.

A success clears what the attempt was counted under (the device's count, or the account's unrecognised bucket);
the address keeps its count, as it may be trying many accounts. Three backends, chosen by `guard_from_config`
(AID_LOGIN_THROTTLE), all counting the same keys:

- `RedisLoginGuard` when a Redis URL is configured: one counter per key, INCR and EXPIRE in one Lua script, the
  lock a key with a TTL. Every worker and every host sees the same counts. Should Redis stop answering, sign-ins
  go on unthrottled (argon2 still makes each guess slow) and the outage is logged: a throttle outage must not
  lock every officer out.
- `DatabaseLoginGuard` otherwise: the `login_failures` table, written in the request's own transaction (the
  caller commits after a failed sign-in too), rows locked while counted, so gunicorn workers share the counts.
- `MemoryLoginGuard`: per process (workers × 5 attempts per window); the test configuration's default.

The Redis and database guards count a fixed window from a key's first failure; keys are HMACs (SECRET_KEY) of
the username, the device's nonce or the address, so what someone typed as a username is never stored. Behind a
proxy the address is the proxy's unless the app is told the client's (AID_PROXY_HOPS, ProxyFix), and then one
address stands for everyone: the account and device limits still hold.
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

from aidservice.metrics import SIGNIN_THROTTLED
from aidservice.models import LoginFailure
from aidservice.services.errors import DomainError

if TYPE_CHECKING:
    from aidservice.services.accounts.accounts import LoginGuard

MAX_FAILURES = 5
WINDOW_SECONDS = 15 * 60
LOCKOUT_SECONDS = 15 * 60
ADDRESS_MAX_FAILURES = 30
ADDRESS_WINDOW_SECONDS = 15 * 60
ADDRESS_WAIT_SECONDS = 60
MAX_KEYS = 10_000  # past this, forget keys with nothing recent (a spray of usernames cannot grow memory)
PRUNE_EVERY = 50  # the database guard deletes rows with nothing recent once per this many failures
log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Limit:
    """`max_failures` within `window` seconds lock a key for `lockout` seconds."""

    max_failures: int
    window: float
    lockout: float


ADDRESS_LIMIT = Limit(ADDRESS_MAX_FAILURES, ADDRESS_WINDOW_SECONDS, ADDRESS_WAIT_SECONDS)

MESSAGES = {
    "account": "Too many failed sign-ins to this account from devices it has not signed in from; sign in from a "
    "device you have signed in with before, or try again in {minutes} minutes.",
    "device": "Too many failed sign-ins from this device; try again in {minutes} minutes.",
    "address": "Too many failed sign-ins from this address; try again in {minutes} minutes.",
}


class TooManyAttempts(DomainError):
    """Sign-in refused before any password is checked: too many recent failures (429).

    `reason` says which count is locked: "account" (its unrecognised devices), "device" or "address".
    """

    status = 429
    title = "Too many attempts"
    type_suffix = "too-many-requests"

    def __init__(self, retry_after: int, reason: str = "account") -> None:
        minutes = max(1, ceil(retry_after / 60))
        super().__init__(MESSAGES[reason].format(minutes=minutes))
        self.retry_after = retry_after
        self.minutes = minutes
        self.reason = reason
        self.headers = {"Retry-After": str(retry_after)}


@dataclass(frozen=True, slots=True)
class Key:
    """One count an attempt is checked against and charged to: its name (before hashing), kind and limit."""

    name: str
    kind: str
    limit: Limit


def attempt_keys(
    username: str, address: str | None, device: str | None, account: Limit, addr: Limit
) -> list[Key]:
    """A known device's own key; else the account's unrecognised-devices key and the address's."""
    if device:
        return [Key(f"dev:{device}", "device", account)]
    keys = [Key(f"user:{username.strip().casefold()}", "account", account)]
    if address:
        keys.append(Key(f"addr:{address}", "address", addr))
    return keys


def refuse_longest(waits: list[tuple[float, str]]) -> None:
    """Raise TooManyAttempts for the longest of the (seconds, kind) locks in force, if any."""
    if waits:
        seconds, kind = max(waits)
        SIGNIN_THROTTLED.labels(kind).inc()
        raise TooManyAttempts(ceil(seconds), kind)


def digest(secret: str, name: str) -> str:
    """A key as stored: HMAC-SHA256 hex digest under SECRET_KEY."""
    return hmac.new(secret.encode(), name.encode(), hashlib.sha256).hexdigest()


def key_digests(secret: str, username: str, address: str | None, device: str | None = None) -> list[str]:
    """The stored keys an attempt counts under: a known device's; else the account's, then the address's."""
    keys = attempt_keys(username, address, device, ADDRESS_LIMIT, ADDRESS_LIMIT)
    return [digest(secret, key.name) for key in keys]


@dataclass(slots=True)
class _Count:
    failures: deque[float] = field(default_factory=deque)
    locked_until: float = 0.0


class MemoryLoginGuard:
    """Counts failures per device, account (case-insensitive) and address; thread-safe, one per process."""

    def __init__(
        self,
        max_failures: int = MAX_FAILURES,
        window: float = WINDOW_SECONDS,
        lockout: float = LOCKOUT_SECONDS,
        clock: Callable[[], float] = time.monotonic,
        address_limit: Limit = ADDRESS_LIMIT,
    ) -> None:
        self.limit = Limit(max_failures, window, lockout)
        self.address_limit = address_limit
        self.clock = clock
        self._counts: dict[str, _Count] = {}
        self._lock = threading.Lock()

    def _keys(self, username: str, address: str | None, device: str | None) -> list[Key]:
        return attempt_keys(username, address, device, self.limit, self.address_limit)

    def before_attempt(self, username: str, address: str | None, device: str | None = None) -> None:
        """Raise TooManyAttempts while the device, or (unknown devices) the account or the address, is locked."""
        now = self.clock()
        with self._lock:
            waits = [
                (c.locked_until - now, k.kind)
                for k in self._keys(username, address, device)
                if (c := self._counts.get(k.name)) is not None and c.locked_until > now
            ]
        refuse_longest(waits)

    def after_failure(self, username: str, address: str | None, device: str | None = None) -> None:
        """Count a failure under each key; the last one a key's limit allows locks it."""
        now = self.clock()
        with self._lock:
            if len(self._counts) > MAX_KEYS:
                self._forget_idle(now)
            for key in self._keys(username, address, device):
                count = self._counts.setdefault(key.name, _Count())
                self._prune(count, now, key.limit.window)
                count.failures.append(now)
                if len(count.failures) >= key.limit.max_failures:
                    count.locked_until = now + key.limit.lockout
                    count.failures.clear()

    def after_success(self, username: str, address: str | None, device: str | None = None) -> None:
        """Forget the device's, or the account's, failures (the address keeps its count)."""
        with self._lock:
            self._counts.pop(self._keys(username, None, device)[0].name, None)

    @staticmethod
    def _prune(count: _Count, now: float, window: float) -> None:
        while count.failures and count.failures[0] <= now - window:
            count.failures.popleft()

    def _forget_idle(self, now: float) -> None:
        window = max(self.limit.window, self.address_limit.window)
        for key in list(self._counts):
            count = self._counts[key]
            self._prune(count, now, window)
            if not count.failures and count.locked_until <= now:
                del self._counts[key]


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
        address_limit: Limit = ADDRESS_LIMIT,
    ) -> None:
        self.session = session
        self.secret = secret
        self.limit = Limit(max_failures, window, lockout)
        self.address_limit = address_limit
        self.window = timedelta(seconds=max(window, address_limit.window))  # what prune keeps
        self.clock = clock
        self._failures_seen = 0

    def _keys(self, username: str, address: str | None, device: str | None) -> dict[str, Key]:
        keys = attempt_keys(username, address, device, self.limit, self.address_limit)
        return {digest(self.secret, key.name): key for key in keys}

    def before_attempt(self, username: str, address: str | None, device: str | None = None) -> None:
        """Raise TooManyAttempts while the device, or (unknown devices) the account or the address, is locked."""
        now = self.clock()
        keys = self._keys(username, address, device)
        locks = (
            self.session()
            .execute(
                select(LoginFailure.key, LoginFailure.locked_until).where(
                    LoginFailure.key.in_(keys), LoginFailure.locked_until.is_not(None)
                )
            )
            .all()
        )
        refuse_longest(
            [
                ((_aware(until) - now).total_seconds(), keys[key].kind)
                for key, until in locks
                if _aware(until) > now
            ]
        )

    def after_failure(self, username: str, address: str | None, device: str | None = None) -> None:
        """Count a failure under each key; the last one a key's limit allows locks it."""
        session, now = self.session(), self.clock()
        for key, spec in self._keys(username, address, device).items():
            self._count(session, key, spec.limit, now)
        self._failures_seen += 1
        if self._failures_seen % PRUNE_EVERY == 0:
            self.prune(session, now)

    def after_success(self, username: str, address: str | None, device: str | None = None) -> None:
        """Forget the device's, or the account's, failures (the address keeps its count)."""
        key = next(iter(self._keys(username, None, device)))
        self.session().execute(delete(LoginFailure).where(LoginFailure.key == key))

    @staticmethod
    def _count(session: Session, key: str, limit: Limit, now: datetime) -> None:
        """Add one failure to a key's row, made if missing and locked while counted (concurrent workers wait)."""
        session.execute(_insert_missing(session, key, now))
        row = session.execute(
            select(LoginFailure)
            .where(LoginFailure.key == key)
            .with_for_update()
            .execution_options(populate_existing=True)
        ).scalar_one()
        if _aware(row.window_started_at) <= now - timedelta(seconds=limit.window):
            row.failures, row.window_started_at = 0, now
        row.failures += 1
        if row.failures >= limit.max_failures:
            row.failures, row.window_started_at = 0, now
            row.locked_until = now + timedelta(seconds=limit.lockout)
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
    return (
        insert(LoginFailure)
        .values(key=key, failures=0, window_started_at=now)
        .on_conflict_do_nothing(index_elements=["key"])
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
        address_limit: Limit = ADDRESS_LIMIT,
    ) -> None:
        self.client = client
        self.secret = secret
        self.prefix = prefix + "login:"
        self.limit = Limit(max_failures, int(window), int(lockout))
        self.address_limit = address_limit
        self._count = client.register_script(COUNT_SCRIPT)

    def _keys(self, username: str, address: str | None, device: str | None) -> dict[str, Key]:
        keys = attempt_keys(username, address, device, self.limit, self.address_limit)
        return {digest(self.secret, key.name): key for key in keys}

    def _name(self, kind: str, key: str) -> str:
        return f"{self.prefix}{kind}:{key}"

    def before_attempt(self, username: str, address: str | None, device: str | None = None) -> None:
        """Raise TooManyAttempts while the device, or (unknown devices) the account or the address, is locked."""
        from redis.exceptions import RedisError

        keys = self._keys(username, address, device)
        pipe = self.client.pipeline(transaction=False)
        for key in keys:
            pipe.pttl(self._name("lock", key))
        try:
            ttls = pipe.execute()
        except RedisError as exc:
            log.error("login throttle: Redis unavailable (%s); sign-in not throttled", type(exc).__name__)
            return
        refuse_longest(
            [(ttl / 1000, spec.kind) for ttl, spec in zip(ttls, keys.values(), strict=True) if ttl > 0]
        )

    def after_failure(self, username: str, address: str | None, device: str | None = None) -> None:
        """Count a failure under each key; the last one a key's limit allows locks it."""
        from redis.exceptions import RedisError

        try:
            for key, spec in self._keys(username, address, device).items():
                limit = spec.limit
                self._count(
                    keys=[self._name("fail", key), self._name("lock", key)],
                    args=[int(limit.window), limit.max_failures, int(limit.lockout)],
                )
        except RedisError as exc:
            log.error("login throttle: Redis unavailable (%s); failure not counted", type(exc).__name__)

    def after_success(self, username: str, address: str | None, device: str | None = None) -> None:
        """Forget the device's, or the account's, failures (the address keeps its count)."""
        from redis.exceptions import RedisError

        try:
            self.client.delete(self._name("fail", next(iter(self._keys(username, None, device)))))
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
