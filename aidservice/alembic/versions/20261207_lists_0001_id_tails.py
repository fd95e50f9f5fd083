"""students: keyed digests of the ID number's last 4 and last 6 characters (the lists' search by the last digits)

Revision ID: lists_0001
Revises: whatif1
Create Date: 2026-12-07 19:20:00

Two nullable columns, students.id_tail4 and students.id_tail6, each an index. They hold the first 32 hex
characters of HMAC-SHA256 under AID_ID_HMAC_KEY of the tail (aidservice.crypto.IdVault.tail_digest), never
the digits: without the key a stolen table cannot be tried against the 10^4 or 10^6 possible tails.

Backfill: every student's number is opened with the app's keyring (AID_ID_KEYS, as `aid keys rotate` does),
its two digests computed and written, a batch of 1000 rows at a time in primary-key order, only rows whose
id_tail4 is still empty (running the step again, or after a partial run, writes only what is missing). The
numbers stay in memory for the batch and are never logged. A row whose key is no longer in the keyring stops
the upgrade with the row's primary key (CannotOpen), as the rotation does: fix the keyring first.

Downgrade drops the columns and their indexes; the search by the last digits then finds nothing.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from flask import current_app

from aidservice.crypto import CannotOpen, vault_from_config

revision = "lists_0001"
down_revision = "whatif1"
branch_labels = None
depends_on = None

BATCH = 1000


def upgrade() -> None:
    # plain ALTER TABLE ... ADD COLUMN: on SQLite a table rebuild would cascade to the guardians
    op.add_column("students", sa.Column("id_tail4", sa.String(length=32), nullable=True))
    op.add_column("students", sa.Column("id_tail6", sa.String(length=32), nullable=True))
    op.create_index("ix_students_id_tail4", "students", ["id_tail4"])
    op.create_index("ix_students_id_tail6", "students", ["id_tail6"])
    _backfill(op.get_bind())


def _backfill(conn: sa.Connection) -> None:
    students = sa.table(
        "students",
        sa.column("id", sa.Integer),
        sa.column("id_cipher", sa.LargeBinary),
        sa.column("id_key_id", sa.String),
        sa.column("id_hmac", sa.String),
        sa.column("id_tail4", sa.String),
        sa.column("id_tail6", sa.String),
    )
    vault = None
    after = 0
    while True:
        rows = conn.execute(
            sa.select(students.c.id, students.c.id_cipher, students.c.id_key_id, students.c.id_hmac)
            .where(students.c.id > after, students.c.id_tail4.is_(None))
            .order_by(students.c.id)
            .limit(BATCH)
        ).all()
        if not rows:
            return
        if vault is None:
            vault = vault_from_config(current_app.config)
        params = []
        for row in rows:
            try:
                number = vault.open_row("student", row)
            except CannotOpen as exc:
                raise CannotOpen(f"students row {row.id}: {exc}") from None
            tails = vault.tails(number)
            params.append({"pk": row.id, "t4": tails["id_tail4"], "t6": tails["id_tail6"]})
        conn.execute(
            students.update()
            .where(students.c.id == sa.bindparam("pk"))
            .values(id_tail4=sa.bindparam("t4"), id_tail6=sa.bindparam("t6")),
            params,
        )
        after = rows[-1].id


def downgrade() -> None:
    op.drop_index("ix_students_id_tail6", table_name="students")
    op.drop_index("ix_students_id_tail4", table_name="students")
    op.drop_column("students", "id_tail6")
    op.drop_column("students", "id_tail4")
