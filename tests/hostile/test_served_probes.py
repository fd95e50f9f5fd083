"""Every hostile probe of issue 15 against a real gunicorn, as `make run` serves: refused fast, and afterwards
the service is healthy: health answers within a second, no worker was restarted, no traceback reached the
log, and the audit chain verifies.

The unit-level tests beside this module hold each refusal's field and that nothing was stored; this one holds
that none of them costs a worker, which only a real server shows (a worker pinned at 100 % CPU is killed by
gunicorn's timeout, a RecursionError or MemoryError can take the process down).
"""

from __future__ import annotations

import http.client
import io
import json
import os
import subprocess
import sys
import time
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest

from aidservice.extensions import db
from config import REPO_ROOT
from tests.faults.servers import Gunicorn
from tests.timing_support import FAST, SLOW_FILE
from tests.world.factories import id_number, make_client, make_school, make_user
from tests.world.feeds import committed_app, scratch_database

SECOND = FAST
SHEET_SECONDS = SLOW_FILE  # a spreadsheet probe reads (and refuses) a file of up to a few megabytes


@dataclass(frozen=True)
class Served:
    server: Gunicorn
    officer: str
    agency: str
    url: str
    workers: frozenset[int]


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """gunicorn with the shipped gunicorn.conf.py (2 sync workers, as `make run`) on a committed SQLite database
    holding a school and its callers."""
    folder = tmp_path_factory.mktemp("served-probes")
    url = next(scratch_database(f"sqlite:///{folder / 'x.sqlite3'}", folder))
    app = committed_app(url)
    with app.app_context():
        make_school(db.session, "S1", "320102", stages=("primary", "junior"))
        officer = make_user(db.session, "school_officer", school_code="S1")[1]
        agency = make_client(db.session, "civil_affairs")
        db.session.commit()
        db.engine.dispose()
    server = Gunicorn(
        {"DATABASE_URL": url, "AID_ENV": "development"}, log=folder / "gunicorn.log", shipped=True
    )
    try:
        yield Served(server, officer, agency, url, frozenset(server.worker_pids()))
    finally:
        server.stop()


def send(
    served: Served,
    method: str,
    path: str,
    body: bytes,
    *,
    token: str | None = None,
    content_type: str = "application/json",
) -> tuple[int, str, float]:
    """One raw request: (status, content type, seconds)."""
    headers = {"Content-Type": content_type}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    conn = http.client.HTTPConnection("127.0.0.1", served.server.port, timeout=60)
    started = time.monotonic()
    try:
        conn.request(method, path, body=body, headers=headers)
        response = conn.getresponse()
        response.read()
        return response.status, response.getheader("Content-Type") or "", time.monotonic() - started
    finally:
        conn.close()


def _deep(depth: int) -> bytes:
    return ("[" * depth + "]" * depth).encode()


def _evaluate(income: str) -> bytes:
    return (
        '{"as_of": "2020-09-01", "facts": {"stage": "primary", "grade": 1, "per_capita_income": '
        + income
        + "}}"
    ).encode()


def _batch(record: str) -> bytes:
    return ('{"batch_id": "P-1", "records": [' + record + "]}").encode()


def _record(**fields: str) -> str:
    base = {
        "id_number": json.dumps(id_number(301)),
        "name": '"王五"',
        "status": '"orphan"',
        "valid_from": '"2020-01-01"',
        "valid_to": "null",
        "attributes": "{}",
        **fields,
    }
    return "{" + ",".join(f'"{key}": {value}' for key, value in base.items()) + "}"


def _entity_workbook() -> bytes:
    """A workbook whose sheet declares an entity (billion laughs, shortened)."""
    laughs = (
        '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;">]>'
        '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>'
        '<row r="1"><c r="A1" t="inlineStr"><is><t>&b;</t></is></c></row></sheetData></worksheet>'
    )
    return _workbook(laughs)


def _zip_bomb() -> bytes:
    """A sheet that inflates to 300 MB from well under a megabyte."""
    head = (
        '<?xml version="1.0"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
        '<sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>'
    )
    return _workbook(head + " " * 300_000_000 + "</t></is></c></row></sheetData></worksheet>")


def _workbook(sheet: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(
            "[Content_Types].xml",
            (
                '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
                '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
                '<Default Extension="xml" ContentType="application/xml"/>'
                '<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.'
                'spreadsheetml.sheet.main+xml"/><Override PartName="/xl/worksheets/sheet1.xml" ContentType='
                '"application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/></Types>'
            ),
        )
        archive.writestr(
            "_rels/.rels",
            (
                '<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
                '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
                'officeDocument" Target="xl/workbook.xml"/></Relationships>'
            ),
        )
        archive.writestr(
            "xl/workbook.xml",
            (
                '<?xml version="1.0"?><workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
                'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets>'
                '<sheet name="Sheet1" sheetId="1" r:id="rId1"/></sheets></workbook>'
            ),
        )
        archive.writestr(
            "xl/_rels/workbook.xml.rels",
            (
                '<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
                '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
                'worksheet" Target="worksheets/sheet1.xml"/></Relationships>'
            ),
        )
        archive.writestr("xl/worksheets/sheet1.xml", sheet)
    return buffer.getvalue()


def _multipart(filename: str, data: bytes) -> tuple[bytes, str]:
    boundary = "hostileboundary7e3f"
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{filename}"\r\n'
            f"Content-Type: application/octet-stream\r\n\r\n"
        ).encode()
        + data
        + f"\r\n--{boundary}--\r\n".encode()
    )
    return body, f"multipart/form-data; boundary={boundary}"


JSON_PROBES = {
    "deep health": ("GET", "/api/v1/health", _deep(5000), None),
    "deep login": ("POST", "/api/v1/auth/login", _deep(5000), None),
    "deep evaluate": ("POST", "/api/v1/evaluate", _deep(5000), None),
    "deep object evaluate": ("POST", "/api/v1/evaluate", b'{"a":' * 5000 + b"1" + b"}" * 5000, None),
    "huge exponent": ("POST", "/api/v1/evaluate", _evaluate("1e100000000"), None),
    "huge exponent as text": ("POST", "/api/v1/evaluate", _evaluate('"1e100000000"'), None),
    "5000 digits": ("POST", "/api/v1/evaluate", _evaluate("9" * 5000), None),
    "30-digit decimal text": (
        "POST",
        "/api/v1/evaluate",
        _evaluate('"123456789012345678901234567890.001"'),
        None,
    ),
    "oversized login": ("POST", "/api/v1/auth/login", b'{"username": "' + b"x" * 1_000_000 + b'"}', None),
    "as_of outside coverage": (
        "POST",
        "/api/v1/evaluate",
        b'{"as_of": "9999-09-01", "facts": {"stage": "primary", "grade": 1}}',
        None,
    ),
    "NaN in a feed record": (
        "POST",
        "/api/v1/feeds/civil_affairs/batches",
        _batch(_record(attributes='{"note": NaN}')),
        "agency",
    ),
    "Arabic-Indic digits in a feed record": (
        "POST",
        "/api/v1/feeds/civil_affairs/batches",
        _batch(_record(id_number='"٣٢٠١٠٢٢٠٠٨٠٣٠١٣٠١١"')),
        "agency",
    ),
    "year 9999 in a feed record": (
        "POST",
        "/api/v1/feeds/civil_affairs/batches",
        _batch(_record(valid_to='"9999-12-31"')),
        "agency",
    ),
    "full-width digits in a student": (
        "PUT",
        "/api/v1/students/P-1",
        json.dumps(
            {
                "id_number": "３２０１０２２００８０３０１３０１１",
                "name": "李四",
                "school_code": "S1",
                "class_name": "一班",
                "stage": "primary",
                "grade": 1,
                "guardians": [],
            },
            ensure_ascii=False,
        ).encode(),
        "officer",
    ),
}


def _token(served: Served, who: str | None) -> str | None:
    return {"agency": served.agency, "officer": served.officer}.get(who or "")


@pytest.mark.parametrize("name", list(JSON_PROBES))
def test_each_json_probe_is_refused_fast_by_a_real_server(served: Served, name: str) -> None:
    method, path, body, who = JSON_PROBES[name]
    status, content_type, seconds = send(served, method, path, body, token=_token(served, who))
    assert 400 <= status < 500 or (status == 200 and "feeds" in path), (name, status)
    assert content_type.startswith("application/problem+json") or status == 200, (name, content_type)
    assert seconds < SECOND, (name, seconds)


@pytest.mark.parametrize("name, workbook", [("entity", _entity_workbook), ("zip bomb", _zip_bomb)])
def test_each_spreadsheet_probe_is_refused_fast_by_a_real_server(
    served: Served, name: str, workbook: Callable[[], bytes]
) -> None:
    body, content_type = _multipart("roster.xlsx", workbook())
    status, answered, seconds = send(
        served,
        "POST",
        "/api/v1/students/import?school=S1",
        body,
        token=served.officer,
        content_type=content_type,
    )
    assert status in (413, 422), (name, status)
    assert answered.startswith("application/problem+json"), (name, answered)
    assert seconds < SHEET_SECONDS, (name, seconds)


def test_after_every_probe_the_service_is_healthy_and_the_audit_chain_verifies(served: Served) -> None:
    """Runs last in this module (pytest keeps definition order): the probes above have all been sent."""
    status, _, seconds = send(served, "GET", "/api/v1/health", b"")
    assert status == 200 and seconds < SECOND
    assert served.server.worker_pids() == served.workers  # no worker was killed or restarted
    assert served.server.tail() and "Traceback" not in served.server.log.read_text(errors="replace")
    assert "WORKER TIMEOUT" not in served.server.log.read_text(errors="replace")
    verified = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "wsgi", "aid", "audit", "verify"],
        cwd=REPO_ROOT,
        env={**os.environ, "DATABASE_URL": served.url},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert "intact" in verified.stdout
