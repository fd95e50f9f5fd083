"""Helpers shared by the feed, determination, outcome and re-determination tests."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator, Sequence
from datetime import date
from typing import Any

import psycopg
import sqlalchemy as sa
from flask import Flask
from flask_migrate import upgrade
from sqlalchemy.engine import make_url

from aidservice import create_app
from aidservice.extensions import db
from aidservice.models import AgencyRecord, AuditEvent, Determination, FeedBatch, School, Student
from aidservice.services.accounts.auth import resolve_token
from aidservice.services.actors import Actor
from aidservice.services.context import Settings
from aidservice.services.registry.feeds import BatchOutcome, apply_batch
from config import REPO_ROOT, TestingConfig
from tests.world.factories import HMAC_KEY, VAULT, id_number, make_client, make_school, make_student

TODAY = date(2020, 10, 1)  # autumn semester of 2020-2021: determinations are as of 2020-09-01
AS_OF = date(2020, 9, 1)


def settings_for(app: Flask, today: date = TODAY) -> Settings:
    """The services' settings for the test app, with today pinned."""
    return Settings(
        rules=app.extensions["aid_rules"],
        school_year="2020-2021",
        id_hmac_key=HMAC_KEY,
        ids=VAULT,
        today=today,
    )


def client_actor(source: str) -> tuple[Actor, str]:
    """A stored agency client for `source`: (its actor, its token)."""
    token = make_client(db.session, source)
    return resolve_token(db.session, token), token


def person(seed: int) -> str:
    """An adult's valid ID number (guardians, and people no school knows)."""
    return id_number(seed, born=date(1980, 1, 1))


def record(
    number: str, status: str, valid_from: str = "2020-01-01", valid_to: str | None = None, **attributes: Any
) -> dict[str, Any]:
    return {
        "id_number": number,
        "name": "某人",
        "status": status,
        "valid_from": valid_from,
        "valid_to": valid_to,
        "attributes": attributes,
    }


def school(code: str = "3201020001", stages: Sequence[str] = ("primary", "junior"), **kwargs: Any) -> School:
    return make_school(db.session, code, "320102", stages=stages, **kwargs)


def student(student_id: str, at: School, seed: int, guardians: Sequence[int] = (), **kwargs: Any) -> Student:
    """A student with ID number `id_number(seed)` and guardians `person(g)` for each seed g."""
    return make_student(
        db.session,
        student_id,
        at,
        seed=seed,
        guardians=[(g, f"家长{g}", "father" if i == 0 else "mother") for i, g in enumerate(guardians)],
        **kwargs,
    )


def apply(
    app: Flask, actor: Actor, source: str, batch_id: str, records: list[dict[str, Any]]
) -> BatchOutcome:
    return apply_batch(
        db.session,
        actor=actor,
        settings=settings_for(app),
        source=source,
        body={"batch_id": batch_id, "records": records},
    )


def count(model: Any, *where: Any) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(model).where(*where)) or 0


def row_counts() -> dict[str, int]:
    """Rows in every table a feed batch writes."""
    return {m.__tablename__: count(m) for m in (FeedBatch, AgencyRecord, Determination, AuditEvent)}


def current(student_pk: int) -> Determination:
    return db.session.execute(
        sa.select(Determination).where(
            Determination.student_pk == student_pk, Determination.current.is_(True)
        )
    ).scalar_one()


def history(student_pk: int) -> list[Determination]:
    return list(
        db.session.execute(
            sa.select(Determination).where(Determination.student_pk == student_pk).order_by(Determination.seq)
        ).scalars()
    )


# ------------------------------------------------------------------ committed data (other processes, threads)


def scratch_database(db_url: str, tmp_path: Any, *, migrated: bool = True) -> Iterator[str]:
    """A freshly migrated database beside the session's (same backend), for tests that must really commit;
    `migrated=False`: an empty one, for tests that run the migrations themselves."""
    url = make_url(db_url)
    if url.get_backend_name() == "sqlite":
        scratch = f"sqlite:///{tmp_path / 'scratch.sqlite3'}"
        if migrated:
            _migrate(scratch)
        yield scratch
        return
    name = f"aidservice_scratch_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    server = url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    scratch = url.set(database=name).render_as_string(hide_password=False)
    try:
        if migrated:
            _migrate(scratch)
        yield scratch
    finally:
        with psycopg.connect(server, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _migrate(url: str) -> None:
    application = create_app(
        TestingConfig.from_env({"DATABASE_URL": url, "AID_RULES_DIR": str(REPO_ROOT / "rules")})
    )
    with application.app_context():
        upgrade()
        db.engine.dispose()


def committed_app(url: str) -> Flask:
    """An app on `url` whose session really commits."""
    return create_app(
        TestingConfig.from_env({"DATABASE_URL": url, "AID_RULES_DIR": str(REPO_ROOT / "rules")})
    )
