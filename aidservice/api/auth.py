"""Bearer authentication for the API: who is calling, and decorators that say who may call what."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from copy import deepcopy
from functools import wraps
from typing import Any, TypeVar

from flask import request
from werkzeug.exceptions import Forbidden, Unauthorized

from aidservice.api.spec import SECURITY_SCHEME
from aidservice.extensions import db
from aidservice.services.accounts.auth import AuthenticationFailed, resolve_token
from aidservice.services.actors import Actor

F = TypeVar("F", bound=Callable[..., Any])
ACTOR_KEY = "aidservice.actor"


def documented_as_guarded(wrapper: F, *refusals: tuple[int, str]) -> F:
    """Record in the operation's OpenAPI doc that it needs a bearer token and may answer these problems.

    flask-smorest reads `_apidoc` from the view; refusals already documented by the view are kept as they are.
    """
    doc = deepcopy(getattr(wrapper, "_apidoc", {}))  # wraps() shares the inner view's dict: never change that
    doc.setdefault("manual_doc", {}).setdefault("security", [{SECURITY_SCHEME: []}])
    responses = doc.setdefault("response", {}).setdefault("responses", {})
    for status, name in refusals:
        responses.setdefault(status, [name])
    wrapper._apidoc = doc  # type: ignore[attr-defined]
    return wrapper


def _bearer() -> str:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("Send 'Authorization: Bearer TOKEN'.")
    return token.strip()


def current_actor() -> Actor:
    """The authenticated caller of this request (401 when there is none)."""
    actor = request.environ.get(ACTOR_KEY)  # on the request: `g` may outlive one request (tests, CLI)
    if actor is None:
        try:
            actor = resolve_token(db.session(), _bearer())
        except AuthenticationFailed as exc:
            raise Unauthorized(f"Invalid credentials: {exc}.") from None
        request.environ[ACTOR_KEY] = actor
    return actor


def require_user(roles: Iterable[str] | None = None) -> Callable[[F], F]:
    """Signed-in users only (not agency clients); optionally only these roles."""
    allowed = None if roles is None else frozenset(roles)

    def decorate(view: F) -> F:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            actor = current_actor()
            if actor.kind != "user":
                raise Forbidden("This endpoint is for signed-in users, not agency clients.")
            if allowed is not None and actor.role not in allowed:
                raise Forbidden(f"Your role ({actor.role}) may not do this.")
            return view(*args, **kwargs)

        return documented_as_guarded(wrapper, (401, "UNAUTHORIZED"), (403, "FORBIDDEN"))  # type: ignore[return-value]

    return decorate


def require_client(source_arg: str = "source") -> Callable[[F], F]:
    """Agency clients only, and only for their own source (the `source` path argument)."""

    def decorate(view: F) -> F:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            actor = current_actor()
            if actor.kind != "client":
                raise Forbidden("This endpoint is for agency clients.")
            if kwargs.get(source_arg) != actor.source:
                raise Forbidden(f"This token is for source '{actor.source}' only.")
            return view(*args, **kwargs)

        return documented_as_guarded(wrapper, (401, "UNAUTHORIZED"), (403, "FORBIDDEN"))  # type: ignore[return-value]

    return decorate
