"""Published rule sets: the exact files behind a version, kept so old decisions can be replayed."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import JSON, DateTime, String
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base


def utcnow() -> datetime:
    """Timezone-aware now, so stored timestamps are unambiguous."""
    return datetime.now(UTC)


class RuleSet(Base):
    """One rule-set version (content hash) with its files, {relative path: text}."""

    __tablename__ = "rule_sets"

    version: Mapped[str] = mapped_column(String(64), primary_key=True)
    loaded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    files: Mapped[dict[str, str]] = mapped_column(JSON)

    def __repr__(self) -> str:
        return f"<RuleSet {self.version} files={len(self.files or {})}>"
