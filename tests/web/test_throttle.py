"""The login guard: five failures within 15 minutes lock an account (unknown devices) for 15 minutes; thirty from one
address make it wait a minute."""

from __future__ import annotations

import pytest

from aidservice.services.accounts.throttle import MemoryLoginGuard, TooManyAttempts


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def fail(
    guard: MemoryLoginGuard, times: int, user: str = "officer", address: str | None = "10.0.0.1"
) -> None:
    for _ in range(times):
        guard.before_attempt(user, address)
        guard.after_failure(user, address)


def test_the_fifth_failure_locks_for_fifteen_minutes(clock: FakeClock) -> None:
    guard = MemoryLoginGuard(clock=clock)
    fail(guard, 4)
    guard.before_attempt("officer", "10.0.0.1")  # four: still allowed
    guard.after_failure("officer", "10.0.0.1")
    with pytest.raises(TooManyAttempts) as locked:
        guard.before_attempt("officer", "10.0.0.2")  # the account is locked wherever it is tried from
    assert locked.value.status == 429 and locked.value.minutes == 15
    clock.now += 15 * 60 - 1
    with pytest.raises(TooManyAttempts):
        guard.before_attempt("officer", None)
    clock.now += 1
    guard.before_attempt("officer", None)


def test_failures_older_than_the_window_do_not_count(clock: FakeClock) -> None:
    guard = MemoryLoginGuard(clock=clock)
    fail(guard, 4)
    clock.now += 15 * 60 + 1
    fail(guard, 4)
    guard.before_attempt("officer", "10.0.0.1")


def test_usernames_are_counted_case_insensitively(clock: FakeClock) -> None:
    guard = MemoryLoginGuard(clock=clock)
    for name in ("Officer", "OFFICER", "officer ", "officer", "oFFicer"):
        guard.after_failure(name, None)
    with pytest.raises(TooManyAttempts):
        guard.before_attempt("officer", None)


def test_an_address_trying_many_accounts_waits_a_minute(clock: FakeClock) -> None:
    """Issue 16: thirty failures (was five) make the address wait one minute (was fifteen)."""
    guard = MemoryLoginGuard(clock=clock)
    for n in range(30):
        fail(guard, 1, user=f"user{n}")
    with pytest.raises(TooManyAttempts) as slowed:
        guard.before_attempt("someone-else", "10.0.0.1")
    assert slowed.value.retry_after == 60 and slowed.value.reason == "address"
    guard.before_attempt("someone-else", "10.0.0.2")
    clock.now += 60
    guard.before_attempt("someone-else", "10.0.0.1")


def test_a_success_clears_the_account_but_not_the_address(clock: FakeClock) -> None:
    guard = MemoryLoginGuard(clock=clock)
    fail(guard, 4)
    guard.after_success("officer", "10.0.0.1")
    fail(guard, 4, address="10.0.0.2")  # the account's count started again
    guard.before_attempt("officer", "10.0.0.2")
    for n in range(26):
        guard.after_failure(f"other{n}", "10.0.0.1")  # the address's thirtieth
    with pytest.raises(TooManyAttempts):
        guard.before_attempt("anyone", "10.0.0.1")


def test_idle_keys_are_forgotten(clock: FakeClock, monkeypatch: pytest.MonkeyPatch) -> None:
    import aidservice.services.accounts.throttle as throttle

    monkeypatch.setattr(throttle, "MAX_KEYS", 10)
    guard = MemoryLoginGuard(clock=clock)
    for n in range(12):
        guard.after_failure(f"user{n}", None)
    clock.now += 16 * 60
    guard.after_failure("late", None)
    assert len(guard._counts) <= 2
