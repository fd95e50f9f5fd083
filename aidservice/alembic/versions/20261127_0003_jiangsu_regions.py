"""regions: Jiangsu province and its 13 prefecture cities (policy §6)

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27 16:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

PROVINCE = ("320000", "江苏省")
CITIES = (
    ("320100", "南京市"),
    ("320200", "无锡市"),
    ("320300", "徐州市"),
    ("320400", "常州市"),
    ("320500", "苏州市"),
    ("320600", "南通市"),
    ("320700", "连云港市"),
    ("320800", "淮安市"),
    ("320900", "盐城市"),
    ("321000", "扬州市"),
    ("321100", "镇江市"),
    ("321200", "泰州市"),
    ("321300", "宿迁市"),
)

# a frozen copy of the table as this revision knows it; the models may change later
regions = sa.table(
    "regions",
    sa.column("code", sa.String),
    sa.column("name", sa.String),
    sa.column("level", sa.String),
    sa.column("parent_code", sa.String),
)


def upgrade() -> None:
    op.bulk_insert(regions, [{"code": PROVINCE[0], "name": PROVINCE[1], "level": "province", "parent_code": None}])
    op.bulk_insert(
        regions,
        [{"code": code, "name": name, "level": "city", "parent_code": PROVINCE[0]} for code, name in CITIES],
    )


def downgrade() -> None:
    op.execute(regions.delete().where(regions.c.code.in_([code for code, _ in CITIES])))
    op.execute(regions.delete().where(regions.c.code == PROVINCE[0]))
