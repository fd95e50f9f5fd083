"""Finding dead pooled connections without a round trip on every request.

SQLAlchemy's `pool_pre_ping` pings each connection every time it leaves the pool: one more round trip per
request, on a busy server the most frequent statement of all. Here only a connection that sat unused for
`idle_seconds` is pinged (it may have been cut by a restart, a failover or a firewall while it waited); a
connection used a moment ago is handed out as it is. If the database went away in that moment, the request's
first statement fails as a disconnect, which SQLAlchemy turns into invalidating the whole pool and the error
handler into a 503 (aidservice.errors): the next requests connect afresh, so the service recovers by itself.
"""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import Engine, event, exc

LAST_USED = "aidservice.last_checkin"
"""Where a pooled connection's record notes when it last went back to the pool (time.monotonic())."""


def ping_idle_connections(engine: Engine, idle_seconds: float) -> None:
    """Ping connections idle for `idle_seconds` or more when they are checked out (0: every checkout)."""
    dialect = engine.dialect

    def note_checkin(_dbapi_connection: Any, record: Any) -> None:
        record.info[LAST_USED] = time.monotonic()

    def ping_if_idle(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        last = record.info.get(LAST_USED)
        if last is None or time.monotonic() - last < idle_seconds:
            return  # a new connection, or one just used
        try:
            dialect.do_ping(dbapi_connection)
        except Exception as err:
            if dialect.is_disconnect(err, dbapi_connection, None):
                # as pool_pre_ping does: drop every connection made before now, retry with a new one
                raise exc.InvalidatePoolError() from err
            raise

    event.listen(engine, "checkin", note_checkin)
    event.listen(engine, "checkout", ping_if_idle)
