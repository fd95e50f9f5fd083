"""Exit 0 when `make run` should load demo data: an `aid demo-data` command exists and there are no students."""

from __future__ import annotations

import sys
from pathlib import Path

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script: make `wsgi` importable


def main() -> int:
    """Decide from the app's CLI and database; any doubt means no (never load demo data twice)."""
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
