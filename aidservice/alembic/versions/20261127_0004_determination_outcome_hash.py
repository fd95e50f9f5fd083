"""determinations: outcome_hash (level, awards and facts) so a re-determination that changes nothing stores nothing

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27 16:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("determinations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("outcome_hash", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("determinations", schema=None) as batch_op:
        batch_op.drop_column("outcome_hash")
