"""Per-address request limits of the anonymous routes (Flask-Limiter), beside the per-account sign-in throttle.

`POST /api/v1/evaluate` (AID_RATELIMIT_EVALUATE, default 60/minute) and the two sign-ins, `POST /api/v1/auth/login`
and the web form `POST /login` (AID_RATELIMIT_LOGIN, default 10/minute, one counter for both routes so an address
cannot double its tries by alternating), are counted per client address in fixed windows: the first request
starts a window, each request adds one, and the request over the limit is refused with 429 before any work
(problem+json under /api, the HTML error page in the UI). The client address is `request.remote_addr`, which
ProxyFix (aidservice.security, AID_PROXY_HOPS) has already taken from X-Forwarded-For when proxies are trusted.

Counters live in Redis when AID_REDIS_URL is set (every worker and server shares them), else in each process's
memory (then the limit holds per worker). When Redis fails the limiter counts in memory instead, logs a warning,
and tries Redis again with back-off: an outage never turns a request into a 500 and never waits on retries.

Headers on the limited routes: `RateLimit-Limit`, `RateLimit-Remaining`, `RateLimit-Reset` (seconds until the
window ends, as the IETF RateLimit header draft says; Flask-Limiter sends a timestamp, converted below), and
`Retry-After` (seconds) on a 429 only.

A view is marked with `@rate_limited(name)`; `register_rate_limits` (called by the composition root,
aidservice.wiring, so an API-only app has the limits too) wraps the marked views of that app with its own
Limiter, so apps built side by side (tests, two workers) never share a limiter's state.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from math import ceil
from typing import Any, TypeVar

from flask import Flask, Response, current_app, request
from flask_limiter import HeaderNames, Limiter
from redis.backoff import NoBackoff
from redis.retry import Retry

F = TypeVar("F", bound=Callable[..., Any])
MARK = "_aid_rate_limit"
EXTENSION = "aid_limiter"
RESET_AT = "X-Aid-RateLimit-Reset-At"  # Flask-Limiter's timestamp, turned into RateLimit-Reset seconds below
LIMITER_LOGGER = "flask-limiter"
"""Its INFO line for each refusal names the client's address; the access line already records the 429."""
LIMITER_RETRY_AFTER = "X-Aid-RateLimit-Retry-After"  # Flask-Limiter sends one on every answer; a 429 keeps it
HEADERS = {
    HeaderNames.LIMIT: "RateLimit-Limit",
    HeaderNames.REMAINING: "RateLimit-Remaining",
    HeaderNames.RESET: RESET_AT,
    HeaderNames.RETRY_AFTER: LIMITER_RETRY_AFTER,
}


@dataclass(frozen=True, slots=True)
class RouteLimit:
    """One limit: the setting that holds its rate, the counter it shares, and the methods it counts."""

    setting: str
    scope: str
    methods: tuple[str, ...] | None = None


LIMITS: Mapping[str, RouteLimit] = {
    "evaluate": RouteLimit("AID_RATELIMIT_EVALUATE", "evaluate"),
    "login": RouteLimit("AID_RATELIMIT_LOGIN", "login", ("POST",)),  # the web form's GET only shows it
}


def rate_limited(name: str) -> Callable[[F], F]:
    """Mark a view for the limit `name` (a key of LIMITS); put it right under the route decorator."""
    if name not in LIMITS:
        raise KeyError(f"unknown rate limit {name!r}")

    def mark(view: F) -> F:
        setattr(view, MARK, name)
        return view

    return mark


def client_address() -> str:
    """The key of a count: the client's address (after ProxyFix when AID_PROXY_HOPS trusts proxies)."""
    return request.remote_addr or "unknown"


def storage_uri(redis_url: str | None) -> str:
    """Where counters live: the configured Redis (limits names a Unix socket redis+unix://), else memory."""
    if not redis_url:
        return "memory://"
    if redis_url.startswith("unix://"):
        return "redis+" + redis_url
    return redis_url


def _message(limit: RouteLimit) -> Callable[[], str]:
    def message() -> str:
        rate = current_app.config[limit.setting]
        return f"Too many requests from this address (limit {rate}); retry after the seconds in Retry-After."

    return message


def build_limiter(config: Mapping[str, Any]) -> Limiter:
    """A Limiter for one app: counters in Redis or memory, falling back to memory when Redis fails."""
    uri = storage_uri(config.get("AID_REDIS_URL"))
    # No retries and short timeouts, as the sign-in throttle: a request must not wait for an outage.
    options: dict[str, Any] = (
        {"socket_timeout": 1, "socket_connect_timeout": 1, "retry": Retry(NoBackoff(), 0)}
        if uri != "memory://"
        else {}
    )
    return Limiter(
        key_func=client_address,
        storage_uri=uri,
        storage_options=options,
        key_prefix=f"{config.get('AID_REDIS_PREFIX', 'aidservice:')}ratelimit",
        strategy="fixed-window",
        headers_enabled=True,
        header_name_mapping=dict(HEADERS),
        swallow_errors=True,
        in_memory_fallback_enabled=True,
    )


def standard_headers(response: Response) -> Response:
    """RateLimit-Reset in seconds; Retry-After only on a 429 (a 503's own Retry-After is left as it is)."""
    reset_at = response.headers.pop(RESET_AT, None)
    response.headers.pop(LIMITER_RETRY_AFTER, None)
    if reset_at is None:
        return response
    seconds = max(0, ceil(float(reset_at) - time.time()))
    response.headers["RateLimit-Reset"] = str(seconds)
    if response.status_code == 429:
        response.headers["Retry-After"] = str(max(1, seconds))
    return response


def register_rate_limits(app: Flask) -> None:
    """Wrap this app's marked views with its own Limiter; nothing when AID_RATELIMIT_ENABLED is false."""
    if not app.config.get("AID_RATELIMIT_ENABLED"):
        return
    logging.getLogger(LIMITER_LOGGER).setLevel(logging.WARNING)  # no client addresses in the logs
    app.after_request(standard_headers)  # before the limiter's own hook, so it runs after it (reverse order)
    limiter = build_limiter(app.config)
    limiter.init_app(app)
    app.extensions[EXTENSION] = limiter
    for endpoint, view in list(app.view_functions.items()):
        name = getattr(view, MARK, None)
        if name is None:
            continue
        limit = LIMITS[name]
        app.view_functions[endpoint] = limiter.shared_limit(
            _rate(limit.setting),
            scope=limit.scope,
            methods=list(limit.methods) if limit.methods else None,
            error_message=_message(limit),
        )(view)


def _rate(setting: str) -> Callable[[], str]:
    return lambda: current_app.config[setting]
