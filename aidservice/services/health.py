"""Health probes: is this instance ready for traffic (GET /health/ready, and GET /api/v1/health in its own body).

Readiness (GET /health/ready) passes when every check passes:

- `database`: the database answers a trivial query (on PostgreSQL every statement of the probe is bounded by
  a short statement timeout, so a stuck server fails the probe instead of holding it);
- `migrations`: the database's `alembic_version` holds exactly the migration heads of the script directory
  (an empty or unmigrated database, or one a revision behind, is not ready: its first request would fail);
- `keys`: the configured keys match the fingerprints the database recorded, by the start-up check itself
  (services/accounts/keyprints.ensure_keys, read only: nothing is recorded by a probe);
- `redis`: when a Redis URL is configured (jobs, rate limits, the sign-in throttle), it answers PING.

The rule set is loaded before the app serves at all (aidservice.load_rule_set refuses to start otherwise), so the
caller reports `rules` from the app. Reasons are short English sentences naming no secret and no personal data.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import TypedDict

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry
from sqlalchemy import inspect, literal, select, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from aidservice.crypto import IdVault
from aidservice.keysafety import KeysMismatch
from aidservice.services.accounts.keyprints import ensure_keys

log = logging.getLogger(__name__)

PROBE_TIMEOUT_MS = 2000
"""Each statement of a readiness probe on PostgreSQL, at most (the connect timeout is the engine's, 5 s)."""
REDIS_TIMEOUT_S = 1.0
VERSION_TABLE = "alembic_version"


class Check(TypedDict):
    """One readiness check: its name, whether it passed, and why not (empty when it passed)."""

    name: str
    ok: bool
    reason: str


def passed(name: str) -> Check:
    return Check(name=name, ok=True, reason="")


def failed(name: str, reason: str) -> Check:
    return Check(name=name, ok=False, reason=reason)


def database_checks(
    session: Session, heads: Iterable[str], vault: IdVault, begin: Mapping[str, str] | None = None
) -> list[Check]:
    """The `database`, `migrations` and `keys` checks on `session` (the caller rolls it back afterwards); `begin`:
    execution options of the connection when the session has not begun yet (on SQLite: no write lock).

    Once the database does not answer, the later checks fail as "not checked"."""
    try:
        if not session.in_transaction():
            session.connection(execution_options=dict(begin or {}))
        _bound_statements(session)
        session.execute(select(literal(1)))
    except SQLAlchemyError as exc:
        log.warning("readiness: database unavailable: %s", exc.__class__.__name__)
        session.rollback()
        reason = "the database does not answer"
        return [
            failed("database", reason),
            failed("migrations", "not checked: " + reason),
            failed("keys", "not checked: " + reason),
        ]
    checks = [passed("database"), _migrations_check(session, frozenset(heads))]
    checks.append(
        _keys_check(session, vault) if checks[1]["ok"] else failed("keys", "not checked: not migrated")
    )
    return checks


def _bound_statements(session: Session) -> None:
    """On PostgreSQL, a statement timeout for the rest of this transaction (SET LOCAL, undone by its rollback)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(
            select(text("set_config('statement_timeout', :ms, true)")).params(ms=str(PROBE_TIMEOUT_MS))
        )


def _migrations_check(session: Session, heads: frozenset[str]) -> Check:
    try:
        if not inspect(session.connection()).has_table(VERSION_TABLE):
            return failed("migrations", "the database is not migrated (no alembic_version table)")
        current = frozenset(session.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalars())
    except SQLAlchemyError as exc:
        log.warning("readiness: migration state unreadable: %s", exc.__class__.__name__)
        return failed("migrations", "the migration state could not be read")
    if not current:
        return failed("migrations", "the database is not migrated (no revision recorded)")
    if current != heads:
        return failed(
            "migrations",
            f"the database is at revision {', '.join(sorted(current))}, not at the head "
            f"{', '.join(sorted(heads))} (run: aid db upgrade)",
        )
    return passed("migrations")


def _keys_check(session: Session, vault: IdVault) -> Check:
    try:
        ensure_keys(session, vault, record=False)
    except KeysMismatch as exc:
        return failed("keys", str(exc))  # names the variable and the key id, never a key
    except SQLAlchemyError as exc:
        log.warning("readiness: key fingerprints unreadable: %s", exc.__class__.__name__)
        return failed("keys", "the key fingerprints could not be read")
    return passed("keys")


def redis_check(url: str | None) -> Check | None:
    """PING the configured Redis (None when none is configured)."""
    if not url:
        return None
    client = redis.Redis.from_url(
        url,
        socket_timeout=REDIS_TIMEOUT_S,
        socket_connect_timeout=REDIS_TIMEOUT_S,
        retry=Retry(NoBackoff(), 0),
    )
    try:
        client.ping()
    except redis.RedisError as exc:
        log.warning("readiness: Redis unavailable: %s", exc.__class__.__name__)
        return failed("redis", "Redis does not answer")
    finally:
        client.close()
    return passed("redis")
