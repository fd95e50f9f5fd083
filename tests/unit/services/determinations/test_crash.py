"""Crash safety: a process killed with SIGKILL mid-batch or mid-run leaves no partial work, and a retry completes.

Each test starts a real Python process on a file-based SQLite database or a PostgreSQL database,
lets it reach a point where its writes are in flight (it writes a marker file there and waits),
kills it with SIGKILL, and then checks the database from this process.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from aidservice.extensions import db
from aidservice.models import AgencyRecord, Determination, FeedBatch, Job, Student
from aidservice.services.accounts.auth import resolve_token
from aidservice.services.actors import Actor
from aidservice.services.determinations.region import redetermine_region
from aidservice.services.registry.feeds import apply_batch
from config import REPO_ROOT
from tests.world.factories import id_number, make_client, make_school
from tests.world.feeds import committed_app, count, person, record, scratch_database, settings_for, student

pytestmark = [pytest.mark.databases, pytest.mark.timeout(180)]
STUDENTS = 600
RECORDS = 4000  # half of them reach an enrolled student or a guardian

CHILD = """
import json, sys, time
from pathlib import Path
from aidservice import create_app
from aidservice.extensions import db
from config import TestingConfig
from tests.world.feeds import settings_for

url, marker, job, payload = sys.argv[1], Path(sys.argv[2]), sys.argv[3], json.loads(Path(sys.argv[4]).read_text())
app = create_app(TestingConfig.from_env({"DATABASE_URL": url, "AID_RULES_DIR": payload["rules"]}))


def stall(original, after_calls):
    calls = {"n": 0}

    def wrapper(*args, **kwargs):
        out = original(*args, **kwargs)
        calls["n"] += 1
        if calls["n"] >= after_calls:
            db.session.flush()
            marker.write_text("in flight")
            time.sleep(600)
        return out

    return wrapper


with app.app_context():
    if job == "feed":
        from aidservice.services.registry import feeds
        from aidservice.services.accounts.auth import resolve_token

        feeds.redetermine_students = stall(feeds.redetermine_students, 1)  # records and determinations written
        actor = resolve_token(db.session, payload["token"])
        feeds.apply_batch(db.session, actor=actor, settings=settings_for(app), source="civil_affairs",
                          body=payload["body"])
    else:
        from aidservice.services.determinations import region, writer
        from aidservice.services.actors import Actor

        writer._write = stall(writer._write, 3)  # third chunk copied in, not committed
        region.run(db.session, actor=Actor.system("crash-test"), settings=settings_for(app), job_key="crash-job",
                 chunk=payload["chunk"], checkpoint=db.session.commit)
    db.session.commit()
"""


@pytest.fixture
def scratch_url(db_url: str, tmp_path: Path) -> Iterator[str]:
    yield from scratch_database(db_url, tmp_path)


def populate(url: str) -> str:
    """STUDENTS students with guardians, committed; returns a civil_affairs client token."""
    app = committed_app(url)
    with app.app_context():
        at = make_school(db.session, "3201020001", "320102", stages=("primary", "junior"))
        for i in range(1, STUDENTS + 1):
            student(f"S{i:04d}", at, seed=i, guardians=[10_000 + i], stage="junior" if i % 2 else "primary")
        token = make_client(db.session, "civil_affairs")
        db.session.commit()
        db.engine.dispose()
    return token


def big_batch() -> dict[str, Any]:
    """Household statuses on guardians, personal ones on students, and people nobody enrolled."""
    records = []
    for i in range(RECORDS):
        if i < STUDENTS:
            records.append(record(person(10_001 + i), "subsistence_allowance"))
        elif i < STUDENTS + 300:
            records.append(record(id_number(i - STUDENTS + 1), "orphan"))
        else:
            records.append(record(person(50_000 + i), "subsistence_allowance"))
    return {"batch_id": "BIG-1", "records": records}


def kill_midway(url: str, job: str, payload: dict[str, Any], tmp_path: Path) -> None:
    """Start the child, wait until its writes are in flight, SIGKILL it."""
    marker, data = tmp_path / f"{job}.marker", tmp_path / f"{job}.json"
    data.write_text(json.dumps({**payload, "rules": str(REPO_ROOT / "rules")}))
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, url, str(marker), job, str(data)],
        cwd=REPO_ROOT,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 90
    while not marker.exists():
        if child.poll() is not None:
            pytest.fail(f"the child ended before the crash point: {child.stderr.read().decode()[-2000:]}")  # type: ignore[union-attr]
        assert time.monotonic() < deadline, "the child never reached the crash point"
        time.sleep(0.02)
    os.kill(child.pid, signal.SIGKILL)
    assert child.wait(timeout=30) == -signal.SIGKILL
    child.stderr.close()  # type: ignore[union-attr]


def test_a_batch_killed_mid_way_leaves_nothing_and_its_retry_completes(
    scratch_url: str, tmp_path: Path
) -> None:
    token = populate(scratch_url)
    body = big_batch()
    kill_midway(scratch_url, "feed", {"token": token, "body": body}, tmp_path)
    app = committed_app(scratch_url)
    with app.app_context():
        assert (count(FeedBatch), count(AgencyRecord), count(Determination)) == (0, 0, 0)
        actor = resolve_token(db.session, token)
        retry = apply_batch(
            db.session, actor=actor, settings=settings_for(app), source="civil_affairs", body=body
        )
        db.session.commit()
        assert retry.response == {
            "batch_id": "BIG-1",
            "accepted": RECORDS,
            "rejected": [],
            "matched_students": STUDENTS,
            "reevaluated": STUDENTS,
        }
        assert (count(FeedBatch), count(AgencyRecord), count(Determination)) == (1, RECORDS, STUDENTS)
        replay = apply_batch(
            db.session, actor=actor, settings=settings_for(app), source="civil_affairs", body=body
        )
        assert replay.replayed and replay.response == retry.response
        db.engine.dispose()


def test_a_run_killed_mid_way_resumes_after_its_cursor_and_ends_like_a_clean_run(
    scratch_url: str, tmp_path: Path
) -> None:
    populate(scratch_url)
    chunk = 100
    kill_midway(scratch_url, "redetermine", {"chunk": chunk}, tmp_path)
    app = committed_app(scratch_url)
    with app.app_context():
        job = db.session.execute(sa.select(Job).where(Job.key == "crash-job")).scalar_one()
        pks = db.session.scalars(sa.select(Student.id).order_by(Student.id)).all()
        cursor = job.cursor
        assert job.state == "running" and cursor == pks[2 * chunk - 1]  # two chunks committed
        assert count(Determination) == 2 * chunk  # the third chunk's rows died with the process
        settings = settings_for(app)
        resumed = redetermine_region(
            db.session,
            actor=Actor.system("test"),
            settings=settings,
            job_key="crash-job",
            chunk=chunk,
            checkpoint=db.session.commit,
        )
        db.session.commit()
        assert resumed.resumed_after == cursor and resumed.students == STUDENTS
        assert db.session.get(Job, job.id).state == "done"
        current = sa.select(sa.func.count()).select_from(Determination).where(Determination.current.is_(True))
        assert db.session.scalar(current) == STUDENTS == count(Determination)
        clean = redetermine_region(
            db.session,
            actor=Actor.system("test"),
            settings=settings,
            job_key="clean",
            chunk=chunk,
            checkpoint=db.session.commit,
        )
        assert (clean.students, clean.stored) == (
            STUDENTS,
            0,
        )  # a clean run finds every determination in place
        db.engine.dispose()
