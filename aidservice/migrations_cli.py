"""Flask-Migrate, loaded only when migrations are asked for.

Importing Flask-Migrate imports Alembic, about a third of a second: every `flask ... aid evaluate`
and every gunicorn worker would pay for it. The app gets a `db` command group and an
`extensions["migrate"]` entry that load the real ones on first use.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
from flask import Flask, g
from flask.cli import ScriptInfo, with_appcontext

OPTIONS: dict[str, Any] = {"render_as_batch": True, "compare_type": True}


def init_migrations(app: Flask) -> Any:
    """Bind Flask-Migrate to `app` now (idempotent); returns its config (`extensions["migrate"]`)."""
    current = app.extensions.get("migrate")
    if current is not None and not isinstance(current, _LazyMigrateConfig):
        return current
    from flask_migrate import Migrate

    from aidservice.extensions import db
    from config import REPO_ROOT

    Migrate(app, db, directory=str(Path(REPO_ROOT) / "migrations"), **OPTIONS)
    return app.extensions["migrate"]


class _LazyMigrateConfig:
    """Stands in `app.extensions["migrate"]` until something reads it (Alembic's env.py, tests' upgrade())."""

    def __init__(self, app: Flask) -> None:
        self._app = app

    def __getattr__(self, name: str) -> Any:
        return getattr(init_migrations(self._app), name)


class _LazyDbGroup(click.Group):
    """`flask db ...`: resolves Flask-Migrate's own command group on first use."""

    def _real(self, ctx: click.Context) -> click.Group:
        app = ctx.ensure_object(ScriptInfo).load_app()
        init_migrations(app)
        from flask_migrate.cli import db as real

        return real

    def list_commands(self, ctx: click.Context) -> list[str]:
        return self._real(ctx).list_commands(ctx)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        return self._real(ctx).get_command(ctx, cmd_name)


@click.group("db", cls=_LazyDbGroup)
@click.option("-d", "--directory", default=None, help='Migration script directory (default is "migrations")')
@click.option("-x", "--x-arg", multiple=True, help="Additional arguments consumed by custom env.py scripts")
@with_appcontext
def db_group(directory: str | None, x_arg: tuple[str, ...]) -> None:
    """Database migrations (Alembic, through Flask-Migrate)."""
    g.directory = directory  # what Flask-Migrate's own group callback sets for its commands
    g.x_arg = x_arg


def register_lazy_migrations(app: Flask) -> None:
    """The `db` commands and the migrate extension entry, without importing Alembic yet."""
    app.extensions["migrate"] = _LazyMigrateConfig(app)
    app.cli.add_command(db_group)
