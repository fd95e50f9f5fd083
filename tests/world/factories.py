"""Test data built straight into the database (no audit events, no API): regions, schools, students, users, clients.

Passwords are hashed once per test session: argon2 is deliberately slow, and the access-control
matrix makes many users. Every user made here has the password `TEST_PASSWORD`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, timedelta
from functools import cache

from sqlalchemy.orm import Session

from aidservice.crypto import DEV_KEY, DEV_KEY_ID, IdVault, parse_keys
from aidservice.models import ApiClient, Guardian, Region, School, Student, User
from aidservice.services.accounts.auth import (
    CLIENT_TOKEN_PREFIX,
    hash_password,
    issue_user_token,
    new_token,
    token_digest,
)
from aidservice.services.regions import city_code_of, region_level
from config import DEV_HMAC_KEY

WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
CHECK = "10X98765432"
TEST_PASSWORD = "correct horse battery"
HMAC_KEY = DEV_HMAC_KEY  # what TestingConfig uses for AID_ID_HMAC_KEY
VAULT = IdVault(*parse_keys(f"{DEV_KEY_ID}:{DEV_KEY}"), hmac_key=HMAC_KEY)  # TestingConfig's keyring


def check_character(first17: str) -> str:
    """GB 11643 check character (ISO 7064 MOD 11-2) of the first 17 digits."""
    return CHECK[sum(int(d) * w for d, w in zip(first17, WEIGHTS, strict=True)) % 11]


def id_number(seed: int, county: str = "320102", born: date = date(2008, 3, 1)) -> str:
    """A valid, deterministic resident ID number: `seed` picks the sequence and shifts the birth date."""
    birth = born + timedelta(days=seed // 1000)
    first17 = f"{county}{birth:%Y%m%d}{seed % 1000:03d}"
    return first17 + check_character(first17)


def ensure_region(session: Session, code: str, name: str | None = None) -> Region:
    """The region `code`, adding a county under its (migrated) city when missing."""
    region = session.get(Region, code)
    if region is None:
        level = region_level(code)
        assert level == "county", f"cities and the province come from the migration, not {code}"
        region = Region(code=code, name=name or f"县{code}", level=level, parent_code=city_code_of(code))
        session.add(region)
        session.flush()
    return region


def make_school(
    session: Session,
    code: str,
    region: str,
    *,
    stages: Sequence[str] = ("primary", "junior"),
    name: str | None = None,
    kind: str = "public",
    tuition_fee_fen: int | None = None,
    inclusive_kindergarten: bool = False,
    central_university: bool = False,
) -> School:
    """A school in `region` (a county is added when missing)."""
    ensure_region(session, region)
    school = School(
        code=code,
        name=name or f"学校{code}",
        region_code=region,
        city_code=city_code_of(region),
        stages=list(stages),
        kind=kind,
        inclusive_kindergarten=inclusive_kindergarten,
        tuition_fee_fen=tuition_fee_fen,
        central_university=central_university,
    )
    session.add(school)
    session.flush()
    return school


def make_student(
    session: Session,
    student_id: str,
    school: School,
    *,
    seed: int = 1,
    stage: str | None = None,
    grade: int = 1,
    name: str = "张三",
    guardians: Iterable[tuple[int, str, str]] = ((5001, "张父", "father"),),
    **flags: bool,
) -> Student:
    """A student of `school` with ID number `id_number(seed)` and guardians given as (seed, name, relation)."""
    number = id_number(seed)
    student = Student(
        student_id=student_id,
        **VAULT.seal("student", number),
        name=name,
        school_code=school.code,
        class_name="一班",
        stage=stage or school.stages[0],
        grade=grade,
        **flags,
    )
    for g_seed, g_name, relation in guardians:
        g_number = id_number(g_seed, born=date(1980, 1, 1))
        student.guardians.append(Guardian(**VAULT.seal("guardian", g_number), name=g_name, relation=relation))
    session.add(student)
    session.flush()
    return student


@cache
def _password_hash() -> str:
    return hash_password(TEST_PASSWORD)


def make_user(
    session: Session,
    role: str,
    *,
    username: str | None = None,
    school_code: str | None = None,
    region_code: str | None = None,
    active: bool = True,
    lifetime: timedelta = timedelta(hours=1),
) -> tuple[User, str]:
    """A user of `role` with its scope and a session token valid for `lifetime` (negative: already expired)."""
    user = User(
        username=username or f"{role}-{school_code or region_code or 'all'}",
        password_hash=_password_hash(),
        role=role,
        school_code=school_code,
        region_code=region_code,
        active=active,
    )
    session.add(user)
    session.flush()
    token, _expires = issue_user_token(session, user, lifetime=lifetime)
    return user, token


def make_client(
    session: Session,
    source: str = "poverty_alleviation",
    *,
    name: str | None = None,
    expires_at: datetime | None = None,
    revoked: bool = False,
) -> str:
    """An agency client for `source`; returns its bearer token."""
    token = new_token(CLIENT_TOKEN_PREFIX)
    session.add(
        ApiClient(
            name=name or f"{source} client",
            source=source,
            token_hash=token_digest(token),
            token_prefix=token[:12],
            expires_at=expires_at,
            revoked_at=datetime.now(UTC) if revoked else None,
        )
    )
    session.flush()
    return token


def bearer(token: str) -> dict[str, str]:
    """The Authorization header for `token`."""
    return {"Authorization": f"Bearer {token}"}
