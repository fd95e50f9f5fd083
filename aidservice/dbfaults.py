"""Database faults the caller can do nothing about: server down, disk full, read-only file; told apart from bugs.

The API answers these with 503 (507 for a full disk) instead of a 500, and the CLI with a one-line error,
because the request itself was fine: the transaction was rolled back and retrying later is safe.
Driver errors are recognised by their codes (psycopg's SQLSTATE, sqlite3's result code), never by message
text, and without importing a driver the process does not use.
"""

from __future__ import annotations

import sqlite3
import sys
from dataclasses import dataclass

from sqlalchemy import exc

# sqlite3 primary result codes (https://sqlite.org/rescode.html); extended codes carry them in the low byte.
SQLITE_BUSY, SQLITE_LOCKED, SQLITE_READONLY, SQLITE_IOERR, SQLITE_FULL, SQLITE_CANTOPEN = 5, 6, 8, 10, 13, 14
# admin shutdown, crash shutdown, starting up, too many connections
PG_UNAVAILABLE = {"57P01", "57P02", "57P03", "53300"}
PG_DISK_FULL, PG_READ_ONLY = "53100", "25006"


@dataclass(frozen=True, slots=True)
class DatabaseFault:
    """What to tell a client about a database that cannot serve; `code` names the cause for the log."""

    status: int
    type_suffix: str
    title: str
    cause: str
    remedy: str
    code: str
    retry_after: int | None

    @property
    def detail(self) -> str:
        """The API's sentence: the request's transaction was rolled back whole."""
        return f"{self.cause}; nothing was saved by this request. {self.remedy}"

    @property
    def cli_message(self) -> str:
        """The CLI's line: work committed before (a finished chunk) stands, the transaction in progress does not."""
        return f"{self.title} ({self.code}): {self.cause}; the transaction in progress was rolled back. {self.remedy}"

    @property
    def headers(self) -> dict[str, str]:
        """Retry-After on a 503, so well-behaved clients back off instead of hammering."""
        return {"Retry-After": str(self.retry_after)} if self.retry_after else {}


def unavailable(code: str) -> DatabaseFault:
    return DatabaseFault(
        status=503,
        type_suffix="database-unavailable",
        title="Database unavailable",
        cause="The database cannot be reached right now",
        remedy="Retry in a few seconds.",
        code=code,
        retry_after=5,
    )


def full(code: str) -> DatabaseFault:
    return DatabaseFault(
        status=507,
        type_suffix="database-full",
        title="Database out of space",
        cause="The database has run out of disk space",
        remedy="An administrator must free space before writes can succeed.",
        code=code,
        retry_after=None,
    )


def read_only(code: str) -> DatabaseFault:
    return DatabaseFault(
        status=503,
        type_suffix="database-read-only",
        title="Database read-only",
        cause="The database cannot be written (read-only file, folder or file system)",
        remedy="An administrator must make it writable.",
        code=code,
        retry_after=60,
    )


def database_fault(error: BaseException) -> DatabaseFault | None:
    """The fault behind `error` or behind what it was raised while handling, else None (a bug: a 500)."""
    # SQLITE_FULL undoes the whole transaction, so the ROLLBACK TO SAVEPOINT after it fails on its own.
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        fault = _fault_of(current)
        if fault is not None:
            return fault
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None


def _fault_of(error: BaseException) -> DatabaseFault | None:
    """The fault this one exception reports, wrapped by SQLAlchemy or raw from the driver (COPY)."""
    if isinstance(error, exc.TimeoutError):
        return unavailable("pool-timeout")  # every pooled connection busy: the database is saturated
    if isinstance(error, exc.DBAPIError):
        return _driver_fault(error.orig, invalidated=error.connection_invalidated)
    if isinstance(error, (sqlite3.Error, *_psycopg_errors())):
        return _driver_fault(error, invalidated=False)
    return None


def _psycopg_errors() -> tuple[type[BaseException], ...]:
    """psycopg's base error, if this process loaded the driver (never imported just to look)."""
    psycopg = sys.modules.get("psycopg")
    return (psycopg.Error,) if psycopg is not None else ()


def _driver_fault(orig: BaseException, *, invalidated: bool) -> DatabaseFault | None:
    sqlite_code = getattr(orig, "sqlite_errorcode", None)
    if sqlite_code is not None:
        return _sqlite_fault(sqlite_code & 0xFF, getattr(orig, "sqlite_errorname", str(sqlite_code)))
    sqlstate = getattr(orig, "sqlstate", None)
    if invalidated:
        return unavailable(sqlstate or "disconnected")
    if sqlstate == PG_DISK_FULL:
        return full(sqlstate)
    if sqlstate == PG_READ_ONLY:
        return read_only(sqlstate)
    if sqlstate in PG_UNAVAILABLE or (sqlstate or "").startswith("08"):
        return unavailable(sqlstate or "")
    if sqlstate is None and type(orig).__name__ in ("OperationalError", "InterfaceError"):
        return unavailable("no-connection")  # psycopg: connection refused, closed, or lost mid-query
    return None


def _sqlite_fault(primary: int, name: str) -> DatabaseFault | None:
    if primary == SQLITE_FULL:
        return full(name)
    if primary == SQLITE_READONLY:
        return read_only(name)
    if primary in (SQLITE_BUSY, SQLITE_LOCKED, SQLITE_IOERR, SQLITE_CANTOPEN):
        return unavailable(name)
    return None
