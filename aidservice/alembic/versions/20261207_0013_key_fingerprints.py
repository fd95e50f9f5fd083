"""key fingerprints: which HMAC key and AES key ids the stored identity numbers were written with

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-08 10:00:00

A new, empty table: the running service records the fingerprints at its first start against it (after checking
a stored number against the keys when the database already holds some), services/keyprints.py.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "key_fingerprints",
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("key_id", sa.String(length=16), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("kind", "key_id", name=op.f("pk_key_fingerprints")),
    )


def downgrade() -> None:
    op.drop_table("key_fingerprints")
