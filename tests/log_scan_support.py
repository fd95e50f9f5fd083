"""The log scan: every log record of the test run is checked for personal data as it is emitted.

A record is rendered raw (message, arguments, extra fields, exception text, percent-decoded), before any
redaction, so the scan finds what the code itself tried to log: an ID number (any 18-character number with a
valid GB 11643 check character), Chinese text (the test data's names are all Chinese; the logs are English),
or an agency status value.
"""

from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

import pytest
from stdnum.cn import ric

from tests.world.vocabulary import agency_statuses

SOURCE_STATUSES = agency_statuses()

STANDARD = frozenset(vars(logging.LogRecord("x", logging.INFO, "x", 0, "", None, None))) | {
    "message",
    "asctime",
}
ID_LIKE = re.compile(r"(?<![0-9A-Za-z])\d{17}[\dXx](?![0-9A-Za-z])")
CHINESE = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")
STATUSES = tuple(sorted({status for statuses in SOURCE_STATUSES.values() for status in statuses}))
STATUS_WORD = re.compile(r"(?<![A-Za-z_])(" + "|".join(STATUSES) + r")(?![A-Za-z_])")
EXCEPTIONS = logging.Formatter()


def render(record: logging.LogRecord) -> str:
    """Everything a handler could write for this record, unredacted."""
    try:
        message = record.getMessage()
    except Exception:  # a broken format string: scan its parts
        message = f"{record.msg} {record.args}"
    parts = [message]
    parts += [f"{k}={v}" for k, v in vars(record).items() if k not in STANDARD]
    if record.exc_info:
        parts.append(EXCEPTIONS.formatException(record.exc_info))
    if record.stack_info:
        parts.append(record.stack_info)
    text = "\n".join(parts)
    return text + "\n" + unquote(text)


def findings_in(text: str) -> list[str]:
    """What in this text is personal data: ID numbers, Chinese text (names), status values."""
    found = [f"ID number {m}" for m in ID_LIKE.findall(text) if ric.is_valid(m)]
    found += [f"Chinese text {m!r}" for m in CHINESE.findall(text)]
    found += [f"status {m!r}" for m in STATUS_WORD.findall(text)]
    return found


@dataclass(frozen=True, slots=True)
class Finding:
    test: str
    logger: str
    what: str


class LogScan(logging.Handler):
    """A handler at DEBUG on the root logger for the whole run; keeps counts and findings, never the records."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records = 0
        self.access_lines = 0
        self.findings: list[Finding] = []

    def summary(self) -> dict[str, Any]:
        """What an xdist worker hands the controller (plain data: it crosses a process boundary)."""
        return {
            "records": self.records,
            "access_lines": self.access_lines,
            "findings": [f"{f.test} [{f.logger}]: {f.what}" for f in self.findings],
        }

    def emit(self, record: logging.LogRecord) -> None:
        self.records += 1
        self.access_lines += record.name == "aidservice.access"
        test = os.environ.get("PYTEST_CURRENT_TEST", "(outside a test)")
        for what in dict.fromkeys(findings_in(render(record))):
            self.findings.append(Finding(test, record.name, what))


@dataclass(slots=True)
class LogScanTotals:
    """The controller's sum of its xdist workers' scans (`LogScan.summary`)."""

    workers: int = 0
    records: int = 0
    findings: list[str] = field(default_factory=list)

    def add(self, summary: dict[str, Any] | None) -> None:
        if summary is None:  # a worker that crashed hands nothing; xdist reports the crash itself
            return
        self.workers += 1
        self.records += int(summary["records"])
        self.findings += list(summary["findings"])


WORKER_SCANS = pytest.StashKey[LogScanTotals]()
"""Where the controller keeps the totals (conftest.py's xdist hooks)."""
