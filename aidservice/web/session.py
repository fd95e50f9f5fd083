"""Who is signed in to the web UI: the session cookie carries the login's bearer token (HttpOnly, SameSite=Lax,
Secure behind TLS; signed by SECRET_KEY) and, for display only, the user's name, role and scope.

The device cookie (`aid_device`: HttpOnly, SameSite=Strict, Secure with AID_SECURE_COOKIES, 180 days) holds
the device tokens (services.devices) of the accounts that signed in from this browser, at most five, so the
sign-in throttle knows it as a known device of each of them.

Every request resolves the token again (`services.auth.resolve_token`): an expired, revoked or deactivated
login ends at once, whatever the cookie still says.
"""

from __future__ import annotations

from typing import Any

from flask import current_app, request, session
from werkzeug.exceptions import Unauthorized
from werkzeug.wrappers import Response

from aidservice.extensions import db
from aidservice.models import Region, School
from aidservice.services.accounts.accounts import LoginResult
from aidservice.services.accounts.auth import AuthenticationFailed, resolve_token
from aidservice.services.accounts.devices import MAX_AGE_SECONDS, TOKEN_MAX_LENGTH, merged
from aidservice.services.actors import Actor

TOKEN_KEY = "token"
USER_KEY = "user"
LANGUAGE_KEY = "lang"
ACTOR_KEY = "aidservice.web_actor"
EXPIRED_KEY = "aidservice.web_expired"
DEVICE_COOKIE = "aid_device"
DEVICE_TOKENS_KEPT = 5
DEVICE_SEPARATOR = "~"


def current_actor() -> Actor | None:
    """The signed-in user of this request, or None (no login, or it expired or was revoked)."""
    if ACTOR_KEY in request.environ:
        return request.environ[ACTOR_KEY]
    actor = None
    token = session.get(TOKEN_KEY)
    if isinstance(token, str) and token:
        try:
            found = resolve_token(db.session(), token)
        except AuthenticationFailed:
            found = None
        if found is not None and found.kind == "user":
            actor = found
        else:
            request.environ[EXPIRED_KEY] = True
            forget()
    request.environ[ACTOR_KEY] = actor
    return actor


def actor() -> Actor:
    """The signed-in user (the blueprint has already sent everyone else to the login page)."""
    found = current_actor()
    if found is None:
        raise Unauthorized("请先登录。")
    return found


def login_expired() -> bool:
    return bool(request.environ.get(EXPIRED_KEY))


def remember(result: LoginResult) -> None:
    """Start a fresh session (no fixation: whatever the old cookie held is dropped, but the language)."""
    language = session.get(LANGUAGE_KEY)
    session.clear()
    if language:
        session[LANGUAGE_KEY] = language
    user = result.user
    session[TOKEN_KEY] = result.token
    session[USER_KEY] = {
        "username": user.username,
        "role": user.role,
        "school_code": user.school_code,
        "region_code": user.region_code,
        "scope_name": _scope_name(user.school_code, user.region_code),
    }
    request.environ.pop(ACTOR_KEY, None)


def _scope_name(school_code: str | None, region_code: str | None) -> str | None:
    """The user's school or region by name, for the page header (None when unknown: the code is shown)."""
    if school_code:
        school = db.session.get(School, school_code)
        return school.name if school is not None else None
    if region_code:
        region = db.session.get(Region, region_code)
        return region.name if region is not None else None
    return None


def forget() -> None:
    """End the web session (keeping the language choice)."""
    language = session.get(LANGUAGE_KEY)
    session.clear()
    if language:
        session[LANGUAGE_KEY] = language
    request.environ[ACTOR_KEY] = None


def token() -> str | None:
    value = session.get(TOKEN_KEY)
    return value if isinstance(value, str) else None


def display_user() -> dict[str, Any] | None:
    """Name, role and scope for the page header (not for authorisation)."""
    user = session.get(USER_KEY)
    return user if isinstance(user, dict) and session.get(TOKEN_KEY) else None


def safe_next(target: str | None) -> str | None:
    """A local path to return to after signing in; anything else (other hosts, schemes) is dropped."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return None
    if target.startswith("/api") or any(ord(c) < 32 for c in target):
        return None
    return target


def device_tokens() -> list[str]:
    """The device tokens this browser holds (unchecked; an oversized cookie is ignored)."""
    value = request.cookies.get(DEVICE_COOKIE, "")
    if not value or len(value) > DEVICE_TOKENS_KEPT * (TOKEN_MAX_LENGTH + 1):
        return []
    return value.split(DEVICE_SEPARATOR)[:DEVICE_TOKENS_KEPT]


def remember_device(response: Response, new_token: str | None) -> Response:
    """Keep the account's new device token in the device cookie, beside other accounts' tokens."""
    if new_token:
        response.set_cookie(
            DEVICE_COOKIE,
            DEVICE_SEPARATOR.join(merged(device_tokens(), new_token, DEVICE_TOKENS_KEPT)),
            max_age=MAX_AGE_SECONDS,
            httponly=True,
            samesite="Strict",
            secure=bool(current_app.config.get("SESSION_COOKIE_SECURE")),
        )
    return response
