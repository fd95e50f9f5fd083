"""The spreadsheet import's memory, measured on a served worker (issue 15, item 3).

gunicorn serves the app with one worker; its peak resident size (VmHWM in /proc/<pid>/status) is read
after a small warm-up import and again after the largest allowed file (50,000 rows of the import's
columns with two guardians, as openpyxl writes it: inline strings, ~53 MB of sheet XML). The growth stays
under 200 MB, and the same worker is still there, healthy.

First the file names a school that does not exist on every row, so the import reads, builds and
validates all 50,000 rows, looks them up, and refuses them all (422 listing each); then a zip bomb (1 GiB
of sheet from 1 MB) is refused at once. Second the same file is imported once its school exists: all
50,000 students and their 100,000 guardians are written and re-determined in the one transaction (the
worker's timeout is raised for it), on both databases: +119 MiB in 26 s on SQLite, +146 MiB in 31 s on
PostgreSQL on a 2-core machine (the growth was about +490 MB before the import wrote in chunks).
"""

from __future__ import annotations

import http.client
import io
import json
import time
import uuid
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import openpyxl
import pytest
import sqlalchemy as sa

from aidservice.extensions import db
from aidservice.models import Determination, Guardian, Student
from aidservice.services.roster.import_messages import MAX_REPORTED
from tests.faults.servers import Gunicorn, request
from tests.hostile.workbooks import bomb
from tests.world.factories import id_number, make_school, make_user
from tests.world.feeds import committed_app, scratch_database

pytestmark = [pytest.mark.timeout(900)]
ROWS = 50_000
GROWTH_LIMIT_KIB = 200 * 1024
COLUMNS = [
    "student_id",
    "id_number",
    "name",
    "school_code",
    "class_name",
    "stage",
    "grade",
    "boarding",
    "rural_hukou",
    "agri_major",
    "arts_performance_major",
    "retired_soldier",
    "salaried",
    "guardian1_id_number",
    "guardian1_name",
    "guardian1_relation",
    "guardian2_id_number",
    "guardian2_name",
    "guardian2_relation",
]
GUARDIAN_BORN = date(1980, 1, 1)


def roster(rows: int, first: int = 0, school: str = "S1") -> bytes:
    book = openpyxl.Workbook(write_only=True)
    sheet = book.create_sheet()
    sheet.append(COLUMNS)
    for i in range(first, first + rows):
        sheet.append(
            [
                f"M{i:06d}",
                id_number(10_000 + i),
                "学生某某",
                school,
                "初一(2)班",
                "junior",
                1,
                "否",
                "是",
                "否",
                "否",
                "否",
                "否",
                id_number(200_000 + i, born=GUARDIAN_BORN),
                "父亲某某",
                "father",
                id_number(400_000 + i, born=GUARDIAN_BORN),
                "母亲某某",
                "mother",
            ]
        )
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def peak_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise AssertionError("no VmHWM")


def post_file(port: int, token: str, content: bytes, timeout: float = 600) -> tuple[int, Any, float]:
    boundary = uuid.uuid4().hex
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="roster.xlsx"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n"
        ).encode()
        + content
        + f"\r\n--{boundary}--\r\n".encode()
    )
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    started = time.monotonic()
    try:
        conn.request(
            "POST",
            "/api/v1/students/import",
            body=body,
            headers={
                "Authorization": f"Bearer {token}",
                "Content-Type": f"multipart/form-data; boundary={boundary}",
            },
        )
        response = conn.getresponse()
        raw = response.read()
    finally:
        conn.close()
    return response.status, json.loads(raw), time.monotonic() - started


@pytest.fixture(scope="module")
def largest() -> bytes:
    """The largest allowed file, its school S9 (built once: ~15 s)."""
    return roster(ROWS, school="S9")


@pytest.fixture
def database(db_url: str, tmp_path: Path) -> Iterator[str]:
    yield from scratch_database(db_url, tmp_path)


def start(url: str, log: Path, *schools: str) -> tuple[Gunicorn, str]:
    """gunicorn with one worker on `url` (its timeout raised: a 50,000-row import is one long request), and a
    county administrator's token; the schools are created first."""
    app = committed_app(url)
    with app.app_context():
        for code in schools:
            make_school(db.session, code, "320102", stages=("primary", "junior"))
        token = make_user(db.session, "county_admin", region_code="320102")[1]
        db.session.commit()
        db.engine.dispose()
    return Gunicorn(
        {"DATABASE_URL": url, "AID_WORKER_TIMEOUT": "600"}, workers=1, log=log, shipped=True
    ), token


@pytest.fixture
def served(database: str, tmp_path: Path) -> Iterator[tuple[Gunicorn, str]]:
    server, token = start(database, tmp_path / "gunicorn.log", "S1")
    try:
        yield server, token
    finally:
        server.stop()


def test_the_largest_allowed_file_and_a_zip_bomb_keep_the_worker_under_200_mb(
    served: tuple[Gunicorn, str],
    largest: bytes,
) -> None:
    server, token = served
    [worker] = server.worker_pids()
    status, body, _elapsed = post_file(server.port, token, roster(20, first=ROWS))
    assert status == 200 and body["created"] == 20, body
    before = peak_kib(worker)

    status, body, elapsed = post_file(server.port, token, largest)
    assert status == 422, body
    assert body["total_errors"] == ROWS and len(body["errors"]) == MAX_REPORTED  # every row counted, 500 told
    assert body["errors"]["rows.2.school_code"] == ["学校代码 S9 不存在"]
    largest = peak_kib(worker) - before
    assert largest < GROWTH_LIMIT_KIB, f"{largest // 1024} MiB in {elapsed:.1f} s"

    status, body, elapsed = post_file(server.port, token, bomb(1024))
    assert status == 413 and "100:1" in body["errors"]["file"][0], body
    assert elapsed < 2
    assert peak_kib(worker) - before < GROWTH_LIMIT_KIB
    assert request("GET", server.port, "/api/v1/health").status == 200
    assert server.worker_pids() == {worker}, server.tail()
    print(f"largest file: +{largest // 1024} MiB peak; bomb refused in {elapsed:.2f} s")


@pytest.mark.databases
def test_importing_the_largest_allowed_file_keeps_the_worker_under_200_mb(
    database: str,
    tmp_path: Path,
    largest: bytes,
) -> None:
    """50,000 new students with two guardians each, written and re-determined: the worker grows < 200 MiB."""
    server, token = start(database, tmp_path / "gunicorn.log", "S1", "S9")
    try:
        [worker] = server.worker_pids()
        status, body, _elapsed = post_file(server.port, token, roster(20, first=ROWS))
        assert status == 200 and body["created"] == 20, body
        before = peak_kib(worker)

        status, body, elapsed = post_file(server.port, token, largest)
        growth = peak_kib(worker) - before
        print(f"50,000 rows imported: +{growth // 1024} MiB peak in {elapsed:.1f} s")
        assert status == 200, body
        assert body == {"created": ROWS, "updated": 0, "unchanged": 0, "rejected": []}
        assert growth < GROWTH_LIMIT_KIB, f"{growth // 1024} MiB in {elapsed:.1f} s"
        assert elapsed < 180
        assert request("GET", server.port, "/api/v1/health").status == 200
        assert server.worker_pids() == {worker}, server.tail()
    finally:
        server.stop()
    engine = sa.create_engine(database)
    try:
        with engine.connect() as conn:
            count = sa.select(sa.func.count())
            assert (
                conn.execute(count.select_from(Student).where(Student.school_code == "S9")).scalar() == ROWS
            )
            assert conn.execute(count.select_from(Guardian)).scalar() == 2 * (ROWS + 20)
            assert (
                conn.execute(count.select_from(Determination).where(Determination.current)).scalar()
                == ROWS + 20
            )
    finally:
        engine.dispose()
