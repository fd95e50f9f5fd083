"""Who is acting, and what they may reach: every query and change is scoped through an Actor."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sqlalchemy import ColumnElement

ROLES = ("school_officer", "county_admin", "city_admin", "province_admin", "auditor")
ADMIN_ROLES = ("county_admin", "city_admin", "province_admin")


def region_prefix(code: str) -> str:
    """Division-code prefix a region covers: 320000 -> '32', 320100 -> '3201', 320102 -> '320102'."""
    if code.endswith("0000"):
        return code[:2]
    if code.endswith("00"):
        return code[:4]
    return code


def in_region(column: ColumnElement[str], code: str) -> ColumnElement[bool]:
    """`column` (a division code) lies in the region `code` covers, as a range of codes.

    A range uses the column's btree index under any collation; LIKE 'prefix%' uses one only under the C
    collation, so a county's query would otherwise read every school (or application) of the province.
    """
    from sqlalchemy import and_, true  # here: batch commands import this module and must not load SQLAlchemy

    prefix = region_prefix(code)
    if not prefix:
        return true()
    if not prefix.isdigit():
        return column.like(prefix + "%")
    upper = str(int(prefix) + 1).zfill(len(prefix))  # 3209 -> 3210: the first code past the prefix
    if len(upper) > len(prefix):  # 99 -> 100 sorts before 99: every digit code from 99 on starts with it
        return column >= prefix
    return and_(column >= prefix, column < upper)


@dataclass(frozen=True, slots=True)
class Actor:
    """A signed-in user, an agency client, or the system (CLI, jobs)."""

    kind: str  # "user" | "client" | "system"
    name: str
    id: int | None = None
    role: str | None = None  # users: school_officer | *_admin | auditor
    school_code: str | None = None
    region_code: str | None = None
    source: str | None = None  # clients: the agency source

    @property
    def label(self) -> str:
        """How the audit trail names this actor."""
        return f"{self.kind}:{self.name}"

    @classmethod
    def system(cls, name: str = "system") -> Actor:
        return cls("system", name)

    @property
    def is_auditor(self) -> bool:
        return self.role == "auditor"

    @property
    def is_admin(self) -> bool:
        return self.role in ADMIN_ROLES

    def reaches_region(self, region_code: str) -> bool:
        """Whether a school or report region with this code lies in the actor's scope (read)."""
        if self.kind == "system" or self.role in ("auditor",):
            return True
        if self.role in ADMIN_ROLES and self.region_code:
            return region_code.startswith(region_prefix(self.region_code))
        return False

    def reaches_school(self, school_code: str, school_region: str) -> bool:
        """Read access to a school's data."""
        if self.role == "school_officer":
            return self.school_code == school_code
        return self.reaches_region(school_region)

    def may_change_school(self, school_code: str, school_region: str) -> bool:
        """Write access to a school's roster and applications (auditors and clients never write here)."""
        if self.kind == "system":
            return True
        if self.role == "school_officer":
            return self.school_code == school_code
        return self.role in ADMIN_ROLES and self.reaches_region(school_region)
