"""A signed-in user changes their own password: the current one first, then the rules of services.passwords.

The current password is checked like a sign-in: the sign-in throttle (services.throttle) is asked first and
told of each failure and success, so a stolen session cannot guess the password faster than the login page
allows. On success every session of the account ends (services.accounts.auth tokens) and the caller gets a
new one for the session that made the change. Audited as `user.password_change` (no password, no hash).
The caller commits, after a wrong current password too (the throttle's count).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from aidservice.models import User
from aidservice.services import audit
from aidservice.services.accounts import passwords
from aidservice.services.accounts.accounts import NO_THROTTLE, LoginGuard, _revoke_sessions
from aidservice.services.accounts.auth import (
    AuthenticationFailed,
    check_password,
    hash_password,
    issue_user_token,
)
from aidservice.services.accounts.devices import DeviceTokens
from aidservice.services.actors import Actor
from aidservice.services.errors import NotFound, ValidationFailed

WRONG_CURRENT = "the current password is wrong"


class WeakPassword(ValidationFailed):
    """The new password breaks rules of services.passwords; `rules` are their codes (`passwords.RULES`)."""

    def __init__(self, rules: Sequence[str]) -> None:
        super().__init__({"new_password": [passwords.RULES[code] for code in rules]})
        self.rules = list(rules)


@dataclass(frozen=True, slots=True)
class PasswordChanged:
    """The new session's token (the old ones all ended), when it expires, and how many sessions ended."""

    token: str
    expires_at: datetime
    user: User
    sessions_ended: int


@dataclass(frozen=True, slots=True)
class Attempt:
    """Where the change comes from, for the throttle: the client's address and the device tokens it holds."""

    address: str | None = None
    guard: LoginGuard = NO_THROTTLE
    devices: DeviceTokens | None = None
    device_tokens: Sequence[str] = ()


def change_password(
    session: Session,
    *,
    actor: Actor,
    current: str,
    new: str,
    attempt: Attempt = Attempt(),
    request_id: str | None = None,
) -> PasswordChanged:
    """Check `current` (throttled), then `new` against the rules; store it, end every session, open a new one."""
    user = session.get(User, actor.id) if actor.kind == "user" else None
    if user is None or not user.active:
        raise NotFound("no such account")
    _check_current(user, current, attempt)
    broken = passwords.broken_rules(new, user.username)
    if broken:
        raise WeakPassword(broken)
    user.password_hash = hash_password(new)
    ended = _revoke_sessions(session, user.id)
    token, expires = issue_user_token(session, user)
    audit.record(
        session,
        actor=actor,
        action="user.password_change",
        subject=f"user:{user.username}",
        summary={"sessions_ended": ended},
        request_id=request_id,
    )
    return PasswordChanged(token, expires, user, ended)


def _check_current(user: User, current: str, attempt: Attempt) -> None:
    """The sign-in throttle's checks around the current password; AuthenticationFailed when it is wrong."""
    device = attempt.devices.verify(attempt.device_tokens, user) if attempt.devices is not None else None
    attempt.guard.before_attempt(user.username, attempt.address, device)
    if not check_password(user.password_hash, current):
        attempt.guard.after_failure(user.username, attempt.address, device)
        raise AuthenticationFailed(WRONG_CURRENT)
    attempt.guard.after_success(user.username, attempt.address, device)
