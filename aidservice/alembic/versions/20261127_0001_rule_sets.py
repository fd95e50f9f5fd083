"""rule sets: every published rule-set version with its files, kept for replay

Revision ID: 0001
Revises:
Create Date: 2026-11-27 15:14:05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "rule_sets",
        sa.Column("version", sa.String(length=64), nullable=False),
        sa.Column("loaded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("files", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("version", name=op.f("pk_rule_sets")),
    )


def downgrade() -> None:
    op.drop_table("rule_sets")
