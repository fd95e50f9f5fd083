"""The command line: `flask --app wsgi aid ...` and `flask db ...`, one module per area, registered here only.

`register(app)` (called by create_app) is the one registration point: it adds the `aid` group with
every area's commands, and the lazy `db` migrations group to an app that has a database.

Commands are thin over the services. The modules of this package import only click, Flask and light
aidservice modules at the top; the services, SQLAlchemy, polars and Alembic are imported inside the
commands that need them, so an offline batch command (`aid evaluate`, `aid rules check`; see
aidservice.startup) starts without them.
"""

from __future__ import annotations

from flask import Flask

from aidservice.cli.admin import client_group, regions_group, user_group
from aidservice.cli.audit import audit_group
from aidservice.cli.db import db_group
from aidservice.cli.demo import demo_data
from aidservice.cli.evaluate import evaluate
from aidservice.cli.faults import FaultReportingGroup
from aidservice.cli.jobs import jobs_group, worker_command
from aidservice.cli.keys import keys_group
from aidservice.cli.redetermine import redetermine_command
from aidservice.cli.report import report_group
from aidservice.cli.rules import rules_group
from aidservice.cli.semester import semester_group
from aidservice.cli.whatif import whatif_command

aid = FaultReportingGroup("aid", help="Student aid: rules, batch evaluation and administration.")
for _command in (
    rules_group,
    evaluate,
    audit_group,
    demo_data,
    semester_group,
    redetermine_command,
    whatif_command,
    report_group,
    keys_group,
    user_group,
    client_group,
    regions_group,
    worker_command,
    jobs_group,
):
    aid.add_command(_command)


def register(app: Flask) -> None:
    """Attach the `aid` group, and `db` unless the app is offline (no database to migrate: aidservice.startup)."""
    app.cli.add_command(aid)
    if not app.extensions.get("aid_offline"):
        app.cli.add_command(db_group)
