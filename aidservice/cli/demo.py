"""`flask --app wsgi aid demo-data`: a synthetic province loaded through the same services as real data.

The command refuses production and a database that has a roster, generates the province
(aidservice.demo.province), loads it (aidservice.demo.load) and writes the demo logins to a private file.
"""

from __future__ import annotations

import time
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext

BULK_FROM = 50_000  # students from which `--path auto` loads the roster in bulk


@click.command("demo-data")
@click.option("--students", default=20_000, show_default=True, help="How many students to enrol.")
@click.option(
    "--seed", default=2020, show_default=True, help="Random seed; the same seed gives the same province."
)
@click.option(
    "--logins",
    "logins_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Where to write the demo logins and agency tokens (default: instance/demo-logins.txt).",
)
@click.option(
    "--path",
    "load_path",
    type=click.Choice(["auto", "services", "bulk"]),
    default="auto",
    show_default=True,
    help=f"services: every row through the roster services; bulk: COPY/executemany roster, agency batches "
    f"through the feed service, columnar re-determination; auto: bulk from {BULK_FROM:,} students.",
)
@with_appcontext
def demo_data(students: int, seed: int, logins_path: Path | None, load_path: str) -> None:
    """Load a synthetic province: schools in the 13 cities, students in every stage, agency registers."""
    from aidservice.demo.load import load_province  # the services: only when the command runs
    from aidservice.demo.province import generate
    from aidservice.extensions import db
    from aidservice.services.roster.bulk_roster import NotEmpty, refuse_if_loaded
    from aidservice.wiring import settings as app_settings

    if current_app.config.get("AID_ENV") == "production":
        raise click.ClickException(
            "demo-data refuses to run with AID_ENV=production: it creates accounts with published passwords"
        )
    started = time.perf_counter()
    settings = app_settings()
    session = db.session()
    try:
        refuse_if_loaded(session)
    except NotEmpty as exc:
        raise click.ClickException(f"demo-data loads an empty database only: {exc}") from None
    session.rollback()  # no snapshot held open while the province is generated
    bulk = load_path == "bulk" or (load_path == "auto" and students >= BULK_FROM)
    origins = (
        settings.rules.facts["east_west_origin"].values if "east_west_origin" in settings.rules.facts else ()
    )
    province = generate(students, settings.rules.vocabulary, seed, settings.default_as_of(), origins)
    _note(started, f"generated {len(province.students):,} students")
    lines = load_province(session, settings, province, bulk=bulk, note=lambda what: _note(started, what))
    path = logins_path or Path(current_app.instance_path) / "demo-logins.txt"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    path.chmod(0o600)
    click.echo(
        f"demo province: {len(province.schools)} schools, {len(province.students)} students, "
        f"{sum(len(r) for r in province.records.values())} agency records in "
        f"{time.perf_counter() - started:.1f} s; logins in {path}",
        err=True,
    )


def _note(started: float, what: str) -> None:
    """Progress with wall and CPU time: on a shared machine the two differ a lot."""
    click.echo(f"{time.perf_counter() - started:7.1f} s  {what} (CPU {time.process_time():.1f} s)", err=True)
