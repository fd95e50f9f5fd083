"""gunicorn entry point for the kill -9 test: the app, whose first feed batch halts just before it commits.

At that moment every row of the batch has been sent to the database inside the request's transaction; the
worker writes its pid to AID_FAULT_MARKER and sleeps until the test kills it. Later batches (the retry,
served by the worker gunicorn starts in its place) run normally, because the marker then exists.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from flask import has_request_context, request
from sqlalchemy import Connection, Engine, event

from aidservice import create_app

app = create_app()
MARKER = Path(os.environ["AID_FAULT_MARKER"])


@event.listens_for(Engine, "commit")
def _halt_before_commit(connection: Connection) -> None:
    """At the real COMMIT (not a savepoint's) say so and wait to be killed: the transaction never commits."""
    if MARKER.exists() or not has_request_context() or not request.path.endswith("/batches"):
        return
    partial = MARKER.with_suffix(".tmp")
    partial.write_text(str(os.getpid()))
    partial.rename(MARKER)
    time.sleep(600)
