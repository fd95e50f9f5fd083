"""Health probes the API reports."""

from __future__ import annotations

import logging

from sqlalchemy import literal, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

log = logging.getLogger(__name__)


def database_available(session: Session) -> bool:
    """True when the database answers a trivial query; a failure is logged, not raised."""
    try:
        session.execute(select(literal(1)))  # a SELECT the read-only guard (api.reads) lets through
    except SQLAlchemyError as exc:
        log.warning("database unavailable: %s", exc.__class__.__name__)
        session.rollback()
        return False
    return True
