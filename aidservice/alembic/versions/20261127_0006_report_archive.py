"""report archive

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-27 18:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "report_archive",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("period", sa.String(length=32), nullable=False),
        sa.Column("region_code", sa.String(length=32), nullable=False),
        sa.Column("access_region", sa.String(length=6), nullable=False),
        sa.Column("region_level", sa.String(length=16), nullable=False),
        sa.Column("format", sa.String(length=8), nullable=False),
        sa.Column("as_of", sa.DateTime(timezone=True), nullable=False),
        sa.Column("as_of_day", sa.Date(), nullable=False),
        sa.Column("rule_set_versions", sa.JSON(), nullable=False),
        sa.Column("feed_watermark", sa.JSON(), nullable=False),
        sa.Column("empty", sa.Boolean(), nullable=False),
        sa.Column("media_type", sa.String(length=100), nullable=False),
        sa.Column("filename", sa.String(length=200), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("trigger", sa.String(length=16), nullable=False),
        sa.Column("created_by", sa.String(length=128), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_report_archive")),
        sa.UniqueConstraint("kind", "period", "region_code", "format", "as_of_day", name="uq_report_archive_key"),
    )
    with op.batch_alter_table("report_archive", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_report_archive_access_region"), ["access_region"], unique=False)
        batch_op.create_index(batch_op.f("ix_report_archive_region_code"), ["region_code"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("report_archive", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_report_archive_region_code"))
        batch_op.drop_index(batch_op.f("ix_report_archive_access_region"))
    op.drop_table("report_archive")
