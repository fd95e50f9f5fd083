"""`flask --app wsgi aid ...`: thin commands; heavy modules are imported inside the commands that need them."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Any

import click
from flask import Flask, current_app
from flask.cli import AppGroup

from aidservice.cli_admin import client_group, regions_group, user_group
from aidservice.cli_audit import audit_group
from aidservice.cli_demo import demo_data
from aidservice.cli_keys import keys_group
from aidservice.cli_redetermine import redetermine_command
from aidservice.cli_report import report_group
from aidservice.cli_semester import semester_group
from aidservice.engine import OutsideCoverage
from aidservice.engine.coverage import require_covered
from aidservice.rulesets import RuleSetBroken, current_rules, load_or_refuse
from aidservice.schoolyear import current_semester_start


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


aid = FaultReportingGroup("aid", help="Student aid: rules, batch evaluation and administration.")
rules_group = AppGroup("rules", help="The rule set: check it, publish it.")
aid.add_command(rules_group)
aid.add_command(audit_group)
aid.add_command(demo_data)
aid.add_command(semester_group)
aid.add_command(redetermine_command)
aid.add_command(report_group)
aid.add_command(keys_group)
for _group in (user_group, client_group, regions_group):
    aid.add_command(_group)

RULES_OPTION = click.option(
    "--rules",
    "rules_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Rules directory (default: AID_RULES_DIR, the rule set the service runs).",
)


def register_commands(app: Flask) -> None:
    """Attach the `aid` command group to the app's CLI."""
    app.cli.add_command(aid)


def _rules_dir(rules_dir: Path | None) -> Path:
    return rules_dir if rules_dir is not None else Path(current_app.config["AID_RULES_DIR"])


def _load(rules_dir: Path) -> Any:
    """Load a rule set or stop with every `file:line: reason` on stderr and exit status 1."""
    try:
        return load_or_refuse(rules_dir)
    except RuleSetBroken as exc:
        for line in exc.lines:
            click.echo(line, err=True)
        raise click.ClickException(f"{len(exc.lines)} problem(s) in {rules_dir}") from None


@rules_group.command("check")
@RULES_OPTION
def rules_check(rules_dir: Path | None) -> None:
    """Validate the rules and run the rule tests in <rules>/tests."""
    root = _rules_dir(rules_dir)
    ruleset = _load(root)
    click.echo(f"rules {root}: version {ruleset.version}")
    outcomes = ruleset.run_tests(root / "tests")
    failed = [o for o in outcomes if not o.passed]
    for outcome in failed:
        click.echo(f"FAIL {outcome.file}:{outcome.line}: {outcome.name}: {outcome.message}", err=True)
    click.echo(f"{len(outcomes) - len(failed)} passed, {len(failed)} failed")
    if failed:
        raise SystemExit(1)


@rules_group.command("publish")
def rules_publish() -> None:
    """Store the running rule set's files under its version, so decisions made with it can be replayed."""
    from aidservice.extensions import db
    from aidservice.services.rule_sets import publish_current

    ruleset = current_rules()
    added = publish_current(db.session, ruleset, ruleset.rules.files)
    db.session.commit()
    click.echo(f"rule set {ruleset.version} {'published' if added else 'already published'}")


def _date(value: datetime | None) -> date | None:
    return value.date() if value is not None else None


@aid.command("evaluate")
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

    ruleset = _load(rules_dir) if rules_dir is not None else current_rules()
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
        f"{summary.written} written, {summary.invalid} invalid -> {output_path}",
        err=True,
    )
