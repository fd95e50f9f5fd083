"""Extension singletons, bound to an app in `create_app`: the database (with SQLite's connection setup).

The API's flask-smorest `Api` is the API layer's own (aidservice.api.spec).
"""

from __future__ import annotations

import os
import sqlite3
import stat
import urllib.parse
from contextlib import suppress
from typing import Any

from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import Connection, Engine, event

from aidservice.models import Base

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


def _sqlite_open(dialect: Any, _record: Any, cargs: list[Any], cparams: dict[str, Any]) -> None:
    """A database file on a read-only file system is opened immutable: SQLite cannot read a WAL database there
    once a clean shutdown removed its -shm file (SQLITE_CANTOPEN for every read), while immutable needs no
    side file. Nothing can write on that file system anyway, so reads go on and every write fails with
    SQLITE_READONLY, which the error handler answers 503 `database-read-only` (aidservice.dbfaults)."""
    if dialect.name != "sqlite" or not cargs or not isinstance(cargs[0], str) or cparams.get("uri"):
        return
    path = cargs[0]
    if path in ("", ":memory:") or not _on_read_only_file_system(path):
        return
    cargs[0] = "file:" + urllib.parse.quote(os.path.abspath(path)) + "?immutable=1"
    cparams["uri"] = True


def _on_read_only_file_system(path: str) -> bool:
    try:
        return bool(os.statvfs(os.path.dirname(os.path.abspath(path))).f_flag & os.ST_RDONLY)
    except OSError:
        return False


def _sqlite_begin(connection: Connection) -> None:
    """Start SQLite transactions explicitly (SQLAlchemy's pysqlite recipe), so nested transactions work; writes
    begin IMMEDIATE unless the connection was marked DEFERRED (SQLITE_BEGIN)."""
    if connection.dialect.name == "sqlite":
        mode = connection.get_execution_options().get(SQLITE_BEGIN, "IMMEDIATE")
        connection.exec_driver_sql(SQLITE_BEGINS[mode])


event.listen(Engine, "do_connect", _sqlite_open)
event.listen(Engine, "connect", _sqlite_connect)
event.listen(Engine, "begin", _sqlite_begin)

db = SQLAlchemy(model_class=Base)

__all__ = ["SQLITE_BEGIN", "db"]
