"""Exit 0 when `make run` should load demo data: the embedded demo database (DATABASE_URL unset, not production),
an `aid demo-data` command, and no students yet. Any other database never gets the demo accounts, whose
passwords are published."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script: make `wsgi` importable


def embedded_demo_database(env: Mapping[str, str]) -> bool:
    """True only for the default SQLite file of a development run: DATABASE_URL unset and AID_ENV not production."""
    return not env.get("DATABASE_URL", "").strip() and env.get("AID_ENV", "").strip() != "production"


def main(env: Mapping[str, str] | None = None) -> int:
    """Decide from the environment, the app's CLI and the database; any doubt means no (never load demo data twice,
    never into a database that is not the embedded demo one)."""
    if not embedded_demo_database(os.environ if env is None else env):
        return 1
    from aidservice.extensions import db
    from wsgi import app

    if "demo-data" not in getattr(app.cli.commands.get("aid"), "commands", {}):
        return 1
    with app.app_context():
        if "students" not in sa.inspect(db.engine).get_table_names():
            return 1
        count = db.session.scalar(sa.text("SELECT count(*) FROM students"))
    return 0 if count == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
