"""`flask --app wsgi aid evaluate`: a file of students evaluated with the columnar path, offline.

An offline command (aidservice.startup): the app has neither routes nor a database, and polars and
aidservice.engine.batch are imported only when the command runs, so `--help` and usage errors stay fast.
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext

from aidservice.cli.rules import RULES_OPTION, load_rules
from aidservice.engine import OutsideCoverage
from aidservice.engine.coverage import require_covered
from aidservice.rulesets import current_rules
from aidservice.schoolyear import current_semester_start


def _date(value: datetime | None) -> date | None:
    return value.date() if value is not None else None


@click.command("evaluate")
@click.option(
    "--input", "input_path", required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
@click.option("--output", "output_path", required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--as-of",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default=None,
    help="Evaluation date (default: first day of the current semester of AID_SCHOOL_YEAR).",
)
@RULES_OPTION
@click.option(
    "--skip-invalid", is_flag=True, help="Skip invalid rows (listed in --errors) instead of stopping."
)
@click.option("--errors", "errors_path", type=click.Path(dir_okay=False, path_type=Path), default=None)
@with_appcontext  # what registering it on the `aid` AppGroup did
def evaluate(
    input_path: Path,
    output_path: Path,
    as_of: datetime | None,
    rules_dir: Path | None,
    skip_invalid: bool,
    errors_path: Path | None,
) -> None:
    """Evaluate a file of students (JSONL, CSV or Parquet) into JSONL, CSV or Parquet by extension."""
    from aidservice.engine.batch import evaluate_file  # heavy (polars): only when used
    from aidservice.engine.batch_read import BatchInputError

    ruleset = load_rules(rules_dir) if rules_dir is not None else current_rules()
    day = _date(as_of) or current_semester_start(current_app.config["AID_SCHOOL_YEAR"], date.today())
    try:
        require_covered(
            ruleset.rules, day
        )  # before the input is read: one line naming the date and the coverage
    except OutsideCoverage as exc:
        raise click.ClickException(str(exc)) from None
    try:
        summary = evaluate_file(
            ruleset,
            input_path,
            output_path,
            as_of=day,
            skip_invalid=skip_invalid,
            errors_path=errors_path,
            progress=True,
        )
    except BatchInputError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(
        f"{summary.rows} rows as of {day.isoformat()} with rules {ruleset.version}: "
        f"{summary.written} written, {summary.invalid} invalid, {summary.missing} with missing values "
        f"-> {output_path}",
        err=True,
    )
