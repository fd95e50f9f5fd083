"""GET /metrics (aidservice/metrics.py, aidservice/metrics_http.py): Prometheus text that parses, requests counted
by route template and status, who may scrape, and the feed, job, re-determination and sign-in figures moving."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient
from prometheus_client.parser import text_string_to_metric_families

from aidservice.extensions import db
from aidservice.metrics import cause_label
from aidservice.models import Job
from tests.world.factories import TEST_PASSWORD, bearer, id_number, make_client, make_user
from tests.world.feeds import person, record, school, student

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]
REMOTE = {"REMOTE_ADDR": "203.0.113.9"}
TOKEN = "metrics-token-for-tests-0123456789"


def scrape(client: FlaskClient, **kwargs: object) -> Samples:
    """Every sample of a scrape, parsed by prometheus_client's own parser (a format error raises)."""
    response = client.get("/metrics", **kwargs)  # type: ignore[arg-type]
    assert response.status_code == 200, response.status_code
    assert response.content_type.startswith("text/plain")
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.get_data(as_text=True))
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def moved(client: FlaskClient, action: Callable[[], object], name: str, **labels: str) -> float:
    """How much `name{labels}` grew while `action` ran (the counters are the process's, shared by tests)."""
    before = value(scrape(client), name, **labels)
    action()
    return value(scrape(client), name, **labels) - before


def test_a_request_is_counted_under_its_route_template_and_status(client: FlaskClient) -> None:
    route = "/api/v1/students/<student_id>"
    _user, token = make_user(db.session, "province")

    def ask() -> None:
        assert client.get("/api/v1/students/NO-SUCH-1", headers=bearer(token)).status_code == 404

    assert moved(client, ask, "aid_http_requests_total", method="GET", route=route, status="404") == 1
    samples = scrape(client)
    assert not any("NO-SUCH-1" in dict(labels).get("route", "") for _name, labels in samples)
    assert value(samples, "aid_http_request_duration_seconds_count", method="GET", route=route) >= 1
    assert (
        value(samples, "aid_http_request_duration_seconds_bucket", method="GET", route=route, le="+Inf") >= 1
    )


def test_an_unknown_path_is_counted_as_unmatched_not_by_its_path(client: FlaskClient) -> None:
    def probe() -> None:
        assert client.get("/wp-admin/setup-config.php").status_code == 404

    assert (
        moved(client, probe, "aid_http_requests_total", method="GET", route="<unmatched>", status="404") == 1
    )
    assert not any("wp-admin" in str(labels) for _name, labels in scrape(client))


def test_the_rules_version_is_an_info_metric(app: Flask, client: FlaskClient) -> None:
    version = app.extensions["aid_rules"].version
    assert value(scrape(client), "aid_rules_info", version=version) == 1


def test_a_remote_caller_without_the_token_finds_no_page(app: Flask, client: FlaskClient) -> None:
    app.config["AID_METRICS_TOKEN"] = TOKEN
    assert client.get("/metrics", environ_base=REMOTE).status_code == 404
    assert client.get("/metrics", environ_base=REMOTE, headers=bearer("wrong-" + TOKEN)).status_code == 404
    assert client.get("/metrics", environ_base=REMOTE, headers={"Authorization": TOKEN}).status_code == 404


def test_a_remote_caller_with_the_token_is_served(app: Flask, client: FlaskClient) -> None:
    app.config["AID_METRICS_TOKEN"] = TOKEN
    assert "aid_rules_info" in {
        name for name, _labels in scrape(client, environ_base=REMOTE, headers=bearer(TOKEN))
    }


def test_without_a_configured_token_no_bearer_opens_it(app: Flask, client: FlaskClient) -> None:
    app.config["AID_METRICS_TOKEN"] = None
    assert client.get("/metrics", environ_base=REMOTE, headers=bearer("")).status_code == 404
    assert client.get("/metrics", environ_base={"REMOTE_ADDR": "::1"}).status_code == 200


def test_a_request_forwarded_by_an_untrusted_proxy_is_not_local(app: Flask, client: FlaskClient) -> None:
    """nginx on the same machine connects from 127.0.0.1: what it forwards is not a local caller."""
    assert app.config["AID_PROXY_HOPS"] == 0
    assert client.get("/metrics", headers={"X-Forwarded-For": "203.0.113.9"}).status_code == 404


def test_with_one_trusted_proxy_the_clients_address_decides(app_factory: Callable[..., Flask]) -> None:
    proxied = app_factory(AID_PROXY_HOPS="1").test_client()
    assert proxied.get("/metrics", headers={"X-Forwarded-For": "203.0.113.9"}).status_code == 404
    assert proxied.get("/metrics", headers={"X-Forwarded-For": "127.0.0.1"}).status_code == 200


@pytest.mark.databases
def test_feed_batches_records_and_redeterminations_are_counted_by_source_and_outcome(
    client: FlaskClient,
) -> None:
    at = school(stages=("junior",))
    student("S1", at, seed=1, guardians=[7001])
    token = make_client(db.session, "civil_affairs")
    body = {
        "batch_id": "M-1",
        "records": [
            record(person(7001), "subsistence_allowance"),
            record(id_number(3), "no_such_status"),
        ],
    }
    before = scrape(client)
    first = client.post("/api/v1/feeds/civil_affairs/batches", json=body, headers=bearer(token))
    assert first.status_code == 200, first.json
    assert first.json["accepted"] == 1 and len(first.json["rejected"]) == 1 and first.json["reevaluated"] == 1
    again = client.post("/api/v1/feeds/civil_affairs/batches", json=body, headers=bearer(token))
    assert again.status_code == 200
    after = scrape(client)

    def grew(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert grew("aid_feed_batches_total", source="civil_affairs", outcome="applied") == 1
    assert grew("aid_feed_batches_total", source="civil_affairs", outcome="replayed") == 1
    assert grew("aid_feed_records_total", source="civil_affairs", outcome="accepted") == 1
    assert grew("aid_feed_records_total", source="civil_affairs", outcome="rejected") == 1
    assert grew("aid_redetermined_students_total", cause="feed") >= 1
    assert grew("aid_determination_changes_total", cause="feed") == 1


@pytest.mark.databases
def test_jobs_are_reported_by_kind_and_state_with_the_oldest_queued_ones_age(client: FlaskClient) -> None:
    now = datetime.now(UTC)
    for key, state, age in (("m-1", "queued", 600), ("m-2", "queued", 60), ("m-3", "failed", 5)):
        db.session.add(
            Job(
                key=key, kind="metrics_probe", params={}, state=state, created_at=now - timedelta(seconds=age)
            )
        )
    db.session.flush()
    samples = scrape(client)
    assert value(samples, "aid_jobs", kind="metrics_probe", state="queued") == 2
    assert value(samples, "aid_jobs", kind="metrics_probe", state="failed") == 1
    assert 600 <= value(samples, "aid_job_queue_age_seconds", kind="metrics_probe") < 3600


def test_sign_in_failures_and_throttles_are_counted(app: Flask, client: FlaskClient) -> None:
    make_user(db.session, "province", username="metrics-olga")

    def sign_in(password: str) -> int:
        body = {"username": "metrics-olga", "password": password}
        return client.post(
            "/api/v1/auth/login", json=body, environ_base={"REMOTE_ADDR": "10.9.8.7"}
        ).status_code

    failures_before = value(scrape(client), "aid_signin_failures_total")
    throttled_before = value(scrape(client), "aid_signin_throttled_total", reason="account")
    statuses = [sign_in("wrong password!") for _ in range(12)]
    assert 429 in statuses, statuses
    samples = scrape(client)
    assert value(samples, "aid_signin_failures_total") - failures_before == statuses.count(401)
    assert value(samples, "aid_signin_throttled_total", reason="account") - throttled_before >= 1
    assert sign_in(TEST_PASSWORD) == 429  # still locked: a throttle, not a failure
    assert value(scrape(client), "aid_signin_failures_total") - failures_before == statuses.count(401)


@pytest.mark.parametrize(
    ("cause", "label"),
    [
        ("feed:civil_affairs/B-1", "feed"),
        ("roster", "roster"),
        ("application 12 approve", "application"),
        ("3 applications approve in one batch", "application"),
        ("quota set to 4 by 省管理员", "quota"),
        ("something new", "other"),
    ],
)
def test_a_causes_label_is_its_kind_never_its_details(cause: str, label: str) -> None:
    assert cause_label(cause) == label
