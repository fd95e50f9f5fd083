"""students: east–west cooperation flag and origin, enrolment state and date; person_births

Revision ID: seedgroups_0014
Revises: declared_0001
Create Date: 2026-12-07 16:00:00

Seed items 35 (东西协作) and 30 (控辍保学). Existing students are `enrolled`, not east–west. `person_births`
starts empty: it fills as agency batches arrive (a record received before this migration has no birth date
until its agency sends it again).

No table is rebuilt (batch mode on SQLite would DROP the students table, and with foreign keys on that
cascades to guardians, determinations and applications; see 0007): the columns are added with ALTER TABLE
ADD COLUMN, NOT NULL ones with a constant server default, and dropped with ALTER TABLE DROP COLUMN (SQLite
3.35+) on the way down.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "seedgroups_0014"
down_revision = "declared_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "students",
        sa.Column("east_west_cooperation", sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    op.add_column("students", sa.Column("east_west_origin", sa.String(length=32), nullable=True))
    op.add_column(
        "students",
        sa.Column("enrolment_state", sa.String(length=16), nullable=False, server_default="enrolled"),
    )
    op.add_column("students", sa.Column("enrolment_date", sa.Date(), nullable=True))
    op.create_index("ix_students_enrolment_state", "students", ["enrolment_state"])
    op.create_table(
        "person_births",
        sa.Column("person_hmac", sa.String(length=64), nullable=False),
        sa.Column("birth_date", sa.Date(), nullable=False),
        sa.PrimaryKeyConstraint("person_hmac", name=op.f("pk_person_births")),
    )


def downgrade() -> None:
    op.drop_table("person_births")
    op.drop_index("ix_students_enrolment_state", table_name="students")
    for column in ("enrolment_date", "enrolment_state", "east_west_origin", "east_west_cooperation"):
        op.drop_column("students", column)
