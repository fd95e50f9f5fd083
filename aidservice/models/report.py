"""The report archive: every scheduled report stored with what makes it reproducible and a hash of its bytes."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Date, DateTime, Integer, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base
from .rule_set import utcnow


class ArchivedReport(Base):
    """One generated report file; a kind, period, region, format and as-of day is generated once."""

    __tablename__ = "report_archive"
    __table_args__ = (
        UniqueConstraint(
            "kind", "period", "region_code", "format", "as_of_day", name="uq_report_archive_key"
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    period: Mapped[str] = mapped_column(String(32))
    region_code: Mapped[str] = mapped_column(String(32), index=True)  # 320000, a city, a county or a school
    access_region: Mapped[str] = mapped_column(
        String(6), index=True
    )  # decides who may read it (a school's county)
    region_level: Mapped[str] = mapped_column(String(16))  # province | city | county | school
    format: Mapped[str] = mapped_column(String(8))
    as_of: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    as_of_day: Mapped[date] = mapped_column(Date)  # in Jiangsu time
    rule_set_versions: Mapped[dict[str, Any]] = mapped_column(JSON)
    feed_watermark: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    empty: Mapped[bool] = mapped_column(default=False)
    media_type: Mapped[str] = mapped_column(String(100))
    filename: Mapped[str] = mapped_column(String(200))
    size: Mapped[int] = mapped_column(BigInteger)
    content_hash: Mapped[str] = mapped_column(String(64))  # sha256 of the bytes
    content: Mapped[bytes] = mapped_column(LargeBinary, deferred=True)
    trigger: Mapped[str] = mapped_column(String(16))  # schedule | manual
    created_by: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
