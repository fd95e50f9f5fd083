"""The access matrix's world: two schools in two cities (tests.world.web), an agency client per source with a
batch each, an approved application with its decisions and notice, a submitted one, a quota, an archived
report; and a caller per role, including a revoked and an expired token.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import Flask
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from aidservice.models import AuthToken, Decision
from aidservice.services.accounts.auth import resolve_token
from aidservice.services.actors import Actor
from aidservice.services.applications import actions, declarations, quotas, submission
from aidservice.services.applications.declaration_views import declarations_of
from aidservice.services.applications.values import ActionRequest
from aidservice.services.regions import ensure_county
from aidservice.services.registry.feeds import apply_batch
from aidservice.services.reports.archive import Due, archive_one
from tests.world import web as w
from tests.world.factories import make_client, make_user
from tests.world.vocabulary import agency_statuses

QUOTA_PROGRAM = "compulsory_living_subsidy"
ARCHIVED_REGION = "320102"  # the county of school A
OTHER_COUNTY = "320104"  # another county of school A's city
USERS = {  # matrix role: the web world's user
    "officer_a": "officer1",
    "officer_b": "officer2",
    "county_a": "county1",
    "city_a": "city1",
    "city_b": "city2",
    "province": "province1",
    "auditor": "auditor1",
}
SOURCES = tuple(agency_statuses())
ROLES = ("anonymous", *USERS, *SOURCES, "revoked", "expired", "revoked_client", "expired_client")
"""Every caller the matrix asks: columns of the table, in order."""


@dataclass
class Caller:
    """How one role calls: a bearer token (API) and, for users, the web session's user."""

    role: str
    token: str | None = None
    web_user: dict[str, str | None] | None = None


@dataclass
class MatrixWorld:
    base: w.World
    callers: dict[str, Caller] = field(default_factory=dict)
    ids: dict[str, Any] = field(default_factory=dict)


def build(session: Session, app: Flask) -> MatrixWorld:
    """Everything the rows of the matrix point at, made through the services as in production."""
    settings = w.settings_for(app, w.SUBMITTED)
    world = MatrixWorld(w.build(session, settings))
    for role, username in USERS.items():
        kind, school, region = w.USERS[username]
        world.callers[role] = Caller(
            role,
            world.base.tokens[username],
            {"username": username, "role": kind, "school_code": school, "region_code": region},
        )
    world.callers["anonymous"] = Caller("anonymous")
    for index, source in enumerate(SOURCES):
        token = make_client(session, source, name=f"matrix {source}")
        world.callers[source] = Caller(source, token)
        apply_batch(
            session,
            actor=resolve_token(session, token),
            settings=settings,
            source=source,
            body={"batch_id": f"matrix-{index}", "records": [_record_for(world.base, source)]},
        )
    world.callers["revoked"] = Caller("revoked", _revoked_province_token(session), _user_of("province1"))
    world.callers["expired"] = Caller("expired", _expired_officer_token(session), _user_of("officer1"))
    world.callers["revoked_client"] = Caller(
        "revoked_client", make_client(session, "civil_affairs", name="matrix revoked", revoked=True)
    )
    world.callers["expired_client"] = Caller(
        "expired_client",
        make_client(
            session,
            "poverty_alleviation",
            name="matrix expired",
            expires_at=datetime.now(UTC) - timedelta(days=1),
        ),
    )
    world.callers["county_other"] = Caller("county_other", _other_county_token(session))
    world.ids["id_number"] = world.base.pupils["S1-001"].id_number
    _applications(session, app, world)
    _quota_and_archive(session, app, world)
    _job(session, world)
    return world


def _job(session: Session, world: MatrixWorld) -> None:
    """A queued re-determination of school A's county, made by its county administrator (never run here), and a
    finished what-if of the county with its workbook."""
    from aidservice.models import JobFile
    from aidservice.services.jobs import Scope, enqueue

    county = resolve_token(session, world.base.tokens["county1"])
    made = enqueue(
        session,
        actor=county,
        kind="redetermine",
        params={"region": ARCHIVED_REGION, "as_of": None},
        key="matrix-job",
        scope=Scope(region=ARCHIVED_REGION),
        max_attempts=1,
    )
    world.ids["job"] = made.job.id
    whatif = enqueue(
        session,
        actor=county,
        kind="whatif",
        params={"region": ARCHIVED_REGION, "as_of": "2020-09-01", "draft": None, "upload": None},
        key="matrix-whatif",
        scope=Scope(region=ARCHIVED_REGION),
        max_attempts=1,
    ).job
    whatif.state = "done"
    session.add(
        JobFile(
            job_id=whatif.id,
            filename="whatif.xlsx",
            media_type="application/octet-stream",
            size=2,
            content_hash="0" * 64,
            content=b"PK",
        )
    )
    world.ids["whatif_job"] = whatif.id


def _user_of(username: str) -> dict[str, str | None]:
    kind, school, region = w.USERS[username]
    return {"username": username, "role": kind, "school_code": school, "region_code": region}


def _record_for(base: w.World, source: str) -> dict[str, object]:
    """One record each source may send, about a student of school A."""
    pupil = base.pupils["S1-004"]
    status, attributes = {
        "poverty_alleviation": ("poverty_monitored", {}),
        "civil_affairs": ("subsistence_allowance", {}),
        "disabled_persons_federation": ("disabled", {"disability_grade": 2}),
        "veterans_affairs": ("martyr_child", {}),
    }[source]
    number = (
        pupil.id_number if source in ("disabled_persons_federation", "veterans_affairs") else pupil.guardian
    )
    return {
        "id_number": number,
        "name": "某人",
        "status": status,
        "valid_from": "2020-01-01",
        "valid_to": None,
        "attributes": attributes,
    }


def _other_county_token(session: Session) -> str:
    """The administrator of another county of school A's city (秦淮区, Nanjing): not a column, used for probes."""
    ensure_county(session, OTHER_COUNTY, "秦淮区", actor=w.SYSTEM)
    _user, token = make_user(session, "county_admin", username="county-qinhuai", region_code=OTHER_COUNTY)
    return token


def _revoked_province_token(session: Session) -> str:
    """A province administrator's second session, revoked (as after logout)."""
    user, token = make_user(session, "province_admin", username="province-revoked", region_code="320000")
    session.execute(
        update(AuthToken).where(AuthToken.user_id == user.id).values(revoked_at=datetime.now(UTC))
    )
    return token


def _expired_officer_token(session: Session) -> str:
    """An officer of school A whose session ended an hour ago."""
    _user, token = make_user(
        session, "school_officer", username="officer-expired", school_code=w.S1, lifetime=timedelta(hours=-1)
    )
    return token


def _applications(session: Session, app: Flask, world: MatrixWorld) -> None:
    """S1-001 approved after its notice (decisions made); S1-002 submitted (the target of actions), with an
    out-of-province declaration the officer did not verify (so review is open and verifying it again is 409)."""
    officer = resolve_token(session, world.base.tokens["officer1"])
    settings = w.settings_for(app, w.SUBMITTED)
    declared = {"household_size": 4, "per_capita_income": "5000.00"}
    approved = submission.create_application(
        session,
        actor=officer,
        settings=settings,
        payload={
            "student_id": "S1-001",
            "school_year": w.YEAR,
            "commitment_signed": True,
            "declared": declared,
        },
    )
    for action in ("review", "publish_notice"):
        actions.act(
            session,
            actor=officer,
            settings=settings,
            application_id=approved.id,
            request=ActionRequest(action=action, version=approved.version),
        )
    actions.act(
        session,
        actor=officer,
        settings=w.settings_for(app, w.AFTER_NOTICE),
        application_id=approved.id,
        request=ActionRequest(action="approve", version=approved.version, note="无异议"),
    )
    submitted = submission.create_application(
        session,
        actor=officer,
        settings=settings,
        payload={
            "student_id": "S1-002",
            "school_year": w.YEAR,
            "commitment_signed": True,
            "declared": declared,
            "out_of_province": [
                {
                    "status": "registered_poor",
                    "province": "安徽",
                    "document": {
                        "kind": "建档立卡证明",
                        "issuer": "阜阳市乡村振兴局",
                        "number": "M-1",
                        "date": "2020-06-01",
                    },
                }
            ],
        },
    )
    (declaration,) = declarations_of(session, submitted.id)
    submitted = declarations.verify(
        session,
        actor=officer,
        settings=settings,
        application_id=submitted.id,
        declaration_id=declaration.id,
        request=declarations.VerifyRequest("rejected", submitted.version, "证明与户籍不符"),
    )
    decision = (
        session.execute(select(Decision.id).where(Decision.application_id == approved.id)).scalars().first()
    )
    assert decision is not None, "the approved application has decisions"
    world.ids.update(
        approved=approved.id,
        notice=approved.notice_id,
        submitted=submitted.id,
        submitted_version=submitted.version,
        declaration=declaration.id,
        decision=decision,
    )


def _quota_and_archive(session: Session, app: Flask, world: MatrixWorld) -> None:
    county = resolve_token(session, world.base.tokens["county1"])
    settings = w.settings_for(app, w.AFTER_NOTICE)
    quotas.put_quota(
        session,
        actor=county,
        settings=settings,
        school_code=w.S1,
        program=QUOTA_PROGRAM,
        school_year=w.YEAR,
        places=3,
    )
    due = Due("programs", "2020-2021-autumn", ARCHIVED_REGION, "json", datetime.now(UTC), "monthly")
    row = archive_one(session, actor=Actor.system("tests:matrix"), settings=settings, due=due)
    assert row is not None
    world.ids["archive"] = row.id
