"""status declarations: out-of-province statuses declared with a document and verified by the school

Revision ID: declared_0001
Revises: 0013
Create Date: 2026-12-07 16:00:00

A new, empty table (policy §3a): nothing to move.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "declared_0001"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "status_declarations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("application_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=64), nullable=False),
        sa.Column("province", sa.String(length=2), nullable=False),
        sa.Column("document_kind", sa.String(length=64), nullable=False),
        sa.Column("document_issuer", sa.String(length=128), nullable=False),
        sa.Column("document_number", sa.String(length=64), nullable=False),
        sa.Column("document_date", sa.Date(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("verified_by", sa.String(length=128), nullable=True),
        sa.Column("verified_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("note", sa.String(length=500), nullable=False),
        sa.Column("created_by", sa.String(length=128), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "state IN ('pending', 'verified', 'rejected')", name=op.f("ck_status_declarations_state_known")
        ),
        sa.ForeignKeyConstraint(
            ["application_id"],
            ["applications.id"],
            name=op.f("fk_status_declarations_application_id_applications"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_status_declarations")),
    )
    with op.batch_alter_table("status_declarations", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_status_declarations_application_id"), ["application_id"], unique=False
        )
        batch_op.create_index("ix_status_declarations_state", ["state", "status"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("status_declarations", schema=None) as batch_op:
        batch_op.drop_index("ix_status_declarations_state")
        batch_op.drop_index(batch_op.f("ix_status_declarations_application_id"))
    op.drop_table("status_declarations")
