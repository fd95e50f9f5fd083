"""Applications and their procedure (教财〔2018〕16号): review, public notice, objection, approval, decisions."""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
    event,
    inspect,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base
from .rule_set import utcnow

if TYPE_CHECKING:
    from .registry import School, Student

STATES = ("submitted", "reviewed", "notice", "objected", "approved", "rejected")
OPEN_STATES = ("submitted", "reviewed", "notice", "objected")
ACTIVE_STATES = (*OPEN_STATES, "approved")
"""A student has at most one application in these states per school year (an approved one is reassessed,
not applied for again); after a rejection the student may apply again."""
_ACTIVE_SQL = "state IN ('submitted', 'reviewed', 'notice', 'objected', 'approved')"

DECISION_STATUSES = ("awarded", "not_funded", "withdrawn")
"""awarded: paid as its instalments say; not_funded: eligible but beyond a quota; withdrawn: a later
reassessment no longer awards the program (the row that supersedes the last award)."""


class Application(Base):
    """One student's application for one school year, with the signed commitment and declared facts.

    `version` is the optimistic lock (SQLAlchemy `version_id_col`): every action names the version it
    saw; a stale one is refused, and an UPDATE racing another one matches no row and is refused too.
    """

    __tablename__ = "applications"
    __table_args__ = (
        Index(
            "uq_applications_active_per_student_year",
            "student_pk",
            "school_year",
            unique=True,
            sqlite_where=text(_ACTIVE_SQL),
            postgresql_where=text(_ACTIVE_SQL),
        ),
        Index("ix_applications_school_state", "school_code", "school_year", "state"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    student_pk: Mapped[int] = mapped_column(ForeignKey("students.id"), index=True)
    school_code: Mapped[str] = mapped_column(ForeignKey("schools.code"))
    school_year: Mapped[str] = mapped_column(String(9))
    state: Mapped[str] = mapped_column(String(16), default="submitted")
    version: Mapped[int] = mapped_column(Integer)
    declared: Mapped[dict[str, Any]] = mapped_column(JSON)  # as submitted, normalised (claims included)
    commitment_signed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    as_of: Mapped[date] = mapped_column(Date)
    rule_set_version: Mapped[str] = mapped_column(ForeignKey("rule_sets.version"))
    facts: Mapped[dict[str, Any]] = mapped_column(JSON)  # {fact: {value, source, record_ids}}
    conflicts: Mapped[list[dict[str, Any]]] = mapped_column(JSON)  # declared statuses the agencies contradict
    result: Mapped[dict[str, Any]] = mapped_column(JSON)  # level, reasons, awards, total, missing
    evaluated_level: Mapped[str] = mapped_column(String(16))  # what the rules identified
    level: Mapped[str] = mapped_column(String(16))  # the level in force: evaluated, or the adjustment
    level_adjustment: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # {from, to, reason, by, at, via}
    notice_id: Mapped[int | None] = mapped_column(ForeignKey("notices.id"), index=True)
    notice_published_on: Mapped[date | None] = mapped_column(Date)
    notice_closes_on: Mapped[date | None] = mapped_column(Date)  # last day of this entry's notice period
    submitted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    created_by: Mapped[str] = mapped_column(String(128))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)

    # read-only links: once loaded, the application holds its student and school, so a request that loaded
    # them once does not read them again (the session's identity map keeps no object alive by itself)
    student: Mapped[Student] = relationship(viewonly=True)
    school: Mapped[School] = relationship(viewonly=True)

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012 - SQLAlchemy reads it as a class attribute


class ApplicationAction(Base):
    """One step of an application's procedure, as the officer took it (history for the officer's screen)."""

    __tablename__ = "application_actions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    application_id: Mapped[int] = mapped_column(ForeignKey("applications.id", ondelete="CASCADE"), index=True)
    action: Mapped[str] = mapped_column(String(32))
    from_state: Mapped[str] = mapped_column(String(16))
    to_state: Mapped[str] = mapped_column(String(16))
    version: Mapped[int] = mapped_column(Integer)  # the application's version after the action
    note: Mapped[str] = mapped_column(String(2000), default="")
    details: Mapped[dict[str, Any]] = mapped_column(JSON)
    actor: Mapped[str] = mapped_column(String(128))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Notice(Base):
    """A school's public notice (公示) for a school year: name, class and level only.

    It runs from `opened_on` to `closes_on` (last day, inclusive); each application on it keeps its own
    full period, and a later entry extends `closes_on`.
    """

    __tablename__ = "notices"
    __table_args__ = (Index("ix_notices_school_year", "school_code", "school_year"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    school_code: Mapped[str] = mapped_column(ForeignKey("schools.code"))
    school_year: Mapped[str] = mapped_column(String(9))
    opened_on: Mapped[date] = mapped_column(Date)
    closes_on: Mapped[date] = mapped_column(Date)
    working_days: Mapped[int] = mapped_column(Integer)
    created_by: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Quota(Base):
    """How many students a school may fund from a capped program in a school year (名额)."""

    __tablename__ = "quotas"
    __table_args__ = (
        UniqueConstraint("school_code", "program", "school_year"),
        CheckConstraint("places >= 0", name="places_not_negative"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    school_code: Mapped[str] = mapped_column(ForeignKey("schools.code"))
    program: Mapped[str] = mapped_column(String(64))
    school_year: Mapped[str] = mapped_column(String(9))
    places: Mapped[int] = mapped_column(Integer)
    set_by: Mapped[str] = mapped_column(String(128))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)


class Decision(Base):
    """An approved award for one program: immutable; a later change supersedes it with a new row.

    The only changes ever made to a stored decision: `current` set false with `superseded_reason` when
    a newer decision supersedes it, and `needs_review` when a semester re-identification flags it
    (enforced below, before any UPDATE reaches the database).
    """

    __tablename__ = "decisions"
    __table_args__ = (
        Index(
            "uq_decisions_current_per_program",
            "application_id",
            "program",
            unique=True,
            sqlite_where=text('"current"'),
            postgresql_where=text('"current"'),
        ),
        Index("ix_decisions_student_year", "student_pk", "school_year"),
        Index("ix_decisions_school_program", "school_code", "school_year", "program"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    application_id: Mapped[int] = mapped_column(ForeignKey("applications.id"), index=True)
    student_pk: Mapped[int] = mapped_column(ForeignKey("students.id"))
    school_code: Mapped[str] = mapped_column(ForeignKey("schools.code"))
    school_year: Mapped[str] = mapped_column(String(9))
    program: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(128))
    kind: Mapped[str] = mapped_column(String(16))
    level: Mapped[str] = mapped_column(String(16))
    level_override: Mapped[str | None] = mapped_column(
        String(16)
    )  # the review's adjustment, replayed with it
    amount_fen: Mapped[int | None] = mapped_column(BigInteger)
    instalments: Mapped[list[dict[str, Any]]] = mapped_column(JSON)  # [{period, due, amount}]
    status: Mapped[str] = mapped_column(String(16))  # awarded | not_funded | withdrawn
    rule_status: Mapped[str] = mapped_column(String(16))  # confirmed | provisional (the award's rules)
    allocation: Mapped[dict[str, Any] | None] = mapped_column(
        JSON
    )  # {rank, of, places, special, explanation}
    as_of: Mapped[date] = mapped_column(Date)
    rule_set_version: Mapped[str] = mapped_column(ForeignKey("rule_sets.version"))
    facts: Mapped[dict[str, Any]] = mapped_column(JSON)
    explanation: Mapped[dict[str, Any]] = mapped_column(JSON)  # reasons, missing, level, trace summary, cause
    basis: Mapped[str] = mapped_column(String(1000))
    decided_by: Mapped[str] = mapped_column(String(128))
    decided_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    current: Mapped[bool] = mapped_column(Boolean, default=True)
    supersedes: Mapped[int | None] = mapped_column(ForeignKey("decisions.id"))
    superseded_reason: Mapped[str | None] = mapped_column(String(500))
    needs_review: Mapped[bool] = mapped_column(
        Boolean, default=False
    )  # flagged by semester re-identification
    content_hash: Mapped[str] = mapped_column(String(64))


DECISION_MUTABLE = frozenset({"current", "superseded_reason", "needs_review"})


class ImmutableDecision(RuntimeError):
    """Code tried to change a stored decision beyond supersession and the review flag."""


@event.listens_for(Decision, "before_update")
def _decisions_are_immutable(_mapper: Any, _connection: Any, target: Decision) -> None:
    state = inspect(target)
    changed = sorted(
        attr.key for attr in state.attrs if attr.key not in DECISION_MUTABLE and attr.history.has_changes()
    )
    if changed:
        raise ImmutableDecision(f"decision {target.id} is immutable; tried to change {', '.join(changed)}")
