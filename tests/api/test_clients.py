"""Agency clients: `aid client create/revoke/list`, tokens shown once and stored hashed; `aid regions add`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from click.testing import Result
from flask import Flask
from flask.testing import FlaskClient

from aidservice.extensions import db
from aidservice.models import ApiClient, AuditEvent, Region
from aidservice.services.accounts.auth import resolve_token, token_digest
from aidservice.services.errors import ValidationFailed
from aidservice.services.regions import ensure_county
from tests.world.factories import bearer, make_client

pytestmark = pytest.mark.databases


def aid(app: Flask, *args: str) -> Result:
    return app.test_cli_runner().invoke(args=["aid", *args])


def events(action: str) -> list[AuditEvent]:
    return list(db.session.execute(sa.select(AuditEvent).where(AuditEvent.action == action)).scalars())


def create(app: Flask, *extra: str) -> tuple[Result, str]:
    result = aid(app, "client", "create", "民政厅数据交换", "--source", "civil_affairs", *extra)
    assert result.exit_code == 0, result.output
    return result, result.output.strip().splitlines()[-1]


def test_client_create_prints_the_token_once_on_the_last_line_and_stores_its_hash(
    app: Flask, db_url: str
) -> None:
    result, token = create(app)
    assert token.startswith("aidc_") and result.output.count(token) == 1
    client = db.session.execute(sa.select(ApiClient)).scalar_one()
    assert client.token_hash == token_digest(token) and client.token_hash != token
    assert client.source == "civil_affairs" and client.expires_at is None
    actor = resolve_token(db.session, token)
    assert actor.kind == "client" and actor.source == "civil_affairs"


def test_client_create_is_audited_without_the_token(app: Flask, db_url: str) -> None:
    _result, token = create(app)
    [event] = events("client.create")
    assert event.summary["source"] == "civil_affairs" and event.summary["token_prefix"] == token[:12]
    assert token not in str(event.summary)


def test_client_create_with_expiry_sets_it(app: Flask, db_url: str) -> None:
    create(app, "--expires-days", "30")
    client = db.session.execute(sa.select(ApiClient)).scalar_one()
    expires = client.expires_at if client.expires_at.tzinfo else client.expires_at.replace(tzinfo=UTC)  # type: ignore[union-attr]
    assert timedelta(days=29) < expires - datetime.now(UTC) <= timedelta(days=30)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["X", "--source", "tax_bureau"], "tax_bureau"),
        (["X"], "--source"),
        (["X", "--source", "civil_affairs", "--expires-days", "0"], "--expires-days"),
    ],
)
def test_client_create_refuses_bad_options(app: Flask, db_url: str, args: list[str], message: str) -> None:
    result = aid(app, "client", "create", *args)
    assert result.exit_code == 2 and message in result.output
    assert db.session.execute(sa.select(ApiClient)).first() is None


def test_client_revoke_stops_the_token_at_once(app: Flask, client: FlaskClient, db_url: str) -> None:
    _result, token = create(app)
    client_id = db.session.execute(sa.select(ApiClient.id)).scalar_one()
    revoked = aid(app, "client", "revoke", str(client_id))
    assert revoked.exit_code == 0 and "revoked" in revoked.output
    response = client.get("/api/v1/feeds/civil_affairs/outcomes", headers=bearer(token))
    assert response.status_code == 401
    again = aid(app, "client", "revoke", str(client_id))
    assert again.exit_code == 0 and "already revoked" in again.output
    assert len(events("client.revoke")) == 1


def test_client_revoke_of_an_unknown_client_fails(app: Flask, db_url: str) -> None:
    result = aid(app, "client", "revoke", "999")
    assert result.exit_code == 1 and "no client 999" in result.output


def test_client_list_shows_prefixes_and_dates_never_tokens(app: Flask, db_url: str) -> None:
    _r, first = create(app)
    _r, second = create(app, "--expires-days", "7")
    aid(app, "client", "revoke", str(db.session.execute(sa.select(sa.func.min(ApiClient.id))).scalar_one()))
    listing = aid(app, "client", "list")
    assert listing.exit_code == 0
    lines = listing.output.strip().splitlines()
    assert lines[0].split() == ["id", "name", "source", "token", "created", "expires", "revoked"]
    assert len(lines) == 3
    assert first not in listing.output and second not in listing.output
    assert first[:12] in lines[1] and second[:12] in lines[2]
    assert "never" in lines[1] and lines[2].rstrip().endswith("-")


def test_an_expired_client_token_is_refused(client: FlaskClient, db_url: str) -> None:
    token = make_client(db.session, "civil_affairs", expires_at=datetime.now(UTC) - timedelta(minutes=1))
    response = client.get("/api/v1/feeds/civil_affairs/outcomes", headers=bearer(token))
    assert response.status_code == 401 and "expired" in response.json["detail"]


@pytest.mark.parametrize("route", ["GET", "PUT", "import", "school"])
def test_agency_clients_may_not_use_the_roster(client: FlaskClient, db_url: str, route: str) -> None:
    headers = bearer(make_client(db.session, "poverty_alleviation"))
    if route == "GET":
        response = client.get("/api/v1/students/A1", headers=headers)
    elif route == "PUT":
        response = client.put("/api/v1/students/A1", json={}, headers=headers)
    elif route == "school":
        response = client.put("/api/v1/schools/S1", json={}, headers=headers)
    else:
        response = client.post("/api/v1/students/import", headers=headers)
    assert response.status_code == 403


# ------------------------------------------------------------------ regions


def test_the_migration_loads_the_province_and_its_13_cities(app: Flask, db_url: str) -> None:
    regions = db.session.execute(sa.select(Region).order_by(Region.code)).scalars().all()
    assert [(r.code, r.level) for r in regions][:2] == [("320000", "province"), ("320100", "city")]
    cities = [r for r in regions if r.level == "city"]
    assert len(cities) == 13 and all(r.parent_code == "320000" for r in cities)
    assert {r.code: r.name for r in cities}["320700"] == "连云港市"


def test_regions_add_creates_a_county_under_its_city(app: Flask, db_url: str) -> None:
    result = aid(app, "regions", "add", "320102", "玄武区")
    assert result.exit_code == 0 and "added" in result.output, result.output
    county = db.session.get(Region, "320102")
    assert county is not None and (county.name, county.level, county.parent_code) == (
        "玄武区",
        "county",
        "320100",
    )
    assert [e.subject for e in events("region.create")] == ["region:320102"]


def test_regions_add_names_a_county_that_was_added_without_a_name(app: Flask, db_url: str) -> None:
    ensure_county(db.session, "320105")
    assert db.session.get(Region, "320105").name == "320105"  # type: ignore[union-attr]
    result = aid(app, "regions", "add", "320105", "建邺区")
    assert result.exit_code == 0 and "renamed" in result.output
    assert db.session.get(Region, "320105").name == "建邺区"  # type: ignore[union-attr]
    again = aid(app, "regions", "add", "320105", "建邺区")
    assert "already known" in again.output and len(events("region.rename")) == 1


@pytest.mark.parametrize(
    ("code", "message"),
    [
        ("329901", "is not a known prefecture city"),
        ("320100", "must be a county-level code"),
        ("110101", "must be a Jiangsu division code"),
        ("32010", "must be a 6-digit division code"),
    ],
)
def test_regions_add_refuses_what_is_not_a_jiangsu_county(
    app: Flask, db_url: str, code: str, message: str
) -> None:
    result = aid(app, "regions", "add", code, "某县")
    assert result.exit_code == 1 and message in result.output, result.output


def test_ensure_county_names_the_field_it_was_given(app: Flask, db_url: str) -> None:
    with pytest.raises(ValidationFailed) as caught:
        ensure_county(db.session, "329901", field="school.region_code")
    assert set(caught.value.errors) == {"school.region_code"}
