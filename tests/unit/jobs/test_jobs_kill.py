"""A background job survives kill -9 of its worker: a new worker dispatches it again and it resumes from its cursor.

Real processes on a real (scratch SQLite) file and the Redis of tests/api/test_jobs_rq.py: `aid worker` is started,
killed with SIGKILL (it and its work horse) while a re-determination is half-way, and `aid worker --burst`
then finishes the job without doing the committed chunks again.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from aidservice import jobs
from aidservice.extensions import SQLITE_BEGIN, db
from aidservice.jobs import kinds
from aidservice.models import Determination, Job
from aidservice.services.actors import Actor
from config import REPO_ROOT
from tests.api.test_jobs_rq import REDIS_URL, redis  # noqa: F401 - the fixture
from tests.world.factories import make_school, make_student
from tests.world.feeds import committed_app, scratch_database

STUDENTS = 600
FLASK = str(Path(sys.executable).with_name("flask"))


@pytest.fixture
def scratch_url(db_url: str, tmp_path: Path) -> Iterator[str]:
    yield from scratch_database(db_url, tmp_path)


@pytest.fixture
def queue_name(redis: Any) -> Iterator[str]:  # noqa: F811 - the fixture above
    name = f"aidtest-kill-{uuid.uuid4().hex[:10]}"
    yield name
    for key in redis.scan_iter(match=f"*{name}*"):
        redis.delete(key)
    redis.srem("rq:queues", f"rq:queue:{name}")  # RQ's set of known queues


def worker_env(url: str, queue: str) -> dict[str, str]:
    return {
        **os.environ,
        "AID_ENV": "testing",
        "DATABASE_URL": url,
        "AID_RULES_DIR": str(REPO_ROOT / "rules"),
        "AID_REDIS_URL": REDIS_URL,
        "AID_JOB_QUEUE": queue,
        "AID_REDETERMINE_CHUNK": "3",
        "AID_JOB_LEASE_SECONDS": "1",
        "AID_JOB_RETRY_INTERVALS": "0",
    }


def children(pid: int) -> list[int]:
    """Processes whose parent is `pid` (from /proc)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def job_state(app: Any, job_id: int) -> tuple[str, int, int | None, int, dict[str, Any] | None]:
    with app.app_context():
        # a reader: on SQLite a deferred transaction, so polling never takes the writer's lock from the worker
        db.session.connection(execution_options={SQLITE_BEGIN: "DEFERRED"})
        job = db.session.get(Job, job_id)
        assert job is not None
        state = (job.state, job.progress_done, job.progress_total, job.attempts, job.result)
        db.session.remove()
        return state


def test_a_job_whose_worker_is_killed_resumes_in_the_next_worker(scratch_url: str, queue_name: str) -> None:
    env = worker_env(scratch_url, queue_name)
    app = committed_app(scratch_url)
    app.config.update(AID_REDIS_URL=REDIS_URL, AID_JOB_QUEUE=queue_name)
    with app.app_context():
        school = make_school(db.session, "K1", "320102")
        for n in range(STUDENTS):
            make_student(db.session, f"K{n:04d}", school, seed=n + 1, grade=1 + n % 6)
        params, scope = kinds.prepare_redetermine(
            db.session, actor=Actor.system("test"), settings=_settings(app), region="320102", as_of=None
        )
        actor = Actor("user", "admin", 1, "county_admin", region_code="320102")
        job_id = jobs.start(
            db.session, actor=actor, kind=kinds.REDETERMINE, params=params, scope=scope, key="kill"
        )
        db.session.remove()

    first = subprocess.Popen(
        [FLASK, "--app", "wsgi", "aid", "worker"],
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            state, done, _total, _attempts, _result = job_state(app, job_id)
            if state == "running" and done > 0:
                break
            time.sleep(0.05)
        else:
            pytest.fail("the worker never started the job")
    finally:
        for pid in [
            *children(first.pid),
            first.pid,
        ]:  # the work horse (RQ gives it a session of its own) first
            os.kill(pid, signal.SIGKILL)
        first.wait(timeout=30)
    state, done, total, attempts, _result = job_state(app, job_id)
    assert state == "running" and 0 < done < STUDENTS == total and attempts == 1

    time.sleep(1.5)  # past the lease: the job now counts as orphaned
    second = subprocess.run(
        [FLASK, "--app", "wsgi", "aid", "worker", "--burst"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert second.returncode == 0, second.stderr[-2000:]
    assert f"dispatched again 1 orphaned job(s): {job_id}" in second.stdout
    state, done, total, attempts, result = job_state(app, job_id)
    assert (state, done, attempts) == ("done", STUDENTS, 2), result
    assert result is not None and result["resumed_after"] > 0 and result["students"] == STUDENTS
    with app.app_context():
        current = db.session.execute(
            sa.select(Determination.student_pk, sa.func.count())
            .where(Determination.current.is_(True))
            .group_by(Determination.student_pk)
        ).all()
        db.session.remove()
        db.engine.dispose()
    assert len(current) == STUDENTS and {n for _pk, n in current} == {1}


def _settings(app: Any) -> Any:
    from aidservice.wiring import settings

    return settings()
