"""gunicorn settings for aidservice: `gunicorn -c gunicorn.conf.py wsgi:app` from the repository (what `make run`
does), or `gunicorn -c python:aidservice.gunicorn_conf aidservice.wsgi:app` (`aid serve`) where only the package is installed.

Every value can be changed by the environment at start (or by gunicorn's own command-line flags, which win):

- bind: `AID_BIND` (e.g. `0.0.0.0:8000`, `unix:/run/aid.sock`), else `127.0.0.1:$PORT` (PORT default 5000);
- workers: `AID_WORKERS` (default 2); worker class `AID_WORKER_CLASS`: `sync` (default; right for the embedded
  SQLite, whose writers take turns anyway) or `gevent` on PostgreSQL (docs/deployment.md), with
  `AID_WORKER_CONNECTIONS` (default 1000) concurrent requests per gevent worker;
- `timeout` (`AID_WORKER_TIMEOUT`, 120 s): a worker silent that long is killed and replaced, so one request can pin
  a worker for at most that long; it is above the longest legitimate request (a synchronous import of the
  largest allowed file: ~30 s on an idle 2-core machine, ~75 s under load), since every hostile input is refused
  in milliseconds before it costs anything; `graceful_timeout` (`AID_GRACEFUL_TIMEOUT`, 20 s) to finish requests in flight
  on restart or stop;
- `max_requests` (`AID_MAX_REQUESTS`, 1000) with `max_requests_jitter` (`AID_MAX_REQUESTS_JITTER`, 100): a worker
  is replaced after about that many requests (the jitter keeps the workers from restarting together), which
  bounds what a slow leak or a fragmented heap can cost;
- an unsafe configuration (aidservice/refusal.py) stops the master before any worker starts, with one line;
- no control socket: gunicorn 25+ opens one at a fixed path in $HOME, so two servers or checkouts would fight over
  it; no access log: the app writes its own access line per request (aidservice/logs.py, JSON, with request id);
- the `Server` header is the app's (`aidservice`, aidservice/security.py): gunicorn always writes `Server: gunicorn`
  and drops an app's `Server` as hop-by-hop, so here the app's value becomes the one gunicorn writes
  (`app_names_the_server`): one `Server` header, naming no product or version.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from functools import wraps
from typing import Any

from gunicorn.http.wsgi import Response

from aidservice.config import load_config
from aidservice.refusal import refusing_to_start

WORKER_CLASSES = ("sync", "gevent", "gthread")


def _int(name: str, default: int, minimum: int = 0) -> int:
    """An integer setting from the environment; a wrong one stops gunicorn at start, naming the variable."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SystemExit(f"{name} must be an integer, got {raw!r}") from None
    if value < minimum:
        raise SystemExit(f"{name} must be at least {minimum}, got {value}")
    return value


def _worker_class() -> str:
    value = (os.environ.get("AID_WORKER_CLASS") or "sync").strip()
    if value not in WORKER_CLASSES:
        raise SystemExit(f"AID_WORKER_CLASS must be one of {', '.join(WORKER_CLASSES)}, got {value!r}")
    return value


bind = [os.environ.get("AID_BIND") or f"127.0.0.1:{_int('PORT', 5000, 1)}"]
workers = _int("AID_WORKERS", 2, 1)
worker_class = _worker_class()
worker_connections = _int("AID_WORKER_CONNECTIONS", 1000, 1)
timeout = _int("AID_WORKER_TIMEOUT", 120, 1)
graceful_timeout = _int("AID_GRACEFUL_TIMEOUT", 20, 1)
max_requests = _int("AID_MAX_REQUESTS", 1000)
max_requests_jitter = _int("AID_MAX_REQUESTS_JITTER", 100)
control_socket_disable = True
accesslog = None


def on_starting(_server: Any) -> None:
    """gunicorn hook, in the master before any worker: an unsafe configuration stops it with one line (status 3);
    whether the keys match the database is checked by each worker as it builds the app (aidservice/keycheck.py)."""
    with refusing_to_start():
        load_config()


def app_names_the_server(
    process_headers: Callable[[Any, Sequence[tuple[str, str]]], None],
) -> Callable[..., None]:
    """Wrap gunicorn's `Response.process_headers`: an app's `Server` header becomes the one gunicorn writes
    (`Response.version`, which gunicorn otherwise sets to "gunicorn")."""
    if getattr(process_headers, "app_names_the_server", False):
        return process_headers  # this module may be read twice (master and the app's import): wrap once

    @wraps(process_headers)
    def process(response: Any, headers: Sequence[tuple[str, str]]) -> None:
        kept = []
        for name, value in headers:
            if (
                isinstance(name, str)
                and name.lower() == "server"
                and isinstance(value, str)
                and value.isascii()
                and value.isprintable()
            ):  # else gunicorn's own check refuses it
                response.version = value.strip(" \t")
            else:
                kept.append((name, value))
        process_headers(response, kept)

    process.app_names_the_server = True  # type: ignore[attr-defined]
    return process


Response.process_headers = app_names_the_server(Response.process_headers)  # type: ignore[method-assign]
