"""Determinations: a student's level and awards for a school year, immutable, superseded never updated."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
)
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base
from .rule_set import utcnow


class Determination(Base):
    """What the rules decided for one student on one date, with everything needed to replay and explain it.

    `seq` orders changes for agencies' outcome feeds: it is assigned under the change-log lock, so
    it grows in commit order and a reader never skips a row that commits late.
    """

    __tablename__ = "determinations"
    __table_args__ = (Index("ix_determinations_current", "student_pk", "school_year", "current"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, unique=True)
    student_pk: Mapped[int] = mapped_column(ForeignKey("students.id", ondelete="CASCADE"))
    school_year: Mapped[str] = mapped_column(String(9))
    as_of: Mapped[date] = mapped_column(Date)
    rule_set_version: Mapped[str] = mapped_column(ForeignKey("rule_sets.version"))
    level: Mapped[str] = mapped_column(String(16))
    awards: Mapped[list[dict[str, Any]]] = mapped_column(
        JSON
    )  # [{program, name, kind, amount, basis, status}]
    total_fen: Mapped[int] = mapped_column(BigInteger)
    facts: Mapped[dict[str, Any]] = mapped_column(JSON)  # {fact: {value, source, record_ids}}
    explanation: Mapped[dict[str, Any]] = mapped_column(JSON)  # {reasons, missing}
    changed: Mapped[bool] = mapped_column(Boolean)  # level or awards differ from the one it supersedes
    current: Mapped[bool] = mapped_column(Boolean, default=True)
    supersedes: Mapped[int | None] = mapped_column(ForeignKey("determinations.id"))
    cause: Mapped[str] = mapped_column(String(160))  # "feed:civil_affairs/B-17", "roster", "redetermine"
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    content_hash: Mapped[str] = mapped_column(String(64))  # covered by the audit chain
    # level, awards (program, amount) and facts only: a re-determination that reproduces it stores nothing
    outcome_hash: Mapped[str | None] = mapped_column(String(64))


class Counter(Base):
    """Named counters taken under a row lock: the change-log sequence and the audit chain head."""

    __tablename__ = "counters"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger, default=0)
    last_hash: Mapped[str] = mapped_column(String(64), default="")


class Job(Base):
    """Long work (bulk re-determination, imports, reports) with an idempotent key and a resumable cursor.

    `aid redetermine` uses the key, cursor and counts on its own; jobs run by `aidservice.jobs` (API,
    worker) also keep progress, attempts, the result, who asked and the scope that may see them.
    """

    __tablename__ = "jobs"
    __table_args__ = (Index("ix_jobs_scope", "scope_region", "scope_school"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(160), unique=True)
    kind: Mapped[str] = mapped_column(String(40))
    params: Mapped[dict[str, Any]] = mapped_column(JSON)
    state: Mapped[str] = mapped_column(String(16), default="queued")  # queued | running | done | failed
    cursor: Mapped[int] = mapped_column(BigInteger, default=0)  # last student pk processed
    counts: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    error: Mapped[str | None] = mapped_column(String(2000))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)
    progress_done: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    progress_total: Mapped[int | None] = mapped_column(BigInteger)
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    max_attempts: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    actor: Mapped[dict[str, Any] | None] = mapped_column(
        JSON
    )  # who asked: the Actor's fields, replayed by the worker
    created_by: Mapped[str | None] = mapped_column(String(160))  # the actor's audit label
    scope_school: Mapped[str | None] = mapped_column(
        String(32)
    )  # a school's job: only that school (and above)
    scope_region: Mapped[str | None] = mapped_column(String(6))  # the division the job touches
    payload: Mapped[bytes | None] = mapped_column(
        LargeBinary, deferred=True
    )  # an upload; dropped when finished
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
