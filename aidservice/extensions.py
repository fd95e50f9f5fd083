"""Extension singletons, bound to an app in `create_app`."""

from __future__ import annotations

import os
import sqlite3
import stat
from contextlib import suppress
from typing import Any

import marshmallow as ma
from flask_smorest import Api
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import Connection, Engine, event

from aidservice.errors import PROBLEM_MIMETYPE, ProblemSchema
from aidservice.models import Base

SECURITY_SCHEME = "bearerAuth"
"""The OpenAPI security scheme (HTTP bearer) that operations needing a token name (api/auth.py)."""


class AidApi(Api):
    """flask-smorest Api documenting our problem+json errors instead of its own error schema."""

    ERROR_SCHEMA = ProblemSchema

    def _init_spec(self, **kwargs: Any) -> None:
        """Teach the spec how our fields are sent, so the documented types are the ones on the wire."""
        super()._init_spec(**kwargs)
        self.ma_plugin.converter.add_attribute_function(decimal_as_sent)
        self.spec.components.security_scheme(
            SECURITY_SCHEME,
            {
                "type": "http",
                "scheme": "bearer",
                "description": "POST /api/v1/auth/login, or an agency client's token (aid client create)",
            },
        )

    def _register_responses(self) -> None:
        """Document the standard error responses as problem+json (smorest registers them as JSON)."""
        super()._register_responses()
        for response in self.spec.components.responses_lazy.values():
            content = response.get("content") or {}
            if self.DEFAULT_RESPONSE_CONTENT_TYPE in content:
                response["content"] = {PROBLEM_MIMETYPE: content[self.DEFAULT_RESPONSE_CONTENT_TYPE]}


def decimal_as_sent(_converter: Any, field: ma.fields.Field, ret: dict[str, Any], **_: Any) -> dict[str, Any]:
    """Money is a string like "1250.00" in JSON (Decimal with as_string), not the number apispec assumes."""
    if not (isinstance(field, ma.fields.Decimal) and field.as_string):
        return {}
    bounds = [
        f"{word} {ret.pop(key)}"
        for key, word in (("minimum", "at least"), ("maximum", "at most"))
        if key in ret
    ]
    described = "; ".join(filter(None, [ret.get("description"), *bounds]))
    return {
        "type": "string",
        "format": "decimal",
        "pattern": r"^-?[0-9]+(\.[0-9]+)?$",
        **({"description": described} if described else {}),
    }


SQLITE_BEGIN = "aid_sqlite_begin"
"""Connection execution option: how a SQLite transaction begins. IMMEDIATE (the default) takes the write lock at
BEGIN, waiting up to the busy timeout (AID_SQLITE_BUSY_TIMEOUT_MS) for another writer to finish. DEFERRED, for
the routes marked read-only (aidservice.api.reads), takes no lock: in WAL mode a reader never waits for a writer.

Why not DEFERRED everywhere: a deferred transaction that reads and then writes must upgrade its read lock, and
when another connection holds the write lock SQLite refuses the upgrade with SQLITE_BUSY at once, without
calling the busy handler (waiting could deadlock two upgraders), so concurrent writers got 503s instead of
taking turns.
"""
SQLITE_BEGINS = {"IMMEDIATE": "BEGIN IMMEDIATE", "DEFERRED": "BEGIN DEFERRED"}


def _sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    """SQLite ignores foreign keys unless asked; WAL lets readers and the writer proceed together; and the driver's
    own BEGIN handling breaks SAVEPOINTs."""
    if isinstance(dbapi_connection, sqlite3.Connection):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        _owner_only(cursor)  # before WAL: SQLite gives the -wal and -shm files the database file's mode
        _write_ahead_log(cursor)
        cursor.close()
        dbapi_connection.isolation_level = None  # SQLAlchemy emits BEGIN itself, see _sqlite_begin


SQLITE_FILE_MODE = 0o600
SQLITE_SIDE_FILES = ("", "-wal", "-shm", "-journal")


def _owner_only(cursor: sqlite3.Cursor) -> None:
    """A file database and its side files are readable by their owner only (0600): they hold every name, keyed
    hash and sealed number. A file someone else owns, or a file system without modes, is left as it is."""
    for _seq, name, path in cursor.execute("PRAGMA database_list").fetchall():
        if name == "main" and path:
            for suffix in SQLITE_SIDE_FILES:
                with suppress(OSError):
                    mode = stat.S_IMODE(os.stat(path + suffix).st_mode)
                    if mode & 0o077:
                        os.chmod(path + suffix, mode & SQLITE_FILE_MODE)


def private_sqlite_file(path: str) -> None:
    """Create a missing database file empty with mode 0600 (an empty file is an empty SQLite database), and its
    folder with 0700, so the file is never readable by others, not even before the first connection."""
    folder = os.path.dirname(path) or "."
    os.makedirs(folder, mode=0o700, exist_ok=True)
    with suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, SQLITE_FILE_MODE))


def _write_ahead_log(cursor: sqlite3.Cursor) -> None:
    """WAL journal for file databases (kept in the file: set once, a no-op after); `:memory:` stays as it is.

    A file that cannot switch (read-only, or another connection mid-transaction at the first switch) keeps its
    journal mode: the service still works, readers may then wait for a commit.
    """
    databases = cursor.execute("PRAGMA database_list").fetchall()
    if not any(name == "main" and path for _seq, name, path in databases):
        return
    with suppress(sqlite3.OperationalError):
        cursor.execute("PRAGMA journal_mode=WAL")


def _sqlite_begin(connection: Connection) -> None:
    """Start SQLite transactions explicitly (SQLAlchemy's pysqlite recipe), so nested transactions work; writes
    begin IMMEDIATE unless the connection was marked DEFERRED (SQLITE_BEGIN)."""
    if connection.dialect.name == "sqlite":
        mode = connection.get_execution_options().get(SQLITE_BEGIN, "IMMEDIATE")
        connection.exec_driver_sql(SQLITE_BEGINS[mode])


event.listen(Engine, "connect", _sqlite_connect)
event.listen(Engine, "begin", _sqlite_begin)

db = SQLAlchemy(model_class=Base)
api = AidApi()

__all__ = ["SQLITE_BEGIN", "api", "db"]
