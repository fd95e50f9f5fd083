"""Out-of-province status declarations (policy §3a): a status held in another province (建档立卡, 低保, 特困),
declared on an application with a supporting document and verified by the school's officer before review."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import CheckConstraint, Date, DateTime, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base
from .rule_set import utcnow

DECLARATION_STATES = ("pending", "verified", "rejected")


class StatusDeclaration(Base):
    """One declared status with its document; `state` is what the school's officer found (pending until then).

    The status is one the rule set lets a student declare (sources.yaml, `kind: declared`); `source` is that
    declared source, so the facts it gives name it (`declared_verified`).
    """

    __tablename__ = "status_declarations"
    __table_args__ = (
        CheckConstraint("state IN ('pending', 'verified', 'rejected')", name="state_known"),
        Index("ix_status_declarations_state", "state", "status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    application_id: Mapped[int] = mapped_column(ForeignKey("applications.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)  # order on the application, from 0
    source: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(64))
    province: Mapped[str] = mapped_column(String(2))  # division code of the province (first two digits)
    document_kind: Mapped[str] = mapped_column(String(64))
    document_issuer: Mapped[str] = mapped_column(String(128))
    document_number: Mapped[str] = mapped_column(String(64))
    document_date: Mapped[date] = mapped_column(Date)
    state: Mapped[str] = mapped_column(String(16), default="pending")
    verified_by: Mapped[str | None] = mapped_column(String(128))
    verified_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    note: Mapped[str] = mapped_column(String(500), default="")
    created_by: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
