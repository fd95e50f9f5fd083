"""Fingerprints of the keys the database's identity numbers were written with (aidservice/keysafety.py)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, String
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base
from .rule_set import utcnow


class KeyFingerprint(Base):
    """One key's fingerprint: kind `hmac` (AID_ID_HMAC_KEY, key_id "") or `aes` (an AID_ID_KEYS key id)."""

    __tablename__ = "key_fingerprints"

    kind: Mapped[str] = mapped_column(String(8), primary_key=True)
    key_id: Mapped[str] = mapped_column(String(16), primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
