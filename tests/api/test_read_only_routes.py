"""Read-only routes: no transaction round trips on PostgreSQL, and a write in one is refused whole."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from aidservice.api.reads import read_only
from aidservice.extensions import db
from aidservice.models import Region
from tests.world.factories import bearer, make_school, make_student, make_user
from tests.world.feeds import committed_app, scratch_database

pytestmark = pytest.mark.databases
READS = ["/api/v1/applications", "/api/v1/students/S0001"]


def test_the_hot_reads_are_marked_read_only_and_the_writes_are_not(app: Flask) -> None:
    marked = {
        endpoint for endpoint, view in app.view_functions.items() if getattr(view, "_aid_read_only", False)
    }
    assert {"applications.get", "applications.list_", "roster.get_student"} <= marked
    assert not marked & {
        "applications.create",
        "applications.act",
        "roster.reveal_id_number",
        "feeds.post_batch",
    }


@pytest.mark.parametrize("write", ["orm", "core"])
def test_a_read_only_route_that_writes_is_refused_and_stores_nothing(
    app: Flask, client: FlaskClient, write: str
) -> None:
    def add_county(code: str) -> dict[str, str]:
        values = {"code": code, "name": "测试县", "level": "county", "parent_code": "320100"}
        if write == "orm":
            db.session.add(Region(**values))
        else:
            db.session.execute(sa.insert(Region).values(**values))
        db.session.commit()
        return {"written": code}

    def sneaky(code: str) -> dict[str, str]:
        return add_county(code)

    app.add_url_rule("/api/v1/test-write/<code>", "plain_write", add_county)
    app.add_url_rule("/api/v1/test-sneaky-write/<code>", "sneaky_write", read_only(sneaky))
    assert client.get("/api/v1/test-write/329998").status_code == 200  # the write itself is sound
    response = client.get("/api/v1/test-sneaky-write/329999")
    assert response.status_code == 500 and response.mimetype == "application/problem+json"
    db.session.rollback()
    assert db.session.get(Region, "329998") is not None and db.session.get(Region, "329999") is None
    assert client.get("/api/v1/test-write/329997").status_code == 200  # the next request may write again


@pytest.fixture
def committed(db_url: str, tmp_path: Path) -> Iterator[tuple[Flask, str]]:
    """An app on a scratch database that really commits, with a school officer's token."""
    for url in scratch_database(db_url, tmp_path):
        app = committed_app(url)
        with app.app_context():
            at = make_school(db.session, "3201020001", "320102", stages=("primary", "junior"))
            make_student(db.session, "S0001", at, seed=1)
            _user, token = make_user(db.session, "school_officer", school_code=at.code)
            db.session.commit()
        yield app, token
        with app.app_context():
            db.engine.dispose()


def autocommit_of_statements(
    app: Flask, client: FlaskClient, method: str, path: str, token: str, **kwargs: Any
) -> tuple[int, set[bool]]:
    """The answer's status and whether each statement of the request ran on an autocommit connection."""
    seen: set[bool] = set()

    def note(conn: sa.Connection, *_args: Any) -> None:
        if conn.dialect.name == "postgresql":  # psycopg's own flag: no BEGIN is sent
            seen.add(bool(conn.connection.dbapi_connection.autocommit))
        else:
            seen.add(conn.get_execution_options().get("isolation_level") == "AUTOCOMMIT")

    with app.app_context():
        engine = db.engine
    sa.event.listen(engine, "before_cursor_execute", note)
    try:
        response = client.open(path, method=method, headers=bearer(token), **kwargs)
    finally:
        sa.event.remove(engine, "before_cursor_execute", note)
    return response.status_code, seen


def test_on_postgresql_reads_run_without_a_transaction_and_writes_within_one(
    committed: tuple[Flask, str], db_url: str
) -> None:
    app, token = committed
    client = app.test_client()
    on_postgresql = sa.make_url(db_url).get_backend_name() == "postgresql"
    for path in READS:
        status, autocommit = autocommit_of_statements(app, client, "GET", path, token)
        assert status == 200 and autocommit == {on_postgresql}, (path, autocommit)
    status, autocommit = autocommit_of_statements(
        app,
        client,
        "POST",
        "/api/v1/applications",
        token,
        json={"student_id": "S0001", "school_year": "2020-2021", "commitment_signed": True, "declared": {}},
    )
    assert status == 201 and autocommit == {False}
    status, autocommit = autocommit_of_statements(app, client, "GET", "/api/v1/applications/1", token)
    assert status == 200 and autocommit == {on_postgresql}
