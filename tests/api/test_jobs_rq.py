"""Background jobs on Redis with RQ: the request only queues; a worker (in-process, burst) runs, retries, resumes.

Uses the Redis on 127.0.0.1:6379, database 7 (AID_TEST_REDIS_URL overrides it), with a queue of its own per
test, removed afterwards. Without Redis these tests skip; under CI=true they fail.
"""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from aidservice.jobs import RQRunner, rq_job_id, runner
from aidservice.services.determinations import region as bulk
from tests.conftest import in_ci
from tests.world.jobs import (
    AS_OF,
    Province,
    current_determinations,
    import_csv,
    job_row,
    make_province,
    post_import,
)

pytestmark = pytest.mark.databases
REDIS_URL = os.environ.get("AID_TEST_REDIS_URL", "redis://127.0.0.1:6379/7")


@pytest.fixture
def redis() -> Iterator[Any]:
    """A connection to the test Redis (skip without one; under CI=true that is a failure)."""
    from redis import Redis
    from redis.exceptions import RedisError

    connection = Redis.from_url(REDIS_URL)
    try:
        connection.ping()
    except RedisError as exc:
        message = f"Redis does not answer at {REDIS_URL} ({type(exc).__name__})"
        if in_ci():
            pytest.fail(message + " (CI=true: Redis is required)")
        pytest.skip(message)
    yield connection
    connection.close()


@pytest.fixture
def queue_name(redis: Any) -> Iterator[str]:
    name = f"aidtest-{uuid.uuid4().hex[:12]}"
    yield name
    for key in redis.scan_iter(match=f"*{name}*"):
        redis.delete(key)
    redis.srem("rq:queues", f"rq:queue:{name}")  # RQ's set of known queues


@pytest.fixture
def app_env(queue_name: str) -> dict[str, str]:
    return {
        "AID_REDIS_URL": REDIS_URL,
        "AID_JOB_QUEUE": queue_name,
        "AID_JOB_RETRY_INTERVALS": "0",
        "AID_REDETERMINE_CHUNK": "2",
        "AID_JOB_ATTEMPTS": "3",
    }


@pytest.fixture
def province(app: Flask) -> Province:
    return make_province()


def work(app: Flask) -> None:
    """Run the queue's jobs in this process (SimpleWorker, burst), in the test's app context and transaction."""
    from rq import SimpleWorker

    backend = runner(app)
    assert isinstance(backend, RQRunner)
    queue = backend.queue()
    SimpleWorker([queue], connection=queue.connection).work(burst=True)


def rq_job(app: Flask, job_id: int) -> Any:
    from rq.job import Job as RQJob

    backend = runner(app)
    assert isinstance(backend, RQRunner)
    return RQJob.fetch(rq_job_id(backend.queue_name, job_id), connection=backend.queue().connection)


def redetermine(client: FlaskClient, province: Province, **body: Any) -> Any:
    return client.post(
        "/api/v1/redeterminations",
        json={"region": "320100", "as_of": AS_OF, **body},
        headers=province.headers("city_admin"),
    )


def test_with_redis_the_request_only_queues_and_a_worker_runs_the_job(
    app: Flask, client: FlaskClient, province: Province, monkeypatch: pytest.MonkeyPatch
) -> None:
    response = redetermine(client, province)
    assert response.status_code == 202
    job = response.json
    assert job["state"] == "queued" and job["attempts"] == 0 and job["progress"]["done"] == 0
    assert current_determinations(province.students["320102"]) == 0
    seen: list[int] = []
    real = bulk.read_chunk

    def watched(*args: Any, **kwargs: Any) -> Any:
        seen.append(client.get(job["url"], headers=province.headers("city_admin")).json["progress"]["done"])
        return real(*args, **kwargs)

    monkeypatch.setattr(bulk, "read_chunk", watched)
    work(app)
    done = client.get(job["url"], headers=province.headers("city_admin")).json
    assert done["state"] == "done" and done["attempts"] == 1 and done["progress"]["done"] == 6, done
    assert seen == [0, 2, 4, 6]  # progress is committed chunk by chunk, visible while the job runs
    assert current_determinations(province.students["320102"] + province.students["320104"]) == 6
    assert rq_job(app, job["id"]).get_status() == "finished"


def test_the_same_key_is_queued_once(app: Flask, client: FlaskClient, province: Province) -> None:
    first = redetermine(client, province, key="once")
    again = redetermine(client, province, key="once")
    assert first.json["id"] == again.json["id"]
    backend = runner(app)
    assert isinstance(backend, RQRunner) and backend.queue().count == 1


def test_rq_retries_a_failed_attempt_which_resumes_after_the_last_checkpoint(
    app: Flask, client: FlaskClient, province: Province, monkeypatch: pytest.MonkeyPatch
) -> None:
    real, calls = bulk.read_chunk, []

    def flaky(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        if len(calls) == 2:
            raise ConnectionError("lost the database")
        return real(*args, **kwargs)

    monkeypatch.setattr(bulk, "read_chunk", flaky)
    job = redetermine(client, province).json
    work(app)
    done = client.get(job["url"], headers=province.headers("city_admin")).json
    assert done["state"] == "done" and done["attempts"] == 2, done
    assert done["result"]["resumed_after"] > 0 and done["result"]["students"] == 6


def test_rq_gives_up_after_the_last_attempt_and_the_job_says_why(
    app: Flask, client: FlaskClient, province: Province, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*_args: Any, **_kwargs: Any) -> Any:
        raise RuntimeError("always")

    monkeypatch.setattr(bulk, "read_chunk", broken)
    job = redetermine(client, province).json
    work(app)
    failed = client.get(job["url"], headers=province.headers("city_admin")).json
    assert failed["state"] == "failed" and failed["attempts"] == 3
    assert "RuntimeError" in failed["error"] and "no attempts left" in failed["error"]
    assert rq_job(app, job["id"]).get_status() == "failed"


def test_a_background_import_travels_through_the_queue_sealed(
    app: Flask, client: FlaskClient, province: Province
) -> None:
    content = import_csv("Q1", "Q2")
    job = post_import(client, province, content).json
    assert job["state"] == "queued"
    waiting = bytes(job_row(job["id"]).payload)  # what a dump taken while the job waits would hold
    numbers = re.findall(rb"\d{17}[\dX]", content)
    assert len(numbers) == 4 and not any(number in waiting for number in numbers)
    assert b"Q1" not in waiting
    work(app)
    done = client.get(job["url"], headers=province.headers("officer_a")).json
    assert done["state"] == "done" and done["result"]["created"] == 2


def test_a_queue_that_is_down_leaves_the_job_queued_for_the_sweep(
    app: Flask, client: FlaskClient, province: Province
) -> None:
    app.extensions["aid_jobs"] = RQRunner(
        url="redis://127.0.0.1:9/0", queue_name="nowhere", intervals=(0,), timeout=60
    )
    response = redetermine(client, province)
    assert response.status_code == 202 and response.json["state"] == "queued"
