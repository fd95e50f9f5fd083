"""`flask --app wsgi aid whatif`: `aid redetermine --dry-run`, with its summary kept for the rules page."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import click
from flask import current_app

from aidservice.cli.redetermine import refusal
from aidservice.cli.rules import load_rules


@click.command("whatif")
@click.option("--region", default=None, help="Division code (default: the province).")
@click.option(
    "--as-of",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default=None,
    help="Evaluation date (default: first day of the current semester of AID_SCHOOL_YEAR).",
)
@click.option(
    "--rules",
    "rules_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="A draft rules directory (default: the running rule set).",
)
def whatif_command(region: str | None, as_of: datetime | None, rules_dir: Path | None) -> None:
    """Dry-run re-determination (writes nothing to the database); prints the diff and saves its summary
    (counts only) to AID_WHATIF_FILE for the web UI's rules page."""
    from aidservice.extensions import db
    from aidservice.services.actors import Actor
    from aidservice.services.determinations import whatif
    from aidservice.services.determinations.region import redetermine_region
    from aidservice.services.errors import DomainError
    from aidservice.wiring import settings

    rules = load_rules(rules_dir) if rules_dir is not None else None
    service_settings = settings()
    try:
        result = redetermine_region(
            db.session(),
            actor=Actor.system("cli:whatif"),
            settings=service_settings,
            region=region,
            as_of=as_of.date() if as_of else None,
            rules=rules,
            dry_run=True,
        )
    except DomainError as exc:
        raise click.ClickException(refusal(exc)) from None
    finally:
        db.session.rollback()
    summary = whatif.summary_of(
        result,
        running_version=service_settings.rules.version,
        rules_dir=str(rules_dir) if rules_dir is not None else None,
    )
    path = current_app.config["AID_WHATIF_FILE"]
    whatif.save(path, summary)
    click.echo(json.dumps(summary["diff"], ensure_ascii=False, indent=1))
    click.echo(f"{summary['students']} students checked; summary saved to {path}")
