"""kill -9 of the process doing the work: a gunicorn worker mid feed batch, `aid redetermine` mid run.

The batch: gunicorn serves the app; its worker halts the first batch after every row went to the database,
just before the commit (tests/faults/stall_wsgi.py), and is killed with SIGKILL. The client sees the
connection drop; nothing of the batch is stored; gunicorn's new worker takes the retry of the same batch_id,
which completes, and the rows written equal those of the same batch on a database that never saw a crash.
The run: the real CLI, killed as soon as its first chunks are committed; running it again with the same
--job-key resumes after the cursor and ends with the determinations of a clean run.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from aidservice.extensions import SQLITE_BEGIN, db
from aidservice.models import Determination, Job, Student
from config import REPO_ROOT
from tests.faults.servers import Gunicorn, request
from tests.world.factories import id_number, make_client
from tests.world.feeds import committed_app, person, record, row_counts, school, scratch_database, student

pytestmark = [pytest.mark.databases, pytest.mark.outage, pytest.mark.timeout(300)]
STUDENTS = 200
FEED = "/api/v1/feeds/civil_affairs/batches"


def populate(url: str) -> str:
    """STUDENTS students with a guardian each and a civil_affairs client, committed; returns its token."""
    app = committed_app(url)
    with app.app_context():
        at = school(stages=("primary", "junior"))
        for i in range(1, STUDENTS + 1):
            student(f"S{i:04d}", at, seed=i, guardians=[10_000 + i], stage="junior" if i % 2 else "primary")
        token = make_client(db.session, "civil_affairs")
        db.session.commit()
        db.engine.dispose()
    return token


def big_batch() -> dict[str, Any]:
    """Household statuses on every guardian, orphans among the students, and people nobody enrolled."""
    records = [record(person(10_001 + i), "subsistence_allowance") for i in range(STUDENTS)]
    records += [record(id_number(i), "orphan") for i in range(1, 51)]
    records += [record(person(50_000 + i), "subsistence_allowance") for i in range(300)]
    return {"batch_id": "KILL-1", "records": records}


def counts(url: str) -> dict[str, int]:
    app = committed_app(url)
    with app.app_context():
        found = row_counts()
        db.session.rollback()
        db.engine.dispose()
    return found


def write_transaction_open(url: str) -> bool:
    """Someone holds an uncommitted write on the database (what the halted worker must be doing)."""
    parsed = sa.engine.make_url(url)
    if parsed.get_backend_name() == "sqlite":
        conn = sqlite3.connect(parsed.database, timeout=0)
        try:
            conn.execute("BEGIN IMMEDIATE")  # a writer's RESERVED lock refuses this at once
        except sqlite3.OperationalError as error:
            return "locked" in str(error)
        finally:
            conn.close()
        return False
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        held = conn.scalar(
            sa.text(
                "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation "
                "WHERE c.relname = 'agency_records' AND l.mode = 'RowExclusiveLock' AND l.pid <> pg_backend_pid()"
            )
        )
    engine.dispose()
    return bool(held)


@pytest.fixture
def scratch_urls(db_url: str, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """Two fresh databases of the backend: one for the crash, one for the clean run to compare with."""
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    for crashed in scratch_database(db_url, tmp_path / "a"):
        for clean in scratch_database(db_url, tmp_path / "b"):
            yield crashed, clean


def test_a_gunicorn_worker_killed_mid_batch_stores_nothing_and_the_retry_matches_a_clean_run(
    scratch_urls: tuple[str, str], tmp_path: Path
) -> None:
    crashed, clean = scratch_urls
    token, clean_token = populate(crashed), populate(clean)
    body = big_batch()
    marker = tmp_path / "halted.pid"
    server = Gunicorn(
        {"DATABASE_URL": crashed, "AID_FAULT_MARKER": str(marker)},
        workers=1,
        app="tests.faults.stall_wsgi:app",
        log=tmp_path / "gunicorn.log",
    )
    try:
        first = server.worker_pids()
        replies: list[Any] = []
        sender = threading.Thread(
            target=lambda: replies.append(
                request("POST", server.port, FEED, body=body, token=token, timeout=120)
            )
        )
        sender.start()
        deadline = time.monotonic() + 120
        while not marker.exists():
            assert time.monotonic() < deadline and sender.is_alive(), (replies, server.tail())
            time.sleep(0.02)
        assert write_transaction_open(crashed)  # the batch's rows are in the database, uncommitted
        worker = int(marker.read_text())
        assert worker in first
        os.kill(worker, signal.SIGKILL)
        sender.join(timeout=60)
        (cut,) = replies
        assert cut.status == 0 and cut.error, cut  # the client saw the connection drop, not an answer
        assert counts(crashed) == counts(clean)  # nothing of the batch (nor its audit event) survived

        server.wait_ready()
        assert server.worker_pids() and server.worker_pids() != first  # gunicorn replaced the worker
        retry = request("POST", server.port, FEED, body=body, token=token, timeout=120)
        replay = request("POST", server.port, FEED, body=body, token=token, timeout=120)
    finally:
        server.stop()
    assert retry.status == 200, (retry.body, server.tail())
    app = committed_app(clean)
    answer = app.test_client().post(FEED, json=body, headers={"Authorization": f"Bearer {clean_token}"})
    with app.app_context():
        db.engine.dispose()
    assert retry.body == answer.get_json() == replay.body
    assert retry.body["accepted"] == len(body["records"]) and retry.body["matched_students"] == STUDENTS
    assert counts(crashed) == counts(clean)


def cli(url: str, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "flask", "--app", "wsgi", "aid", *args],
        cwd=REPO_ROOT,
        env={**os.environ, "DATABASE_URL": url, "AID_SCHOOL_YEAR": "2020-2021"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def job_cursor(url: str, key: str) -> tuple[str, int | None] | None:
    # a reader: on SQLite a deferred transaction, or polling takes the writer's lock between the run's chunks
    engine = sa.create_engine(url, execution_options={SQLITE_BEGIN: "DEFERRED"})
    with engine.connect() as conn:
        row = conn.execute(sa.select(Job.state, Job.cursor).where(Job.key == key)).first()
    engine.dispose()
    return None if row is None else (row[0], row[1])


def test_aid_redetermine_killed_mid_run_resumes_after_its_cursor_and_ends_like_a_clean_run(
    db_url: str, tmp_path: Path
) -> None:
    for url in scratch_database(db_url, tmp_path):
        populate(url)
        run = cli(url, "redetermine", "--job-key", "kill-9", "--chunk", "10")
        deadline = time.monotonic() + 120
        while (job := job_cursor(url, "kill-9")) is None or job[1] is None:
            assert run.poll() is None, run.communicate()
            assert time.monotonic() < deadline, "no chunk was committed in time"
            time.sleep(0.01)
        run.send_signal(signal.SIGKILL)
        run.communicate(timeout=60)
        assert run.returncode == -signal.SIGKILL
        state, cursor = job_cursor(url, "kill-9") or ("", None)
        app = committed_app(url)
        with app.app_context():
            pks = db.session.scalars(sa.select(Student.id).order_by(Student.id)).all()
            stored = db.session.scalar(sa.select(sa.func.count()).select_from(Determination))
            db.session.rollback()
            db.engine.dispose()
        assert state == "running" and cursor is not None and cursor < pks[-1]
        done = pks.index(cursor) + 1
        assert done % 10 == 0 and stored == done  # whole chunks only: the one in flight died with the process

        resumed = cli(url, "redetermine", "--job-key", "kill-9", "--chunk", "10")
        out, err = resumed.communicate(timeout=240)
        assert resumed.returncode == 0, err[-2000:]
        assert f"resumed after student #{cursor}" in out and f"{STUDENTS} students" in out, out
        again = cli(url, "redetermine", "--job-key", "clean-after", "--chunk", "10")
        out, err = again.communicate(timeout=240)
        assert again.returncode == 0 and f"{STUDENTS} students, 0 new determinations" in out, (
            out + err[-2000:]
        )
        with app.app_context():
            current = (
                sa.select(sa.func.count()).select_from(Determination).where(Determination.current.is_(True))
            )
            assert db.session.scalar(current) == STUDENTS
            assert db.session.scalar(sa.select(sa.func.count()).select_from(Determination)) == STUDENTS
            db.session.rollback()
            db.engine.dispose()
