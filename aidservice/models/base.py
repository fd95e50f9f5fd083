"""Declarative base for every model: typed SQLAlchemy 2.0, no Flask, stable constraint names."""

from __future__ import annotations

from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
"""Named constraints let Alembic alter them later (SQLite batch mode needs names)."""


class Base(DeclarativeBase):
    """Base of all models; its metadata is what the migrations describe."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
