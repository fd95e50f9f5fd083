"""identity numbers encrypted at rest (AES-GCM, key id, mask); plain id_number columns dropped

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-27 19:00:00

SQLite: no table is rebuilt (batch mode would DROP the students table, and with foreign keys on that
cascades to guardians, determinations and applications). New columns are added NOT NULL with an
empty default there (SQLite cannot add NOT NULL without one, nor tighten a column in place), and the
old column goes with SQLite's own ALTER TABLE DROP COLUMN (3.35+). PostgreSQL adds them nullable and
sets NOT NULL once every row is sealed.

The data step runs in the app context of `flask db upgrade`, so it seals with the app's keyring
(AID_ID_KEYS / AID_ID_KEY_CURRENT) and its HMAC key, in batches by primary key. The downgrade opens
every number again (every key id in use must still be in AID_ID_KEYS).
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

BATCH = 5000
TABLES = (("students", "student"), ("guardians", "guardian"))


def _vault() -> Any:
    from flask import current_app

    from aidservice.crypto import vault_from_config

    return vault_from_config(current_app.config)


def _batches(conn: sa.Connection, table: sa.Table, *columns: sa.Column) -> Any:
    """Rows of `table` in primary-key order, BATCH at a time (never the whole table in memory)."""
    last = 0
    while True:
        rows = conn.execute(
            sa.select(table.c.id, *columns).where(table.c.id > last).order_by(table.c.id).limit(BATCH)
        ).all()
        if not rows:
            return
        yield rows
        last = rows[-1].id


def _sqlite() -> bool:
    return op.get_bind().dialect.name == "sqlite"


def _add_required(table: str, name: str, type_: sa.types.TypeEngine, sqlite_default: str) -> None:
    """A column that will be NOT NULL once filled (see the module docstring for SQLite)."""
    if _sqlite():
        op.add_column(table, sa.Column(name, type_, nullable=False, server_default=sa.text(sqlite_default)))
    else:
        op.add_column(table, sa.Column(name, type_, nullable=True))


def _require(table: str, name: str, type_: sa.types.TypeEngine) -> None:
    if not _sqlite():
        op.alter_column(table, name, existing_type=type_, nullable=False)


def upgrade() -> None:
    vault = _vault()
    conn = op.get_bind()
    for name, kind in TABLES:
        _add_required(name, "id_cipher", sa.LargeBinary(), "x''")
        _add_required(name, "id_key_id", sa.String(length=16), "''")
        _add_required(name, "id_mask", sa.String(length=18), "''")
        table = sa.table(name, sa.column("id"), sa.column("id_number"), sa.column("id_hmac"),
                         sa.column("id_cipher"), sa.column("id_key_id"), sa.column("id_mask"))
        for rows in _batches(conn, table, table.c.id_number, table.c.id_hmac):
            sealed = []
            for row in rows:
                columns = vault.seal(kind, row.id_number, row.id_hmac)
                sealed.append({"pk": row.id, "cipher": columns["id_cipher"], "key_id": columns["id_key_id"],
                               "mask": columns["id_mask"]})
            conn.execute(
                table.update().where(table.c.id == sa.bindparam("pk"))
                .values(id_cipher=sa.bindparam("cipher"), id_key_id=sa.bindparam("key_id"),
                        id_mask=sa.bindparam("mask")),
                sealed,
            )
        _require(name, "id_cipher", sa.LargeBinary())
        _require(name, "id_key_id", sa.String(length=16))
        _require(name, "id_mask", sa.String(length=18))
        op.drop_column(name, "id_number")


def downgrade() -> None:
    vault = _vault()
    conn = op.get_bind()
    for name, kind in TABLES:
        _add_required(name, "id_number", sa.String(length=18), "''")
        table = sa.table(name, sa.column("id"), sa.column("id_number"), sa.column("id_hmac"),
                         sa.column("id_cipher"), sa.column("id_key_id"))
        for rows in _batches(conn, table, table.c.id_cipher, table.c.id_key_id, table.c.id_hmac):
            conn.execute(
                table.update().where(table.c.id == sa.bindparam("pk")).values(id_number=sa.bindparam("number")),
                [{"pk": row.id, "number": vault.open(kind, cipher=row.id_cipher, key_id=row.id_key_id,
                                                      hmac=row.id_hmac)} for row in rows],
            )
        _require(name, "id_number", sa.String(length=18))
        for column in ("id_mask", "id_key_id", "id_cipher"):
            op.drop_column(name, column)
