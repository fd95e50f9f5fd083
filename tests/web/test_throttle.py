"""The login guard: five failures within 15 minutes lock an account or an address for 15 minutes."""

from __future__ import annotations

import pytest

from aidservice.services.throttle import MemoryLoginGuard, TooManyAttempts


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def fail(guard: MemoryLoginGuard, times: int, user: str = "officer", address: str | None = "10.0.0.1") -> None:
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


def test_an_address_trying_many_accounts_is_locked(clock: FakeClock) -> None:
    guard = MemoryLoginGuard(clock=clock)
    for n in range(5):
        fail(guard, 1, user=f"user{n}")
    with pytest.raises(TooManyAttempts):
        guard.before_attempt("someone-else", "10.0.0.1")
    guard.before_attempt("someone-else", "10.0.0.2")


def test_a_success_clears_the_account_but_not_the_address(clock: FakeClock) -> None:
    guard = MemoryLoginGuard(clock=clock)
    fail(guard, 4)
    guard.after_success("officer", "10.0.0.1")
    fail(guard, 4, address="10.0.0.2")  # the account's count started again
    guard.before_attempt("officer", "10.0.0.2")
    guard.after_failure("other", "10.0.0.1")  # the address's fifth
    with pytest.raises(TooManyAttempts):
        guard.before_attempt("anyone", "10.0.0.1")


def test_idle_keys_are_forgotten(clock: FakeClock, monkeypatch: pytest.MonkeyPatch) -> None:
    import aidservice.services.throttle as throttle

    monkeypatch.setattr(throttle, "MAX_KEYS", 10)
    guard = MemoryLoginGuard(clock=clock)
    for n in range(12):
        guard.after_failure(f"user{n}", None)
    clock.now += 16 * 60
    guard.after_failure("late", None)
    assert len(guard._counts) <= 2
