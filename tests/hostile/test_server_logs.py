"""gunicorn's own lines as JSON, served for real with the shipped gunicorn.conf.py: every line the server and the
app write parses as JSON with a millisecond UTC time, and one request id joins the server's access line, the app's
access line and the response's X-Request-ID; the server's access line carries no path, query or address.
"""

from __future__ import annotations

import http.client
import json
import logging
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from aidservice import gunicorn_conf
from aidservice.logs import RedactingJsonFormatter, ServerAccessFilter
from tests.faults.servers import Gunicorn
from tests.world.factories import id_number
from tests.world.feeds import scratch_database

MILLISECOND_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
NUMBER = id_number(21)


@dataclass(frozen=True)
class Served:
    server: Gunicorn
    log: Path


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    folder = tmp_path_factory.mktemp("server-logs")
    url = next(scratch_database(f"sqlite:///{folder / 'x.sqlite3'}", folder))
    log = folder / "gunicorn.log"  # the server's stdout and stderr, both
    server = Gunicorn({"DATABASE_URL": url, "AID_ENV": "development"}, workers=1, log=log, shipped=True)
    try:
        yield Served(server, log)
    finally:
        server.stop()


def get(served: Served, path: str, **headers: str) -> http.client.HTTPResponse:
    conn = http.client.HTTPConnection("127.0.0.1", served.server.port, timeout=30)
    try:
        conn.request("GET", path, headers=headers)
        response = conn.getresponse()
        response.read()
        return response
    finally:
        conn.close()


def lines(served: Served) -> list[dict[str, object]]:
    """Every line written so far, parsed (a line that is not JSON fails the test here)."""
    text = served.log.read_text(encoding="utf-8")
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def server_access_line(served: Served, request_id: str) -> dict[str, object]:
    """gunicorn writes its access line after the response is sent: wait for it (a wait, not a timing check)."""
    for _ in range(200):
        found = [
            line
            for line in lines(served)
            if line["logger"] == "gunicorn.access" and line.get("request_id") == request_id
        ]
        if found:
            assert len(found) == 1
            return found[0]
        time.sleep(0.05)
    raise AssertionError(f"no server access line for {request_id}: {served.server.tail()}")


def test_the_server_access_line_carries_the_request_id_the_app_answered_and_logged(served: Served) -> None:
    response = get(served, f"/api/v1/health?id={NUMBER}", **{"X-Request-ID": "probe-21"})
    assert response.status == 200 and response.getheader("X-Request-ID") == "probe-21"
    access = server_access_line(served, "probe-21")
    assert (access["method"], access["status"], access["message"]) == ("GET", 200, "server access")
    assert isinstance(access["duration_ms"], float) and isinstance(access["bytes"], int)
    app_lines = [line for line in lines(served) if line["logger"] == "aidservice.access"]
    assert [line["route"] for line in app_lines if line["request_id"] == "probe-21"] == ["/api/v1/health"]


def test_a_generated_request_id_is_the_same_in_the_response_the_app_line_and_the_server_line(
    served: Served,
) -> None:
    response = get(served, "/api/v1/rules")
    request_id = response.getheader("X-Request-ID")
    assert response.status == 200 and request_id
    assert server_access_line(served, request_id)["status"] == 200
    app_ids = [line["request_id"] for line in lines(served) if line["logger"] == "aidservice.access"]
    assert request_id in app_ids


def test_every_line_of_the_server_is_json_with_a_millisecond_utc_time_and_no_path_or_id_number(
    served: Served,
) -> None:
    get(served, f"/api/v1/students/S-0042?q={NUMBER}", **{"X-Request-ID": "probe-21-path"})
    server_access_line(served, "probe-21-path")
    parsed = lines(served)
    loggers = {line["logger"] for line in parsed}
    assert {"gunicorn.error", "gunicorn.access", "aidservice.access"} <= loggers
    assert all(MILLISECOND_UTC.match(str(line["time"])) for line in parsed), parsed
    text = served.log.read_text(encoding="utf-8")
    assert NUMBER not in text and "S-0042" not in text and "/api/v1/students/S" not in text
    assert "127.0.0.1" not in json.dumps([line for line in parsed if line["logger"] == "gunicorn.access"])


def test_an_access_record_from_gunicorn_keeps_only_method_status_bytes_duration_and_request_id() -> None:
    atoms = {"m": "GET", "s": "404", "B": 12, "D": 1500, "U": "/x/S-1", "q": f"id={NUMBER}", "h": "10.0.0.9"}
    made = logging.LogRecord(
        "gunicorn.access", logging.INFO, __file__, 1, "%(h)s %(U)s?%(q)s", (atoms,), None
    )
    assert ServerAccessFilter().filter(made)
    line = json.loads(RedactingJsonFormatter().format(made))
    assert {k: line[k] for k in ("method", "status", "bytes", "duration_ms", "request_id")} == {
        "method": "GET",
        "status": 404,
        "bytes": 12,
        "duration_ms": 1.5,
        "request_id": "",
    }
    assert (
        "S-1" not in json.dumps(line)
        and "10.0.0.9" not in json.dumps(line)
        and NUMBER not in json.dumps(line)
    )


@pytest.mark.parametrize(
    ("database", "expected"),
    [
        ("postgresql://aid@/aidservice?host=/var/run/postgresql", "gevent"),
        ("postgresql+psycopg://aid@db/aidservice", "gevent"),
        ("sqlite:////var/lib/aidservice/aid.sqlite3", "sync"),
        ("", "sync"),
    ],
)
def test_the_worker_class_follows_the_database_unless_set(
    database: str, expected: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AID_WORKER_CLASS", raising=False)
    monkeypatch.setenv("DATABASE_URL", database)
    assert gunicorn_conf._worker_class() == expected
    monkeypatch.setenv("AID_WORKER_CLASS", "gthread")
    assert gunicorn_conf._worker_class() == "gthread"
