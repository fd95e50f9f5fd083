"""Accounts: creating and deactivating users, signing in and out.

Login throttling plugs in through `LoginGuard` (services.throttle has the backends): `login()` checks the
client's device tokens (services.devices) for the account, asks the guard before checking a password, tells it
about each failure and success (with the device's nonce when the client is a known device), and gives a
successful client a new device token. Password rules: services.passwords.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Protocol

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from aidservice.metrics import SIGNIN_FAILURES
from aidservice.models import AuthToken, Region, School, User
from aidservice.services import audit
from aidservice.services.accounts import passwords
from aidservice.services.accounts.auth import (
    AuthenticationFailed,
    check_password,
    hash_password,
    issue_user_token,
    now,
    token_digest,
    user_actor,
)
from aidservice.services.accounts.devices import DeviceTokens
from aidservice.services.actors import ADMIN_ROLES, ROLES, Actor
from aidservice.services.errors import Conflict, NotFound, ValidationFailed

USERNAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{1,63}$")
PASSWORD_MIN = passwords.MIN_LENGTH
PASSWORD_MAX = passwords.MAX_LENGTH
ADMIN_LEVELS = {"county_admin": "county", "city_admin": "city", "province_admin": "province"}
BAD_CREDENTIALS = "invalid username or password"


class LoginGuard(Protocol):
    """Where login throttling plugs in: refuse early, and learn from each outcome.

    `device` is the nonce of a valid device token for this account (a known device), else None.
    """

    def before_attempt(self, username: str, address: str | None, device: str | None = None) -> None:
        """Raise to refuse an attempt (e.g. too many recent failures) before any password is checked."""

    def after_failure(self, username: str, address: str | None, device: str | None = None) -> None:
        """Count a failed attempt."""

    def after_success(self, username: str, address: str | None, device: str | None = None) -> None:
        """Reset what was counted for this user (or this device)."""


class NoThrottle:
    """The guard that lets every attempt through (no app configured one)."""

    def before_attempt(self, username: str, address: str | None, device: str | None = None) -> None:
        return None

    def after_failure(self, username: str, address: str | None, device: str | None = None) -> None:
        return None

    def after_success(self, username: str, address: str | None, device: str | None = None) -> None:
        return None


NO_THROTTLE = NoThrottle()


@dataclass(frozen=True, slots=True)
class LoginResult:
    """A new session: the bearer token (shown once), when it expires, who signed in, and a new device token."""

    token: str
    expires_at: datetime
    user: User
    device_token: str | None = None


def check_new_password(password: str, username: str | None = None) -> None:
    """Refuse a password the rules in services.passwords reject, naming every rule it breaks."""
    problems = passwords.problems(password, username)
    if problems:
        raise ValidationFailed({"password": problems})


def _check_scope(session: Session, role: str, school_code: str | None, region_code: str | None) -> None:
    """A user's scope must fit the role: officers one existing school, admins a region of their level."""
    errors: dict[str, list[str]] = {}
    if role == "school_officer":
        if not school_code:
            errors["school"] = ["a school officer needs --school"]
        elif session.get(School, school_code) is None:
            errors["school"] = [f"unknown school {school_code}"]
        if region_code:
            errors["region"] = ["a school officer's scope is the school; give no region"]
    elif role in ADMIN_ROLES:
        level = ADMIN_LEVELS[role]
        region = session.get(Region, region_code) if region_code else None
        if not region_code:
            errors["region"] = [f"a {role} needs --region (a {level} code)"]
        elif region is None:
            errors["region"] = [f"unknown region {region_code}"]
        elif region.level != level:
            errors["region"] = [f"a {role} needs a {level}; {region_code} is a {region.level}"]
        if school_code:
            errors["school"] = ["an administrator's scope is a region; give no school"]
    elif school_code or region_code:
        errors["role"] = ["an auditor reads the whole province; give neither school nor region"]
    if errors:
        raise ValidationFailed(errors)


def create_user(
    session: Session,
    *,
    actor: Actor,
    username: str,
    role: str,
    password: str,
    school_code: str | None = None,
    region_code: str | None = None,
    request_id: str | None = None,
) -> User:
    """Add an account with its role and scope; the password is stored only as an argon2 hash. Audited."""
    if not USERNAME.fullmatch(username):
        raise ValidationFailed(
            {"username": ["2-64 letters, digits or . _ @ -, starting with a letter or digit"]}
        )
    if role not in ROLES:
        raise ValidationFailed({"role": [f"must be one of {', '.join(ROLES)}"]})
    check_new_password(password, username)
    _check_scope(session, role, school_code, region_code)
    if session.execute(select(User.id).where(User.username == username)).first() is not None:
        raise Conflict(f"user {username} already exists", {"username": ["already exists"]})
    user = User(
        username=username,
        password_hash=hash_password(password),
        role=role,
        school_code=school_code,
        region_code=region_code,
        active=True,
    )
    session.add(user)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="user.create",
        subject=f"user:{username}",
        summary={"role": role, "school_code": school_code, "region_code": region_code},
        request_id=request_id,
    )
    return user


def deactivate_user(session: Session, *, actor: Actor, username: str, request_id: str | None = None) -> bool:
    """Stop an account from signing in and end its sessions; False when it was already inactive. Audited."""
    user = session.execute(select(User).where(User.username == username)).scalar_one_or_none()
    if user is None:
        raise NotFound(f"no user {username}")
    if not user.active:
        return False
    user.active = False
    revoked = _revoke_sessions(session, user.id)
    audit.record(
        session,
        actor=actor,
        action="user.deactivate",
        subject=f"user:{username}",
        summary={"sessions_revoked": revoked},
        request_id=request_id,
    )
    return True


def set_password(
    session: Session, *, actor: Actor, username: str, password: str, request_id: str | None = None
) -> int:
    """Give an account a new password (same rules as at creation) and end its open sessions. Audited."""
    user = session.execute(select(User).where(User.username == username)).scalar_one_or_none()
    if user is None:
        raise NotFound(f"no user {username}")
    check_new_password(password, username)
    user.password_hash = hash_password(password)
    revoked = _revoke_sessions(session, user.id)
    audit.record(
        session,
        actor=actor,
        action="user.password",
        subject=f"user:{username}",
        summary={"sessions_revoked": revoked},
        request_id=request_id,
    )
    return revoked


def _revoke_sessions(session: Session, user_id: int) -> int:
    """Revoke every open session token of one account; how many there were."""
    return session.execute(
        update(AuthToken)
        .where(AuthToken.user_id == user_id, AuthToken.revoked_at.is_(None))
        .values(revoked_at=now())
    ).rowcount


@cache
def _decoy_hash() -> str:
    """A hash to check unknown usernames against, so they take as long as wrong passwords."""
    return hash_password("decoy password, never valid")


def login(
    session: Session,
    *,
    username: str,
    password: str,
    address: str | None = None,
    guard: LoginGuard = NO_THROTTLE,
    request_id: str | None = None,
    devices: DeviceTokens | None = None,
    device_tokens: Sequence[str] = (),
) -> LoginResult:
    """Check the password and open a session; one error for unknown user and wrong password (commit it too).

    With `devices`, `device_tokens` (what the client holds) tell a known device from an unknown one for the
    throttle, and a success carries a new device token for the client to keep.
    """
    user = session.execute(select(User).where(User.username == username)).scalar_one_or_none()
    if user is not None and not user.active:
        user = None
    device = devices.verify(device_tokens, user) if devices is not None else None
    guard.before_attempt(username, address, device)
    if user is None:
        check_password(_decoy_hash(), password)
        guard.after_failure(username, address, device)
        SIGNIN_FAILURES.inc()
        raise AuthenticationFailed(BAD_CREDENTIALS)
    if not check_password(user.password_hash, password):
        guard.after_failure(username, address, device)
        SIGNIN_FAILURES.inc()
        raise AuthenticationFailed(BAD_CREDENTIALS)
    guard.after_success(username, address, device)
    token, expires = issue_user_token(session, user)
    audit.record(
        session,
        actor=user_actor(user),
        action="auth.login",
        subject=f"user:{username}",
        summary={"expires_at": expires.isoformat(), "known_device": device is not None},
        request_id=request_id,
    )
    return LoginResult(token, expires, user, devices.issue(user) if devices is not None else None)


def logout(session: Session, *, actor: Actor, token: str, request_id: str | None = None) -> None:
    """Revoke the session token the caller used; later requests with it get 401. Audited."""
    auth = session.execute(
        select(AuthToken).where(AuthToken.token_hash == token_digest(token))
    ).scalar_one_or_none()
    if auth is None or auth.user_id != actor.id:
        raise NotFound("no such session")
    if auth.revoked_at is None:
        auth.revoked_at = now()
    audit.record(
        session,
        actor=actor,
        action="auth.logout",
        subject=f"user:{actor.name}",
        summary={},
        request_id=request_id,
    )
