"""audit checkpoints: the chain's head hash at a moment, anchoring the chain (`aid audit checkpoint`)

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-27 19:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "audit_checkpoints",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("chain_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_checkpoints")),
    )
    op.create_index(op.f("ix_audit_checkpoints_seq"), "audit_checkpoints", ["seq"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_audit_checkpoints_seq"), table_name="audit_checkpoints")
    op.drop_table("audit_checkpoints")
