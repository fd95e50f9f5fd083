"""The audit trail: append-only events, each hashed together with the previous event's hash."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, DateTime, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base
from .rule_set import utcnow


class AuditEvent(Base):
    """Who did what to which subject, when, under which request; `hash` chains it to its predecessor."""

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, unique=True)
    occurred_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    actor: Mapped[str] = mapped_column(String(128))  # "user:alice", "client:3", "system"
    action: Mapped[str] = mapped_column(String(64))
    subject: Mapped[str] = mapped_column(String(160), index=True)  # "student:S001", "batch:civil_affairs/B1"
    summary: Mapped[dict[str, Any]] = mapped_column(
        JSON
    )  # before/after, counts, digests; no plain ID numbers
    request_id: Mapped[str | None] = mapped_column(
        String(128)
    )  # X-Request-ID: up to 128 (aidservice.requestid)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class AuditCheckpoint(Base):
    """The chain's head hash at a moment (`aid audit checkpoint`); its exported line anchors the chain outside."""

    __tablename__ = "audit_checkpoints"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, index=True)  # the last event covered; 0 for an empty chain
    chain_hash: Mapped[str] = mapped_column(String(64))  # that event's hash (GENESIS for an empty chain)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
