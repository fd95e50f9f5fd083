"""Structured logs: JSON lines with the request id, an access line per request, ID numbers masked in output,
and the log scan that keeps personal data out of every record of the test run."""

from __future__ import annotations

import json
import logging
import sys

import pytest
from flask import Flask
from flask.testing import FlaskClient

from aidservice.logs import LOGGER_NAME, RedactingJsonFormatter, StderrHandler, configure_logger, redact
from tests.log_scan_support import LogScan, findings_in, render
from tests.world.factories import bearer, id_number, make_client, make_user

NUMBER = id_number(7)


def record(msg: str, *args: object, **extra: object) -> logging.LogRecord:
    """A record made by hand: formatting it here never reaches the run's log scan."""
    made = logging.LogRecord("aidservice.test", logging.INFO, __file__, 1, msg, args or None, None)
    made.__dict__.update(extra)
    return made


class Lines:
    """What the app's JSON handler wrote to stderr during the test (it looks sys.stderr up on every write)."""

    def __init__(self, capsys: pytest.CaptureFixture[str]) -> None:
        self.capsys = capsys
        self.written = ""

    def getvalue(self) -> str:
        self.written += self.capsys.readouterr().err
        return self.written


@pytest.fixture
def lines(app: Flask, capsys: pytest.CaptureFixture[str]) -> Lines:
    capsys.readouterr()
    return Lines(capsys)


def parsed(buffer: Lines) -> list[dict[str, object]]:
    return [json.loads(line) for line in buffer.getvalue().splitlines() if line.startswith("{")]


def test_each_request_writes_one_json_access_line_with_its_request_id(
    client: FlaskClient, lines: Lines
) -> None:
    response = client.get("/api/v1/rules", headers={"X-Request-ID": "req-42"})
    assert response.status_code == 200
    access = [line for line in parsed(lines) if line["logger"] == "aidservice.access"]
    assert len(access) == 1
    line = access[0]
    assert line["message"] == "request" and line["level"] == "INFO" and line["request_id"] == "req-42"
    assert line["method"] == "GET" and line["route"] == "/api/v1/rules" and line["status"] == 200
    assert isinstance(line["duration_ms"], float) and line["time"].endswith("Z")


def test_the_access_line_names_the_route_rule_and_the_actor_by_number(
    app: Flask, client: FlaskClient, lines: Lines
) -> None:
    from aidservice.extensions import db

    user, token = make_user(db.session, "province_admin", username="olga", region_code="320000")
    db.session.commit()
    client.get("/api/v1/students/S-0042?x=" + NUMBER, headers=bearer(token))
    line = next(line for line in parsed(lines) if line["logger"] == "aidservice.access")
    assert line["route"] == "/api/v1/students/<student_id>" and line["status"] == 404
    assert line["actor_kind"] == "user" and line["actor_id"] == user.id
    text = lines.getvalue()
    assert "S-0042" not in text and "olga" not in text and NUMBER not in text


def test_an_agency_client_is_logged_by_kind_and_number(app: Flask, client: FlaskClient, lines: Lines) -> None:
    from aidservice.extensions import db

    token = make_client(db.session, "civil_affairs", name="民政局")
    db.session.commit()
    client.get("/api/v1/feeds/civil_affairs/outcomes", headers=bearer(token))
    line = next(line for line in parsed(lines) if line["logger"] == "aidservice.access")
    assert line["actor_kind"] == "client" and isinstance(line["actor_id"], int)
    assert "民政局" not in lines.getvalue()


def test_a_500_is_logged_with_its_request_id_and_the_client_sees_no_trace(
    app: Flask, client: FlaskClient, lines: Lines
) -> None:
    def crash() -> None:
        raise RuntimeError("boom in the view")

    app.add_url_rule("/api/v1/_test/crash", "crash_for_logs", crash)
    response = client.get("/api/v1/_test/crash", headers={"X-Request-ID": "req-500"})
    assert response.status_code == 500 and "boom" not in response.get_data(as_text=True)
    error = next(line for line in parsed(lines) if line["level"] == "ERROR")
    assert error["request_id"] == "req-500" and "boom in the view" in error["exc_info"]
    access = next(line for line in parsed(lines) if line["logger"] == "aidservice.access")
    assert access["status"] == 500 and access["request_id"] == "req-500"


def test_id_numbers_are_masked_in_the_written_line() -> None:
    formatter = RedactingJsonFormatter()
    try:
        raise ValueError(f"duplicate {NUMBER}")
    except ValueError:
        failing = record("looked up %s", NUMBER, guardian=NUMBER.lower())
        failing.exc_info = sys.exc_info()
    line = formatter.format(failing)
    assert NUMBER not in line
    masked = f"{NUMBER[:6]}***********{NUMBER[-1:]}"
    written = json.loads(line)
    assert written["message"] == f"looked up {masked}" and written["guardian"] == masked.lower()
    assert masked in written["exc_info"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("320102200803010011", "320102***********1"),
        ("id=32010220080301001X.", "id=320102***********X."),
        ("order 1234567890123456789", "order 1234567890123456789"),  # 19 digits: not an ID number
        ("hash ab320102200803010011cd", "hash ab320102200803010011cd"),  # inside a hex digest
    ],
)
def test_redact_masks_only_whole_id_numbers(text: str, expected: str) -> None:
    assert redact(text) == expected


def test_one_handler_per_process_however_many_apps(app_factory) -> None:  # type: ignore[no-untyped-def]
    app_factory()
    app_factory(AID_LOG_LEVEL="WARNING")
    logger = logging.getLogger(LOGGER_NAME)
    assert sum(isinstance(h, StderrHandler) for h in logger.handlers) == 1
    assert logger.level == logging.WARNING
    assert all(
        type(h) is not logging.StreamHandler for h in logger.handlers
    )  # Flask's default handler is gone
    configure_logger("DEBUG")


@pytest.mark.parametrize(
    ("message", "kind"),
    [
        (f"matched {NUMBER}", "ID number"),
        ("student 王小明 imported", "Chinese text"),
        ("record status=orphan", "status"),
        ("batch with de_facto_orphan", "status"),
        ("query q=%E7%8E%8B", "Chinese text"),  # percent-encoded in a URL
    ],
)
def test_the_scan_finds_personal_data_in_a_record(message: str, kind: str) -> None:
    assert any(found.startswith(kind) for found in findings_in(render(record(message))))


def test_the_scan_looks_at_arguments_extra_fields_and_tracebacks() -> None:
    assert findings_in(render(record("person %s", NUMBER)))
    assert findings_in(render(record("person", person=NUMBER)))
    try:
        raise KeyError("李四")
    except KeyError:
        failing = record("lookup failed")
        failing.exc_info = sys.exc_info()
    assert findings_in(render(failing))


@pytest.mark.parametrize(
    "message",
    [
        "request",
        "audit chain intact: 12 event(s) verified",
        "hash 5f3a320102200803010011aa",
        "320102********0011",
        "320102***********1",
        "18 digits but no valid check 320102200803010012",
        "status disabled_parent",
    ],
)
def test_the_scan_leaves_ordinary_records_alone(message: str) -> None:
    assert findings_in(render(record(message))) == []


def test_the_scan_handler_counts_records_without_keeping_them() -> None:
    scan = LogScan()
    scan.handle(record("request"))
    scan.handle(record("matched %s", NUMBER))
    assert scan.records == 2 and len(scan.findings) == 1 and scan.findings[0].what.startswith("ID number")
