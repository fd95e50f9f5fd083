"""gunicorn settings for aidservice: `gunicorn -c gunicorn.conf.py wsgi:app` from the repository (what `make run`
does), or `gunicorn -c python:aidservice.gunicorn_conf aidservice.wsgi:app` (`aid serve`) where only the package is installed.

Every value can be changed by the environment at start (or by gunicorn's own command-line flags, which win):

- bind: `AID_BIND` (e.g. `0.0.0.0:8000`, `unix:/run/aid.sock`), else `127.0.0.1:$PORT` (PORT default 5000);
- workers: `AID_WORKERS` (default 2); worker class `AID_WORKER_CLASS`, by default chosen by the database:
  `gevent` when DATABASE_URL is PostgreSQL (a request mostly waits for the database, and psycopg 3 waits
  cooperatively under gevent: docs/deployment.md, *Serving*), `sync` on the embedded SQLite (its writers take
  turns anyway, and a sync worker holds one connection); `AID_WORKER_CONNECTIONS` (default 1000) concurrent
  requests per gevent worker;
- `timeout` (`AID_WORKER_TIMEOUT`, 120 s): a worker silent that long is killed and replaced, so one request can pin
  a worker for at most that long; it is above the longest legitimate request (a synchronous import of the
  largest allowed file: ~30 s on an idle 2-core machine, ~75 s under load), since every hostile input is refused
  in milliseconds before it costs anything; `graceful_timeout` (`AID_GRACEFUL_TIMEOUT`, 20 s) to finish requests in flight
  on restart or stop;
- `max_requests` (`AID_MAX_REQUESTS`, 1000) with `max_requests_jitter` (`AID_MAX_REQUESTS_JITTER`, 100): a worker
  is replaced after about that many requests (the jitter keeps the workers from restarting together), which
  bounds what a slow leak or a fragmented heap can cost;
- an unsafe configuration (aidservice/refusal.py) stops the master before any worker starts, with one line;
- metrics (aidservice/metrics.py): with `PROMETHEUS_MULTIPROC_DIR` set (a folder only this server uses, e.g.
  systemd's RuntimeDirectory), the workers share their counts there; `on_starting` empties it and `child_exit`
  drops a dead worker's gauges, so `/metrics` from any worker reports the whole server;
- no control socket: gunicorn 25+ opens one at a fixed path in $HOME, so two servers or checkouts would fight over
  it;
- logs (`logconfig_dict`): gunicorn's error and access lines go to stderr as JSON through the app's formatter
  (aidservice/logs.py: UTC with milliseconds, ID numbers masked); the server's access line carries the response's
  X-Request-ID, the id of the app's lines for the same request, and only method, status, bytes and duration (no
  path or query: the app's own access line names the route rule); `AID_LOG_LEVEL` sets the error log's level;
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

from aidservice.config import LOG_LEVELS, database_url, load_config
from aidservice.metrics import clear_multiprocess_dir, mark_process_dead
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
    """AID_WORKER_CLASS, else gevent on PostgreSQL and sync on SQLite (the module docstring says why)."""
    default = "gevent" if database_url(os.environ).startswith("postgresql") else "sync"
    value = (os.environ.get("AID_WORKER_CLASS") or default).strip()
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
accesslog = None  # the access lines go through logconfig_dict's handler, not gunicorn's plain-text file


def _logconfig(level: str) -> dict[str, Any]:
    """logging.config.dictConfig for the server: every line JSON on stderr (gunicorn merges this over its defaults,
    one top-level key at a time, so each key it has is given here)."""
    json_handler = {"class": "aidservice.logs.StderrHandler", "formatter": "json"}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": "aidservice.logs.RedactingJsonFormatter"}},
        "filters": {"server_access": {"()": "aidservice.logs.ServerAccessFilter"}},
        "handlers": {
            "json": json_handler,
            "access": {**json_handler, "filters": ["server_access"]},
        },
        "root": {"level": "WARNING", "handlers": ["json"]},  # libraries' warnings: JSON too, not plain text
        "loggers": {
            "gunicorn.error": {"level": level, "handlers": ["json"], "propagate": False},
            "gunicorn.access": {"level": "INFO", "handlers": ["access"], "propagate": False},
            # the app gives this logger its own JSON handler (configure_logger); not again through the root's
            "aidservice": {"propagate": False},
        },
    }


_level = (os.environ.get("AID_LOG_LEVEL") or "INFO").strip().upper()
# a wrong level is refused with one line by on_starting (load_config); until then the server logs at INFO
logconfig_dict = _logconfig(_level if _level in LOG_LEVELS else "INFO")


def on_starting(_server: Any) -> None:
    """gunicorn hook, in the master before any worker: an unsafe configuration stops it with one line (status 3);
    whether the keys match the database is checked by each worker as it builds the app (aidservice/keycheck.py)."""
    with refusing_to_start():
        load_config()
    clear_multiprocess_dir()  # a previous run's worker files would be summed into /metrics


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


def child_exit(_server: Any, worker: Any) -> None:
    """gunicorn hook, in the master when a worker exits: with PROMETHEUS_MULTIPROC_DIR set (several workers share
    their counts there, aidservice/metrics.py), its live gauges are dropped from /metrics."""
    mark_process_dead(worker.pid)
