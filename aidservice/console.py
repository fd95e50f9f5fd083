"""The `aid` console script (pyproject [project.scripts]): every `flask --app wsgi aid ...` command, plus
`aid db ...` (the migrations) and `aid serve` (gunicorn with the packaged settings), from any folder.

The app is built from the package (aidservice.wsgi.make_app), never from a wsgi.py in the current folder, so an
installed wheel needs only its environment (`AID_*`, `DATABASE_URL`). `aid rules check` is `flask aid rules
check` for aidservice.startup too, so the offline batch commands stay offline.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

import click
from flask.cli import ScriptInfo

from aidservice.cli import aid as aid_group
from aidservice.cli.db import db_group
from aidservice.wsgi import make_app

GUNICORN_CONF = "python:aidservice.gunicorn_conf"


@click.command("serve")
@click.option("--host", default=None, help="Address to listen on (default: AID_BIND, else 127.0.0.1).")
@click.option("--port", type=int, default=None, help="Port to listen on (default: PORT, else 5000).")
def serve_command(host: str | None, port: int | None) -> None:
    """Serve with gunicorn and the packaged settings (aidservice/gunicorn_conf.py)."""
    argv = [sys.executable, "-m", "gunicorn", "-c", GUNICORN_CONF]
    if host is not None or port is not None:
        argv += ["--bind", f"{host or '127.0.0.1'}:{port or os.environ.get('PORT') or 5000}"]
    argv.append("aidservice.wsgi:app")
    sys.stdout.flush()
    os.execv(sys.executable, argv)


class AidCommands(click.Group):
    """`aid`: the `flask aid` group's commands, with `db` and `serve` beside them."""

    extra: dict[str, click.Command] = {"db": db_group, "serve": serve_command}  # noqa: RUF012

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted([*aid_group.list_commands(ctx), *self.extra])

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        return self.extra.get(cmd_name) or aid_group.get_command(ctx, cmd_name)


cli = AidCommands("aid", help=aid_group.help)


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point of the `aid` script; the commands find the app through the ScriptInfo, as under `flask`."""
    cli.main(
        args=list(sys.argv[1:] if argv is None else argv),
        prog_name="aid",
        obj=ScriptInfo(create_app=make_app, set_debug_flag=False, load_dotenv_defaults=False),
    )
