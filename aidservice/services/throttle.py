"""Login throttling: a `LoginGuard` (see services.accounts) that counts failed sign-ins in memory.

Five failures within 15 minutes for one account, or from one address, lock that account or address
for 15 minutes; a successful sign-in clears the account's count. The counts live in the memory of one
process: with several workers (gunicorn -w 2) each keeps its own, so an attacker gets at most
workers × 5 attempts per window. Behind a proxy the address is the proxy's unless the app is told
the client's (ProxyFix), and then one address stands for everyone: the per-account limit still holds.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from math import ceil

from .errors import DomainError

MAX_FAILURES = 5
WINDOW_SECONDS = 15 * 60
LOCKOUT_SECONDS = 15 * 60
MAX_KEYS = 10_000  # past this, forget keys with nothing recent (a spray of usernames cannot grow memory)


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
