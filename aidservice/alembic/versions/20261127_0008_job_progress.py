"""jobs: progress, attempts, result, requester and scope, upload payload

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-27 19:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.add_column(sa.Column("progress_done", sa.BigInteger(), server_default="0", nullable=False))
        batch.add_column(sa.Column("progress_total", sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column("attempts", sa.Integer(), server_default="0", nullable=False))
        batch.add_column(sa.Column("max_attempts", sa.Integer(), server_default="1", nullable=False))
        batch.add_column(sa.Column("result", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("actor", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("created_by", sa.String(length=160), nullable=True))
        batch.add_column(sa.Column("scope_school", sa.String(length=32), nullable=True))
        batch.add_column(sa.Column("scope_region", sa.String(length=6), nullable=True))
        batch.add_column(sa.Column("payload", sa.LargeBinary(), nullable=True))
        batch.add_column(sa.Column("started_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True))
        batch.create_index("ix_jobs_scope", ["scope_region", "scope_school"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.drop_index("ix_jobs_scope")
        for column in ("finished_at", "started_at", "payload", "scope_region", "scope_school", "created_by", "actor",
                       "result", "max_attempts", "attempts", "progress_total", "progress_done"):
            batch.drop_column(column)
