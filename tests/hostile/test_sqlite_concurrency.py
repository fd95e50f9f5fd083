"""The embedded SQLite default under concurrent writers, served as `make run` serves it (issue 15, item 7).

gunicorn with the shipped gunicorn.conf.py and 2 sync workers on a migrated SQLite file; six clients PUT students
at once. With plain (deferred) BEGIN a transaction that read first and then wrote got SQLITE_BUSY at once when
another worker held the write lock: 503s. With BEGIN IMMEDIATE each writer waits its turn (busy_timeout), and in
WAL mode a read-only route answers without waiting for the writers.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from aidservice.extensions import db
from aidservice.models import Student
from config import REPO_ROOT
from tests.faults.servers import Gunicorn, request
from tests.timing_support import FAST
from tests.world.factories import id_number, make_school, make_user
from tests.world.feeds import committed_app, scratch_database

CLIENTS, WRITES = 6, 30
SCHOOL = "3201020001"


@dataclass
class Served:
    port: int
    token: str
    url: str
    log: Path


def payload(client: int, write: int) -> dict[str, Any]:
    return {
        "id_number": id_number(900 + client),
        "name": "学生",
        "school_code": SCHOOL,
        "class_name": f"{write + 1}班",
        "stage": "junior",
        "grade": 1 + write % 3,
        "guardians": [
            {
                "id_number": id_number(9100 + client, born=date(1980, 5, 1)),
                "name": "家长",
                "relation": "mother",
            }
        ],
    }


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    """gunicorn -c gunicorn.conf.py (2 sync workers, as `make run`) on a fresh SQLite file with an officer's token."""
    url = next(scratch_database(f"sqlite:///{tmp_path / 'unused.sqlite3'}", tmp_path))
    app = committed_app(url)
    with app.app_context():
        published = app.test_cli_runner().invoke(args=["aid", "rules", "publish"])
        assert published.exit_code == 0, published.output
        make_school(db.session, SCHOOL, "320102", stages=("primary", "junior"))
        _user, token = make_user(db.session, "school_officer", school_code=SCHOOL)
        db.session.commit()
        db.engine.dispose()
    log = tmp_path / "gunicorn.log"
    server = Gunicorn(
        {"DATABASE_URL": url, "AID_ENV": "development", "AID_RULES_DIR": str(REPO_ROOT / "rules")},
        workers=2,
        preferred_port=5317,
        log=log,
        shipped=True,
    )
    try:
        yield Served(server.port, token, url, log)
    finally:
        server.stop()


def test_six_clients_writing_students_at_once_get_no_error_and_reads_do_not_wait(served: Served) -> None:
    statuses: list[int] = []
    lock = threading.Lock()
    start = threading.Barrier(CLIENTS + 1)

    def writer(client: int) -> None:
        start.wait()
        for write in range(WRITES):
            reply = request(
                "PUT",
                served.port,
                f"/api/v1/students/C{client}",
                body=payload(client, write),
                token=served.token,
                timeout=60,
            )
            with lock:
                statuses.append(reply.status)

    threads = [threading.Thread(target=writer, args=(client,)) for client in range(CLIENTS)]
    for thread in threads:
        thread.start()
    start.wait()
    time.sleep(0.3)  # the writers are at it
    reads = [
        request("GET", served.port, "/api/v1/students/C0", token=served.token, timeout=30) for _ in range(5)
    ]
    for thread in threads:
        thread.join(timeout=300)
    errors = sorted(status for status in statuses if status not in (200, 201))
    assert len(statuses) == CLIENTS * WRITES and errors == [], f"{len(errors)} errors: {errors[:10]}"
    assert all(read.status in (200, 404) for read in reads)  # C0 may not exist yet at the first read
    slowest = max(read.ended - read.started for read in reads)
    assert slowest < FAST, f"a read waited {slowest:.2f} s for the writers"
    engine = sa.create_engine(served.url)
    with engine.connect() as conn:
        stored = conn.execute(sa.select(Student.student_id, Student.class_name)).all()
        mode = conn.exec_driver_sql("PRAGMA journal_mode").scalar()
    engine.dispose()
    assert sorted(stored) == [
        (f"C{client}", f"{WRITES}班") for client in range(CLIENTS)
    ]  # every last write won
    assert mode == "wal"
