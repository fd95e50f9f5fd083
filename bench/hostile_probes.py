"""Issue 15's probes against an app on a fresh SQLite database: one table row per probe, status and milliseconds.

Run from a checkout: `PYTHONPATH=. .venv/bin/python bench/hostile_probes.py`; to compare with an older commit, run
it with PYTHONPATH pointing at that commit's worktree (docs/benchmarks.md, "Hostile input"). A probe still running
after 20 s is interrupted and reported as such.
"""

from __future__ import annotations

import os
import signal
import tempfile
import time
from types import FrameType

from flask import Flask
from flask_migrate import upgrade

from aidservice import create_app
from config import TestingConfig

INTERRUPT_AFTER = 20  # seconds


class StillRunning(Exception):
    """The probe ran past INTERRUPT_AFTER."""


def _interrupt(_signal: int, _frame: FrameType | None) -> None:
    raise StillRunning


def evaluate(income: str) -> bytes:
    return (
        '{"as_of":"2020-09-01","facts":{"stage":"primary","grade":1,"per_capita_income":' + income + "}}"
    ).encode()


PROBES: list[tuple[str, str, str, bytes]] = [
    ("5,000-deep array on /api/v1/health", "GET", "/api/v1/health", b"[" * 5000 + b"]" * 5000),
    ("5,000-deep array on /api/v1/auth/login", "POST", "/api/v1/auth/login", b"[" * 5000 + b"]" * 5000),
    (
        "5,000-deep object on /api/v1/evaluate",
        "POST",
        "/api/v1/evaluate",
        b'{"a":' * 5000 + b"1" + b"}" * 5000,
    ),
    ('income "1e100000000" (text)', "POST", "/api/v1/evaluate", evaluate('"1e100000000"')),
    ("income 1e100000000 (number)", "POST", "/api/v1/evaluate", evaluate("1e100000000")),
    ("income of 5,000 digits", "POST", "/api/v1/evaluate", evaluate("9" * 5000)),
    (
        'income "123456789012345678901234567890.001"',
        "POST",
        "/api/v1/evaluate",
        evaluate('"123456789012345678901234567890.001"'),
    ),
    (
        "grade of 5,000 digits",
        "POST",
        "/api/v1/evaluate",
        b'{"as_of":"2020-09-01","facts":{"stage":"primary","grade":' + b"9" * 5000 + b"}}",
    ),
    (
        "as_of 9999-09-01",
        "POST",
        "/api/v1/evaluate",
        b'{"as_of":"9999-09-01","facts":{"stage":"primary","grade":1}}',
    ),
    (
        "as_of 2021-09-01 (past coverage)",
        "POST",
        "/api/v1/evaluate",
        b'{"as_of":"2021-09-01","facts":{"stage":"primary","grade":1}}',
    ),
    (
        "100,000 keys on /api/v1/evaluate",
        "POST",
        "/api/v1/evaluate",
        ("{" + ",".join(f'"k{i}":1' for i in range(100_000)) + "}").encode(),
    ),
    ("1 MB login body", "POST", "/api/v1/auth/login", b'{"username":"' + b"x" * 1_000_000 + b'"}'),
]


def fresh_app() -> Flask:
    url = f"sqlite:///{tempfile.mkdtemp()}/probes.sqlite3"
    app = create_app(TestingConfig.from_env({"DATABASE_URL": url}))
    with app.app_context():
        upgrade()
    return app


def main() -> None:
    os.environ.setdefault("AID_ENV", "testing")
    client = fresh_app().test_client()
    signal.signal(signal.SIGALRM, _interrupt)
    print("| probe | status | time |\n|---|---|---|")
    for name, method, path, body in PROBES:
        started = time.perf_counter()
        signal.alarm(INTERRUPT_AFTER)
        try:
            outcome = str(
                client.open(path, method=method, data=body, content_type="application/json").status_code
            )
        except StillRunning:
            outcome = f"still running after {INTERRUPT_AFTER} s"
        finally:
            signal.alarm(0)
        print(f"| {name} | {outcome} | {(time.perf_counter() - started) * 1000:.0f} ms |")


if __name__ == "__main__":
    main()
