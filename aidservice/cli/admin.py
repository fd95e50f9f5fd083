"""`flask --app wsgi aid user|client|regions ...`: accounts, agency clients and counties; thin over the services."""

from __future__ import annotations

import getpass
import sys
from collections.abc import Callable
from datetime import datetime
from typing import TypeVar

import click
from flask.cli import AppGroup, ScriptInfo

from aidservice.rulesets import current_rules
from aidservice.services.actors import ROLES, Actor
from aidservice.services.errors import DomainError

user_group = AppGroup("user", help="Accounts of officers, administrators and auditors.")
client_group = AppGroup("client", help="Agency API clients and their tokens.")
regions_group = AppGroup("regions", help="Regions: add counties under the 13 prefecture cities.")

T = TypeVar("T")


def cli_actor() -> Actor:
    """The audit trail names the operating-system account that ran the command."""
    try:
        who = getpass.getuser()
    except Exception:  # no login name in some containers
        who = "unknown"
    return Actor.system(f"cli:{who}")


def run(change: Callable[[], T]) -> T:
    """Run a service call and commit once; a domain error rolls back and exits 1 with its messages."""
    from aidservice.extensions import db

    try:
        result = change()
    except DomainError as exc:
        db.session.rollback()
        details = [f"{field}: {'; '.join(messages)}" for field, messages in exc.errors.items()]
        raise click.ClickException(" | ".join(details) if details else exc.detail) from None
    db.session.commit()
    return result


def _agency_source(ctx: click.Context, value: str) -> str:
    """`--source` names an agency source of the app's loaded rules (a usage error otherwise, as a choice would)."""
    agencies = ctx.ensure_object(ScriptInfo).load_app().extensions["aid_rules"].vocabulary.agency_ids
    if value not in agencies:
        raise click.BadParameter(f"'{value}' is not one of {', '.join(agencies)}.")
    return value


def _read_password() -> str:
    """A hidden, confirmed prompt on a terminal; otherwise the first line of stdin."""
    if sys.stdin.isatty():
        return click.prompt("Password", hide_input=True, confirmation_prompt=True)
    return sys.stdin.readline().rstrip("\r\n")


@user_group.command("create")
@click.argument("username")
@click.option("--role", required=True, type=click.Choice(ROLES))
@click.option("--school", "school_code", default=None, help="School code (school_officer).")
@click.option("--region", "region_code", default=None, help="Division code (county/city/province admin).")
def user_create(username: str, role: str, school_code: str | None, region_code: str | None) -> None:
    """Create an account; the password is read from stdin (one line), never from the command line."""
    from aidservice.extensions import db
    from aidservice.services.accounts.accounts import create_user

    password = _read_password()
    user = run(
        lambda: create_user(
            db.session(),
            actor=cli_actor(),
            username=username,
            role=role,
            password=password,
            school_code=school_code,
            region_code=region_code,
        )
    )
    scope = user.school_code or user.region_code or "province"
    click.echo(f"user {user.username} created: {user.role}, scope {scope}")


@user_group.command("deactivate")
@click.argument("username")
def user_deactivate(username: str) -> None:
    """Stop an account from signing in and revoke its open sessions."""
    from aidservice.extensions import db
    from aidservice.services.accounts.accounts import deactivate_user

    changed = run(lambda: deactivate_user(db.session(), actor=cli_actor(), username=username))
    click.echo(f"user {username} {'deactivated' if changed else 'was already inactive'}")


@user_group.command("password")
@click.argument("username")
def user_password(username: str) -> None:
    """Set an account's password (read like `user create`'s) and end its open sessions."""
    from aidservice.extensions import db
    from aidservice.services.accounts.accounts import set_password

    password = _read_password()
    revoked = run(lambda: set_password(db.session(), actor=cli_actor(), username=username, password=password))
    click.echo(f"password of {username} changed; {revoked} open sessions ended")


@client_group.command("create")
@click.argument("name")
@click.option(
    "--source",
    required=True,
    callback=lambda ctx, _param, value: _agency_source(ctx, value),
    help="An agency source of the loaded rules (rules/sources.yaml).",
)
@click.option(
    "--expires-days", type=click.IntRange(min=1), default=None, help="Token lifetime (default: none)."
)
def client_create(name: str, source: str, expires_days: int | None) -> None:
    """Create an agency client; its token is printed once, on the last line, and cannot be shown again."""
    from aidservice.extensions import db
    from aidservice.services.accounts.clients import create_client

    new = run(
        lambda: create_client(
            db.session(),
            actor=cli_actor(),
            name=name,
            source=source,
            agencies=current_rules().vocabulary.agency_ids,
            expires_days=expires_days,
        )
    )
    expires = _when(new.client.expires_at) or "never"
    click.echo(f"client {new.client.id} ({new.client.name}) for {source}, expires {expires}")
    click.echo("token (shown once; store it now):", err=True)
    click.echo(new.token)


@client_group.command("revoke")
@click.argument("client_id", type=int)
def client_revoke(client_id: int) -> None:
    """Revoke a client's token at once."""
    from aidservice.extensions import db
    from aidservice.services.accounts.clients import revoke_client

    changed = run(lambda: revoke_client(db.session(), actor=cli_actor(), client_id=client_id))
    click.echo(f"client {client_id} {'revoked' if changed else 'was already revoked'}")


@client_group.command("list")
def client_list() -> None:
    """Every client with its token prefix and dates; the tokens themselves are not stored."""
    from aidservice.extensions import db
    from aidservice.services.accounts.clients import list_clients

    rows = [("id", "name", "source", "token", "created", "expires", "revoked")]
    for c in list_clients(db.session()):
        rows.append(
            (
                str(c.id),
                c.name,
                c.source,
                c.token_prefix + "…",
                _when(c.created_at) or "",
                _when(c.expires_at) or "never",
                _when(c.revoked_at) or "-",
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        click.echo("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())


@regions_group.command("add")
@click.argument("code")
@click.argument("name")
def regions_add(code: str, name: str) -> None:
    """Add a county (its city must exist), or name one that was added from a school's region code."""
    from aidservice.extensions import db
    from aidservice.models import Region
    from aidservice.services.regions import ensure_county

    known = db.session.get(Region, code)
    before = None if known is None else known.name
    region = run(lambda: ensure_county(db.session(), code, name, actor=cli_actor(), field="code"))
    state = "added" if before is None else ("renamed" if before != region.name else "already known")
    click.echo(f"region {region.code} {region.name} ({region.level}, city {region.parent_code}) {state}")


def _when(moment: datetime | None) -> str | None:
    return None if moment is None else moment.strftime("%Y-%m-%d %H:%M")
