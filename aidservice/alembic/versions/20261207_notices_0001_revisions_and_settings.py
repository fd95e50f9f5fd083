"""notices: revisions (公示版次) and per-school notice settings (监督电话, 落款)

Revision ID: notices_0001
Revises: lists_0001
Create Date: 2026-12-07 22:10:00

Two new tables. notice_revisions: every existing notice gets its revision 1, dated the day it opened, with
its current entries (name, class, level of the applications listed on it: on notice, under objection or
approved, level not none), as the notice page showed them before this step; running the step again after a
partial run adds only what is missing (a notice that already has a revision is skipped). notice_settings
starts empty: a notice without settings prints no phone and the default sign-off.

Downgrade drops both tables; the notices show their live entries again, the revisions are lost.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "notices_0001"
down_revision = "lists_0001"
branch_labels = None
depends_on = None

LISTED = ("notice", "objected", "approved")


def upgrade() -> None:
    op.create_table(
        "notice_revisions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("notice_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("revised_on", sa.Date(), nullable=False),
        sa.Column("reason", sa.String(length=32), nullable=False),
        sa.Column("entries", sa.JSON(), nullable=False),
        sa.Column("changes", sa.JSON(), nullable=False),
        sa.Column("created_by", sa.String(length=128), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["notice_id"], ["notices.id"], name=op.f("fk_notice_revisions_notice_id_notices")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notice_revisions")),
        sa.UniqueConstraint("notice_id", "number", name="uq_notice_revisions_number"),
    )
    op.create_index(op.f("ix_notice_revisions_notice_id"), "notice_revisions", ["notice_id"])
    op.create_table(
        "notice_settings",
        sa.Column("school_code", sa.String(length=32), nullable=False),
        sa.Column("contact_phone", sa.String(length=32), nullable=False),
        sa.Column("signoff", sa.String(length=64), nullable=False),
        sa.Column("updated_by", sa.String(length=128), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["school_code"], ["schools.code"], name=op.f("fk_notice_settings_school_code_schools")
        ),
        sa.PrimaryKeyConstraint("school_code", name=op.f("pk_notice_settings")),
    )
    _backfill(op.get_bind())


def _backfill(conn: sa.Connection) -> None:
    notices = sa.table(
        "notices", sa.column("id", sa.Integer), sa.column("opened_on", sa.Date), sa.column("created_by", sa.String)
    )
    revisions = sa.table(
        "notice_revisions",
        sa.column("notice_id", sa.Integer),
        sa.column("number", sa.Integer),
        sa.column("revised_on", sa.Date),
        sa.column("reason", sa.String),
        sa.column("entries", sa.JSON),
        sa.column("changes", sa.JSON),
        sa.column("created_by", sa.String),
        sa.column("created_at", sa.DateTime(timezone=True)),
    )
    applications = sa.table(
        "applications",
        sa.column("id", sa.Integer),
        sa.column("student_pk", sa.Integer),
        sa.column("notice_id", sa.Integer),
        sa.column("state", sa.String),
        sa.column("level", sa.String),
    )
    students = sa.table(
        "students", sa.column("id", sa.Integer), sa.column("name", sa.String), sa.column("class_name", sa.String)
    )
    done = sa.select(revisions.c.notice_id)
    pending = conn.execute(
        sa.select(notices.c.id, notices.c.opened_on, notices.c.created_by)
        .where(notices.c.id.not_in(done))
        .order_by(notices.c.id)
    ).all()
    now = sa.func.current_timestamp()
    for notice in pending:
        rows = conn.execute(
            sa.select(applications.c.id, students.c.name, students.c.class_name, applications.c.level)
            .join(students, students.c.id == applications.c.student_pk)
            .where(
                applications.c.notice_id == notice.id,
                applications.c.state.in_(LISTED),
                applications.c.level != "none",
            )
            .order_by(applications.c.id)
        ).all()
        entries = [
            {"application_id": r.id, "name": r.name, "class_name": r.class_name, "level": r.level} for r in rows
        ]
        conn.execute(
            revisions.insert().values(
                notice_id=notice.id,
                number=1,
                revised_on=notice.opened_on,
                reason="initial",
                entries=entries,
                changes=[],
                created_by=notice.created_by,
                created_at=now,
            )
        )


def downgrade() -> None:
    op.drop_table("notice_settings")
    op.drop_index(op.f("ix_notice_revisions_notice_id"), table_name="notice_revisions")
    op.drop_table("notice_revisions")
