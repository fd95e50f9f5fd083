"""The verdict of the log scan: no record logged during the whole test run held personal data.

conftest.py attaches `LogScan` (tests/log_scan_support.py) to the root logger for the run and moves this test
to the end, so it judges every record every other test caused. Run alone, it still judges the requests below,
which carry ID numbers, names and statuses through the roster, the feeds and the error paths. Under
pytest-xdist (`make test`) it judges its own worker's records, and the controller fails the run when any
worker's scan found personal data (conftest.py, `pytest_testnodedown`), naming the test and logger.
"""

from __future__ import annotations

from flask import Flask
from flask.testing import FlaskClient

from aidservice.extensions import db
from tests.log_scan_support import LogScan
from tests.world.factories import bearer, make_client, make_user
from tests.world.feeds import person, record, school, student


def exercise_personal_data(client: FlaskClient) -> None:
    """Requests whose bodies, paths and answers hold ID numbers, Chinese names and agency statuses."""
    at = school()
    student("S-LOG-1", at, seed=11, guardians=[12])
    _user, officer = make_user(db.session, "province_admin", region_code="320000")
    agency = make_client(db.session, "civil_affairs")
    db.session.commit()
    batch = {
        "batch_id": "LOG-1",
        "records": [
            record(person(12), "subsistence_allowance"),
            record(person(13), "orphan"),
            record("320102200803010012", "orphan"),
        ],
    }
    assert (
        client.post("/api/v1/feeds/civil_affairs/batches", json=batch, headers=bearer(agency)).status_code
        == 200
    )
    assert client.get("/api/v1/students/S-LOG-1", headers=bearer(officer)).status_code == 200
    student_body = {"id_number": person(14), "name": "王小明", "school_code": at.code, "guardians": []}
    assert (
        client.put("/api/v1/students/S-LOG-2", json=student_body, headers=bearer(officer)).status_code == 422
    )
    assert client.get(f"/api/v1/students/{person(15)}", headers=bearer(officer)).status_code == 404
    assert client.post("/login", data={"username": "王小明", "password": person(16)}).status_code == 400


def test_no_personal_data_reached_any_log_record(app: Flask, client: FlaskClient, log_scan: LogScan) -> None:
    lines_before = log_scan.access_lines
    exercise_personal_data(client)
    assert log_scan.access_lines >= lines_before + 5  # the scan saw this test's requests
    report = "\n".join(f"{f.test} [{f.logger}]: {f.what}" for f in log_scan.findings[:50])
    assert log_scan.findings == [], f"personal data in {len(log_scan.findings)} log record(s):\n{report}"
