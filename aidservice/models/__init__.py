"""SQLAlchemy models; importing this package registers every table on `Base.metadata`."""

from __future__ import annotations

from .base import Base
from .rule_set import RuleSet

__all__ = ["Base", "RuleSet"]
