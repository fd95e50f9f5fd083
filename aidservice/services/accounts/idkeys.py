"""Key rotation for identity numbers at rest: re-seal rows under the current key, a batch at a time.

Resumable and idempotent: a batch only touches rows still under another key, and its UPDATE matches the
row's old key id and keyed hash, so a row rewritten meanwhile by the roster (already under the current
key) is left alone. The caller commits after each batch; `record_rotation` audits the finished run.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, bindparam, func, select, update
from sqlalchemy.orm import Session

from aidservice.crypto import IdVault, Kind
from aidservice.models import Guardian, Student
from aidservice.services import audit
from aidservice.services.actors import Actor

MODELS: dict[Kind, Any] = {"student": Student, "guardian": Guardian}
ROTATED_ACTION = "id_keys.rotated"


@dataclass(frozen=True, slots=True)
class Batch:
    """What one batch did: rows re-sealed, rows skipped (changed meanwhile) and the last primary key read."""

    resealed: int
    skipped: int
    last_pk: int | None  # None: nothing left after the given key


def key_counts(session: Session) -> dict[Kind, dict[str, int]]:
    """Rows per key id, per kind: a key can leave AID_ID_KEYS once no row uses it."""
    counts: dict[Kind, dict[str, int]] = {}
    for kind, model in MODELS.items():
        rows = session.execute(select(model.id_key_id, func.count()).group_by(model.id_key_id))
        counts[kind] = {key_id: n for key_id, n in sorted(rows.all())}
    return counts


def remaining(session: Session, vault: IdVault, kind: Kind) -> int:
    """Rows of `kind` not yet under the current key."""
    model = MODELS[kind]
    return session.execute(select(func.count()).where(model.id_key_id != vault.current)).scalar_one()


def rotate_batch(
    session: Session, *, vault: IdVault, kind: Kind, after_pk: int = 0, size: int = 1000
) -> Batch:
    """Re-seal up to `size` rows of `kind` (primary key above `after_pk`) that are under an older key.

    CannotOpen (from the vault) when a row's key is no longer in the keyring or its ciphertext was altered."""
    model = MODELS[kind]
    table = model.__table__
    rows = session.execute(
        select(model.id, model.id_cipher, model.id_key_id, model.id_hmac, *_kept(model))
        .where(model.id > after_pk, model.id_key_id != vault.current)
        .order_by(model.id)
        .limit(size)
    ).all()
    if not rows:
        return Batch(0, 0, None)
    params = []
    for row in rows:
        sealed = vault.seal(kind, vault.open_row(kind, row), row.id_hmac)
        params.append(
            {
                "pk": row.id,
                "old_key": row.id_key_id,
                "old_hmac": row.id_hmac,
                "cipher": sealed["id_cipher"],
                "key_id": sealed["id_key_id"],
                **{f"kept_{c.key}": getattr(row, c.key) for c in _kept(model)},
            }
        )
    statement = (
        update(table)
        .where(
            and_(
                table.c.id == bindparam("pk"),
                table.c.id_key_id == bindparam("old_key"),
                table.c.id_hmac == bindparam("old_hmac"),
            )
        )
        .values(
            id_cipher=bindparam("cipher"),
            id_key_id=bindparam("key_id"),
            **{c.key: bindparam(f"kept_{c.key}") for c in _kept(model)},
        )
    )
    result = session.connection().execute(statement, params)
    resealed = result.rowcount if result.rowcount is not None and result.rowcount >= 0 else len(params)
    return Batch(resealed, len(params) - resealed, rows[-1].id)


def _kept(model: Any) -> list[Any]:
    """Columns an UPDATE would stamp by default (updated_at): re-sealing is not a change to the record."""
    return [column for column in (getattr(model, "updated_at", None),) if column is not None]


def record_rotation(
    session: Session,
    *,
    actor: Actor,
    vault: IdVault,
    resealed: dict[str, int],
    counts: dict[Kind, dict[str, int]],
) -> None:
    """The audit event of a finished rotation: how many rows moved and what every row is under now."""
    audit.record(
        session,
        actor=actor,
        action=ROTATED_ACTION,
        subject="id_keys",
        summary={"current": vault.current, "resealed": resealed, "by_key": counts},
    )
