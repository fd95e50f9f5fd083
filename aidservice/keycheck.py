"""The start-up key check of every process that opens the database: server, command line, job worker.

`create_app` runs `check_app_keys` once the database is bound (aidservice/__init__.py); batch commands that never
open the database and the migrations (`flask --app wsgi db ...`) skip it (aidservice/startup.py). The check reads
first (on SQLite without taking the write lock, so a start never waits behind a writer) and writes only when a
fingerprint is to be recorded. A database that does not answer at start is checked again at the first request,
which answers 503 naming the key while the keys do not match (except the health probes, marked `@probe`: liveness
answers while the process serves, readiness reports the mismatch itself).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, TypeVar

from flask import Flask, current_app, request
from sqlalchemy import inspect
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session
from werkzeug.exceptions import ServiceUnavailable

from aidservice.crypto import IdVault
from aidservice.extensions import SQLITE_BEGIN, db
from aidservice.keysafety import KeysMismatch
from aidservice.models import KeyFingerprint
from aidservice.services.accounts.keyprints import KeysChecked, ensure_keys
from aidservice.wiring import id_vault

log = logging.getLogger("aidservice.keys")
CHECKED = "aid_keys_checked"
PROBE = "_aid_probe"
F = TypeVar("F", bound=Callable[..., Any])


def probe(view: F) -> F:
    """Mark a health probe: the deferred key check never refuses it (kept through functools.wraps)."""
    setattr(view, PROBE, True)
    return view


def check_keys(engine: Engine, vault: IdVault) -> KeysChecked | None:
    """Check (and record what is missing) on `engine`; None when the database is not migrated that far yet."""
    reader = engine.execution_options(**{SQLITE_BEGIN: "DEFERRED"})
    with Session(reader) as session:
        if not inspect(session.connection()).has_table(KeyFingerprint.__tablename__):
            return None
        found = ensure_keys(session, vault, record=False)
        session.rollback()
    if not found.writes:
        return found
    for attempt in (1, 2):  # a second process may record the same fingerprints at the same moment
        with Session(engine) as session:
            try:
                found = ensure_keys(session, vault)
                session.commit()
            except IntegrityError:
                session.rollback()
                if attempt == 2:
                    raise
                continue
        for kind, key_id in found.recorded:
            log.info("recorded the fingerprint of %s key %s", kind, key_id or "AID_ID_HMAC_KEY")
        for key_id in found.retired:
            log.info(
                "retired the fingerprint of aes key %s (not in AID_ID_KEYS, no number sealed with it)", key_id
            )
        return found
    return found


def check_app_keys(app: Flask) -> None:
    """At app creation: KeysMismatch when the keys differ; a database that does not answer is checked later."""
    with app.app_context():
        try:
            check_keys(db.engine, id_vault())
        except OperationalError as exc:
            log.warning(
                "key fingerprints not checked at start (database unavailable: %s); checked at the first "
                "request",
                exc.__class__.__name__,
            )
            app.before_request(_check_before_first_request)
            return
    app.extensions[CHECKED] = True


def _check_before_first_request() -> None:
    """The start-up check, deferred until the database answers: while the keys do not match, every request answers
    503 naming the key."""
    if current_app.extensions.get(CHECKED):
        return
    if getattr(current_app.view_functions.get(request.endpoint or ""), PROBE, False):
        return
    try:
        check_keys(db.engine, id_vault())
    except KeysMismatch as exc:
        log.error("refusing requests: %s", exc)
        raise ServiceUnavailable(str(exc)) from None
    except OperationalError:
        return  # still unavailable: the request fails (or /api/v1/health reports it) as it would anyway
    current_app.extensions[CHECKED] = True
