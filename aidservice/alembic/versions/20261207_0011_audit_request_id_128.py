"""audit events: request_id up to 128 characters, the X-Request-ID length the service accepts

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07 10:30:00

On PostgreSQL widening a varchar is a catalogue change (no table rewrite, a brief lock). On SQLite, which does
not enforce the length, batch mode rebuilds the table with the new declaration, copying every row as it is
(the chain's hashes cover the values, which do not change). The downgrade refuses while any stored id is longer
than 64 characters: cutting it would break the audit chain, whose hashes cover the request id.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("audit_events") as batch:
        batch.alter_column("request_id", existing_type=sa.String(length=64), type_=sa.String(length=128),
                           existing_nullable=True)


def downgrade() -> None:
    longer = op.get_bind().scalar(sa.text("SELECT count(*) FROM audit_events WHERE length(request_id) > 64"))
    if longer:
        raise RuntimeError(f"{longer} audit events carry a request id longer than 64 characters; "
                           "narrowing the column would cut them and break the audit chain")
    with op.batch_alter_table("audit_events") as batch:
        batch.alter_column("request_id", existing_type=sa.String(length=128), type_=sa.String(length=64),
                           existing_nullable=True)
