"""Flask-Migrate, loaded only when migrations are asked for.

Importing Flask-Migrate imports Alembic, about a third of a second: every `flask ... aid evaluate`
and every gunicorn worker would pay for it. The app gets an `extensions["migrate"]` entry that binds
the real one on first use; the `db` command group that does the same is in aidservice.cli.db.
"""

from __future__ import annotations

from typing import Any

from flask import Flask

OPTIONS: dict[str, Any] = {"render_as_batch": True, "compare_type": True}


def init_migrations(app: Flask) -> Any:
    """Bind Flask-Migrate to `app` now (idempotent); returns its config (`extensions["migrate"]`)."""
    current = app.extensions.get("migrate")
    if current is not None and not isinstance(current, _LazyMigrateConfig):
        return current
    from flask_migrate import Migrate  # Alembic: only when migrations are asked for (see above)

    from aidservice.config import MIGRATIONS_DIR
    from aidservice.extensions import db

    # the Alembic scripts ship inside the package (aidservice/alembic), so an installed wheel migrates too
    Migrate(app, db, directory=str(MIGRATIONS_DIR), **OPTIONS)
    return app.extensions["migrate"]


class _LazyMigrateConfig:
    """Stands in `app.extensions["migrate"]` until something reads it (Alembic's env.py, tests' upgrade())."""

    def __init__(self, app: Flask) -> None:
        self._app = app

    def __getattr__(self, name: str) -> Any:
        return getattr(init_migrations(self._app), name)


def register_lazy_migrations(app: Flask) -> None:
    """The migrate extension entry, without importing Alembic yet."""
    app.extensions["migrate"] = _LazyMigrateConfig(app)


HEADS = "aid_migration_heads"


def migration_heads(app: Flask) -> frozenset[str]:
    """The head revisions of the migration script directory, read once per app (readiness compares the database's
    alembic_version with them)."""
    heads = app.extensions.get(HEADS)
    if heads is None:
        from alembic.script import ScriptDirectory  # Alembic: only when a probe first asks (see above)

        directory = init_migrations(app).directory
        heads = app.extensions[HEADS] = frozenset(ScriptDirectory(directory).get_heads())
    return heads
