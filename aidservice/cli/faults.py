"""The `aid` group's class: a database fault (server down, disk full, read-only file) becomes one clear line."""

from __future__ import annotations

from typing import Any

import click
from flask.cli import AppGroup


class FaultReportingGroup(AppGroup):
    """Reports a database fault (server down, disk full, read-only file) as one clear line and exit status 1."""

    def invoke(self, ctx: click.Context) -> Any:
        """Run the subcommand; a database fault becomes a ClickException instead of a traceback with SQL in it."""
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.ClickException, click.Abort):
            raise  # click's own outcomes (--help, usage errors): nothing to classify
        except Exception as error:
            # imported only now: batch commands (aid evaluate) start without SQLAlchemy
            from aidservice.dbfaults import database_fault

            fault = database_fault(error)
            if fault is None:
                raise
            raise click.ClickException(fault.cli_message) from None
