"""`flask db ...`: Flask-Migrate's command group, resolved on first use so Alembic loads only for migrations."""

from __future__ import annotations

import click
from flask import g
from flask.cli import ScriptInfo, with_appcontext

from aidservice.migrations import init_migrations


class _LazyDbGroup(click.Group):
    """`flask db ...`: resolves Flask-Migrate's own command group on first use."""

    def _real(self, ctx: click.Context) -> click.Group:
        app = ctx.ensure_object(ScriptInfo).load_app()
        init_migrations(app)
        from flask_migrate.cli import db as real  # Alembic: only when a migration command runs

        return real

    def list_commands(self, ctx: click.Context) -> list[str]:
        return self._real(ctx).list_commands(ctx)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        return self._real(ctx).get_command(ctx, cmd_name)


@click.group("db", cls=_LazyDbGroup)
@click.option(
    "-d",
    "--directory",
    default=None,
    help="Migration script directory (default: the package's own, aidservice/alembic)",
)
@click.option("-x", "--x-arg", multiple=True, help="Additional arguments consumed by custom env.py scripts")
@with_appcontext
def db_group(directory: str | None, x_arg: tuple[str, ...]) -> None:
    """Database migrations (Alembic, through Flask-Migrate)."""
    g.directory = directory  # what Flask-Migrate's own group callback sets for its commands
    g.x_arg = x_arg
