"""The roster: regions (division codes), schools, students and their guardians."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base
from .rule_set import utcnow


class Region(Base):
    """A division (province, prefecture city, county) by its 6-digit code; scopes are code prefixes."""

    __tablename__ = "regions"

    code: Mapped[str] = mapped_column(String(6), primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    level: Mapped[str] = mapped_column(String(16))  # province | city | county
    parent_code: Mapped[str | None] = mapped_column(ForeignKey("regions.code"), index=True)


class School(Base):
    """A school with the facts the rules read from it (tuition fee, inclusive kindergarten, ...)."""

    __tablename__ = "schools"

    code: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(128))
    region_code: Mapped[str] = mapped_column(ForeignKey("regions.code"), index=True)
    city_code: Mapped[str] = mapped_column(String(6), index=True)  # prefecture city, derived from region
    stages: Mapped[list[str]] = mapped_column(JSON)
    kind: Mapped[str] = mapped_column(String(16))  # public | private
    inclusive_kindergarten: Mapped[bool] = mapped_column(Boolean, default=False)
    tuition_fee_fen: Mapped[int | None] = mapped_column(BigInteger)
    central_university: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)


class SealedIdNumber:
    """An identity number at rest: AES-GCM ciphertext and its key id (aidservice.crypto), the keyed hash that
    lookups match on, and the mask (region and check character) that lists show. Never the plain number."""

    id_cipher: Mapped[bytes] = mapped_column(LargeBinary)  # nonce || ciphertext || tag
    id_key_id: Mapped[str] = mapped_column(String(16))
    id_hmac: Mapped[str] = mapped_column(String(64), index=True)
    id_mask: Mapped[str] = mapped_column(String(18))


class Student(SealedIdNumber, Base):
    """An enrolled student; the ID number is matched through its keyed hash, never shown in full by default."""

    __tablename__ = "students"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    student_id: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(64))
    school_code: Mapped[str] = mapped_column(ForeignKey("schools.code"), index=True)
    class_name: Mapped[str] = mapped_column(String(64), default="")
    stage: Mapped[str] = mapped_column(String(16))
    grade: Mapped[int] = mapped_column(Integer)
    boarding: Mapped[bool] = mapped_column(Boolean, default=False)
    rural_hukou: Mapped[bool] = mapped_column(Boolean, default=False)
    agri_major: Mapped[bool] = mapped_column(Boolean, default=False)
    arts_performance_major: Mapped[bool] = mapped_column(Boolean, default=False)
    retired_soldier: Mapped[bool] = mapped_column(Boolean, default=False)
    salaried: Mapped[bool] = mapped_column(Boolean, default=False)
    east_west_cooperation: Mapped[bool] = mapped_column(Boolean, default=False)  # seed item 35
    east_west_origin: Mapped[str | None] = mapped_column(String(32))  # a value of the rules' enum fact
    # Seed item 30 (控辍保学): the enrolment's state and the day it took effect; each change is a
    # student.update / student.import audit event with the state before and after (the history).
    enrolment_state: Mapped[str] = mapped_column(String(16), default="enrolled", index=True)
    enrolment_date: Mapped[date | None] = mapped_column(Date)
    # Keyed digests of the ID number's last 4 and last 6 characters (IdVault.tails): the list search by the
    # last digits matches them; neither the digits nor anything an attacker could try offline is stored.
    id_tail4: Mapped[str | None] = mapped_column(String(32), index=True)
    id_tail6: Mapped[str | None] = mapped_column(String(32), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)

    guardians: Mapped[list[Guardian]] = relationship(
        back_populates="student", cascade="all, delete-orphan", order_by="Guardian.id"
    )
    school: Mapped[School] = relationship()


class Guardian(SealedIdNumber, Base):
    """A parent or guardian; household agency statuses reach the student through them."""

    __tablename__ = "guardians"
    __table_args__ = (UniqueConstraint("student_pk", "id_hmac"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    student_pk: Mapped[int] = mapped_column(ForeignKey("students.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(64))
    relation: Mapped[str] = mapped_column(String(16))  # father | mother | guardian | ...

    student: Mapped[Student] = relationship(back_populates="guardians")


class PersonBirth(Base):
    """The birth date of a person an agency listed, taken from the ID number when the record arrives (the
    record keeps only the keyed hash and the mask): the dropout-control report's ages. Never shown or logged."""

    __tablename__ = "person_births"

    person_hmac: Mapped[str] = mapped_column(String(64), primary_key=True)
    birth_date: Mapped[date] = mapped_column(Date)
