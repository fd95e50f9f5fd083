"""stored masks keep the region code and the check character only (320102***********1)

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07 11:00:00

The masks stored beside the sealed numbers kept the first 6 and the last 4 characters: with them and the
HMAC key an attacker tried ~130 birth dates per person to recover every number offline. Each stored mask is
rewritten from itself: old[:6] + 11 stars + old[-1], in one UPDATE per column with substr/length/||, which
SQLite and PostgreSQL read alike (no number is decrypted, no key is needed). Masks that are not 18 characters
(none are written, but a hand-made row may hold one) become all stars; masks already in the new shape are
left as they are, so running the step twice changes nothing.

Columns: students.id_mask, guardians.id_mask, agency_records.person_mask.

Not rewritten: audit event summaries (the chain's hashes cover them; rewriting them is what the chain exists
to detect) and archived report files (their content hash is recorded). Both keep the old masks of what was
written before this revision; see the README's "Security" section.

Downgrade: the dropped digits are gone from the masks (they remain only inside the AES-GCM ciphertext), so
the downgrade leaves the shorter masks in place. The older code shows a stored mask as it is, so it keeps
working; it writes the old shape for new rows until upgraded again, and this revision's upgrade re-masks
those.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

COLUMNS = (("students", "id_mask"), ("guardians", "id_mask"), ("agency_records", "person_mask"))
STARS = "*" * 11


def upgrade() -> None:
    conn = op.get_bind()
    for table, column in COLUMNS:
        conn.execute(sa.text(
            f"UPDATE {table} SET {column} = substr({column}, 1, 6) || '{STARS}' || substr({column}, 18, 1) "
            f"WHERE length({column}) = 18 AND substr({column}, 7, 11) <> '{STARS}'"
        ))
        conn.execute(sa.text(
            f"UPDATE {table} SET {column} = substr('{'*' * 18}', 1, length({column})) "
            f"WHERE length({column}) <> 18 AND length({column}) > 0"
        ))


def downgrade() -> None:
    """Leaves the masks as they are: the digits they no longer show cannot be restored from them."""
