"""A notice's revisions (公示版次) and a school's notice settings (监督电话, 落款)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Date, DateTime, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base
from .rule_set import utcnow


class NoticeRevision(Base):
    """One published revision of a notice: what it listed that day, frozen.

    `entries` holds name, class and level of each listed application (and the application's id, never shown,
    to tell the next revision what changed); `changes` what changed from the previous revision (empty for the
    first): [{application_id, name, class_name, from, to}], `from` None for an entry added, `to` None for one
    removed. A revision is never edited, except that entries added on the day of the latest one join it.
    """

    __tablename__ = "notice_revisions"
    __table_args__ = (UniqueConstraint("notice_id", "number", name="uq_notice_revisions_number"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    notice_id: Mapped[int] = mapped_column(ForeignKey("notices.id"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    revised_on: Mapped[date] = mapped_column(Date)
    reason: Mapped[str] = mapped_column(String(32))  # initial | addition | objection | reassess | rejection
    entries: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    changes: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    created_by: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class NoticeSettings(Base):
    """What a school prints on its notices: the phone for objections (监督电话) and the sign-off (落款)."""

    __tablename__ = "notice_settings"

    school_code: Mapped[str] = mapped_column(ForeignKey("schools.code"), primary_key=True)
    contact_phone: Mapped[str] = mapped_column(String(32), default="")
    signoff: Mapped[str] = mapped_column(String(64), default="")
    updated_by: Mapped[str] = mapped_column(String(128))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)
