"""No product in `Server`, no framing anywhere, and a SQLite database only its owner can read (issue 16, item 8).

The `Server` header is checked through a real gunicorn with the shipped gunicorn.conf.py (gunicorn writes its own
`Server: gunicorn` and drops an app's; the shipped config makes the app's the one written). The database file and
its WAL side files are checked after `flask db upgrade` on a fresh path under a permissive umask.
"""

from __future__ import annotations

import os
import sqlite3
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from aidservice.gunicorn_conf import app_names_the_server
from aidservice.security import SERVER
from config import REPO_ROOT
from tests.faults.servers import Gunicorn, request

PAGES = [
    "/login",
    "/",
    "/no-such-page",
    "/static/aid.css",
    "/api/v1/health",
    "/api/v1/rules",
    "/api/v1/no-such-thing",
    "/api/v1/openapi.json",
    "/api/v1/docs",
    "/api/v1/students/S1",
    "/health/live",
    "/metrics",
]


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


# ---------------------------------------------------------------------------------------------- headers


@pytest.mark.parametrize("url", PAGES)
def test_every_response_forbids_framing_and_names_no_server_product(client: FlaskClient, url: str) -> None:
    response = client.get(url)
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"], url
    assert response.headers.getlist("Server") == [SERVER] == ["aidservice"], url


def test_a_views_own_policy_gains_frame_ancestors(app: Flask, client: FlaskClient) -> None:
    app.add_url_rule(
        "/api/v1/_test/own", "own", lambda: ("<p>x</p>", 200, {"Content-Security-Policy": "img-src 'self';"})
    )
    assert (
        client.get("/api/v1/_test/own").headers["Content-Security-Policy"]
        == "img-src 'self'; frame-ancestors 'none'"
    )


def test_the_gunicorn_hook_keeps_the_apps_server_and_lets_gunicorn_check_anything_odd() -> None:
    seen: list[list[tuple[str, str]]] = []

    class Fake:
        version = "gunicorn"

        process_headers = app_names_the_server(lambda self, headers: seen.append(list(headers)))

    response = Fake()
    response.process_headers([("Server", "aidservice"), ("X-A", "1")])
    assert response.version == "aidservice" and seen[-1] == [("X-A", "1")]
    response.process_headers([("Server", "evil\r\nSet-Cookie: x=1")])
    assert response.version == "aidservice" and seen[-1] == [
        ("Server", "evil\r\nSet-Cookie: x=1")
    ]  # gunicorn refuses
    assert app_names_the_server(Fake.process_headers) is Fake.process_headers  # wrapped once


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Gunicorn]:
    url = f"sqlite:///{tmp_path / 'served.sqlite3'}"
    env = {"DATABASE_URL": url}
    subprocess.run(
        [sys.executable, "-m", "flask", "--app", "wsgi", "db", "upgrade"],
        cwd=REPO_ROOT,
        check=True,
        capture_output=True,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT), **env},
        timeout=120,
    )
    server = Gunicorn(env, workers=1, shipped=True, log=tmp_path / "gunicorn.log")
    try:
        yield server
    finally:
        server.stop()


def test_gunicorn_with_the_shipped_config_sends_one_server_header_naming_no_product(served: Gunicorn) -> None:
    for path in ("/api/v1/health", "/login", "/no-such-page", "/api/v1/no-such-thing", "/static/aid.css"):
        reply = request("GET", served.port, path)
        assert reply.status in (200, 404), (path, reply)
        servers = [value for name, value in reply.headers.items() if name.lower() == "server"]
        assert servers == ["aidservice"], (path, reply.headers)
        assert "gunicorn" not in str(reply.headers).lower() and "werkzeug" not in str(reply.headers).lower()
        assert "frame-ancestors 'none'" in reply.headers.get("Content-Security-Policy", ""), path


# ------------------------------------------------------------------------------------------------ files


def upgrade(url: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "wsgi", "db", "upgrade"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        umask=0o022,  # what a login shell has: files would be 0644
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT), "DATABASE_URL": url},
    )
    assert done.returncode == 0, done.stderr[-2000:]


def test_db_upgrade_on_a_fresh_path_makes_the_database_and_its_side_files_owner_only(tmp_path: Path) -> None:
    database = tmp_path / "fresh" / "aid.sqlite3"
    upgrade(f"sqlite:///{database}")
    assert mode(database.parent) == 0o700
    files = [database, Path(f"{database}-wal"), Path(f"{database}-shm")]
    present = [f for f in files if f.exists()]
    assert database in present
    assert {f.name: oct(mode(f)) for f in present} == {f.name: "0o600" for f in present}


def test_a_database_left_readable_by_others_is_made_owner_only_at_connect(tmp_path: Path) -> None:
    database = tmp_path / "old.sqlite3"
    sqlite3.connect(database).close()
    database.chmod(0o644)
    upgrade(f"sqlite:///{database}")
    assert mode(database) == 0o600
    for side in (Path(f"{database}-wal"), Path(f"{database}-shm")):
        if side.exists():
            assert mode(side) == 0o600, side
