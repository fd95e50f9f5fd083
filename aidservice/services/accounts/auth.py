"""Credentials: password hashing, bearer tokens for users and agency clients, resolving a token to an Actor."""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime, timedelta
from typing import Protocol

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from aidservice.models import ApiClient, AuthToken, User
from aidservice.services.actors import Actor

TOKEN_BYTES = 32
USER_TOKEN_PREFIX = "aidu_"
CLIENT_TOKEN_PREFIX = "aidc_"
SESSION_LIFETIME = timedelta(hours=8)

_hasher = PasswordHasher()


class AuthenticationFailed(Exception):
    """No valid credentials: unknown, expired or revoked token, or a wrong password (401)."""


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def check_password(stored: str, password: str) -> bool:
    try:
        return _hasher.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return False


def token_digest(token: str) -> str:
    """Tokens are random, so a plain SHA-256 is enough to store them without storing them."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def new_token(prefix: str) -> str:
    return prefix + secrets.token_urlsafe(TOKEN_BYTES)


def now() -> datetime:
    return datetime.now(UTC)


def _aware(moment: datetime | None) -> datetime | None:
    """SQLite returns naive datetimes; everything stored is UTC."""
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)


class UserColumns(Protocol):
    """What an Actor needs of a user: a User, or a row of its columns."""

    id: int
    username: str
    role: str
    school_code: str | None
    region_code: str | None


class ClientColumns(Protocol):
    """What an Actor needs of an agency client: an ApiClient, or a row of its columns."""

    id: int
    name: str
    source: str


def user_actor(user: UserColumns) -> Actor:
    return Actor("user", user.username, user.id, user.role, user.school_code, user.region_code)


def client_actor(client: ClientColumns) -> Actor:
    return Actor("client", f"{client.id}:{client.name}", client.id, None, source=client.source)


def issue_user_token(
    session: Session, user: User, lifetime: timedelta = SESSION_LIFETIME
) -> tuple[str, datetime]:
    """A new bearer token for a signed-in user; only its hash is stored. The caller commits."""
    token = new_token(USER_TOKEN_PREFIX)
    expires = now() + lifetime
    session.add(AuthToken(user_id=user.id, token_hash=token_digest(token), expires_at=expires))
    session.flush()
    return token, expires


CLIENT_TOKEN = select(
    ApiClient.id, ApiClient.name, ApiClient.source, ApiClient.revoked_at, ApiClient.expires_at
).where(ApiClient.token_hash == bindparam("digest"))
USER_TOKEN = (
    select(
        AuthToken.revoked_at,
        AuthToken.expires_at,
        User.active,
        User.id,
        User.username,
        User.role,
        User.school_code,
        User.region_code,
    )
    .join(User, User.id == AuthToken.user_id)
    .where(AuthToken.token_hash == bindparam("digest"))
)
"""Built once (statements are immutable): every API request runs one of them."""


def resolve_token(session: Session, token: str, at: datetime | None = None) -> Actor:
    """The actor a bearer token stands for, or AuthenticationFailed (unknown, expired, revoked).

    Every API request runs this first, so it reads the few columns it needs in one query, not ORM entities.
    """
    moment = at or now()
    digest = token_digest(token)
    if token.startswith(CLIENT_TOKEN_PREFIX):
        client = session.execute(CLIENT_TOKEN, {"digest": digest}).one_or_none()
        if client is None or client.revoked_at is not None:
            raise AuthenticationFailed("unknown or revoked token")
        expires = _aware(client.expires_at)
        if expires is not None and expires <= moment:
            raise AuthenticationFailed("token expired")
        return client_actor(client)
    row = session.execute(USER_TOKEN, {"digest": digest}).one_or_none()
    if row is None:
        raise AuthenticationFailed("unknown token")
    if row.revoked_at is not None or not row.active:
        raise AuthenticationFailed("token revoked")
    if _aware(row.expires_at) <= moment:  # type: ignore[operator]
        raise AuthenticationFailed("token expired")
    return user_actor(row)
