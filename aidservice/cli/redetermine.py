"""`flask --app wsgi aid redetermine`: re-determine a region (or the province), resumable, or a what-if diff."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

import click

from aidservice.cli.rules import load_rules
from aidservice.services.errors import DomainError


@click.command("redetermine")
@click.option(
    "--region", default=None, help="Division code (320000 province, 320100 a city, 320102 a county)."
)
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
    help="A draft rules directory: the what-if before publishing a rule change.",
)
@click.option("--dry-run", is_flag=True, help="Write nothing; print who would gain and lose what.")
@click.option("--job-key", default=None, help="Resume the job with this key after a crash (same parameters).")
@click.option(
    "--chunk", type=click.IntRange(min=1), default=50_000, show_default=True, help="Students per transaction."
)
@click.option(
    "--examples",
    type=click.IntRange(min=0, max=20),
    default=10,
    show_default=True,
    help="Dry run: how many example students to print.",
)
@click.option(
    "--force",
    is_flag=True,
    help="Allow an --as-of in an earlier school year (still inside the rules' coverage); audited.",
)
def redetermine_command(
    region: str | None,
    as_of: datetime | None,
    rules_dir: Path | None,
    dry_run: bool,
    job_key: str | None,
    chunk: int,
    examples: int,
    force: bool,
) -> None:
    """Re-determine every student of a region; commits per chunk; --dry-run prints the diff instead.

    --as-of must lie in the current school year (AID_SCHOOL_YEAR) and the rules' coverage; --force also
    accepts an earlier school year inside coverage and records a `redetermine.forced` audit event.
    """
    from tqdm import tqdm

    from aidservice.extensions import db
    from aidservice.services.actors import Actor
    from aidservice.services.determinations.region import count_students, redetermine_region
    from aidservice.wiring import settings

    rules = load_rules(rules_dir) if rules_dir is not None else None
    total = count_students(db.session(), region)
    try:
        with tqdm(total=total, unit="student", file=sys.stderr, disable=None, dynamic_ncols=True) as bar:
            result = redetermine_region(
                db.session(),
                actor=Actor.system("cli:redetermine"),
                settings=settings(),
                region=region,
                as_of=as_of.date() if as_of else None,
                rules=rules,
                dry_run=dry_run,
                job_key=job_key,
                chunk=chunk,
                progress=bar.update,
                checkpoint=None if dry_run else db.session.commit,
                force=force,
            )
    except DomainError as exc:
        db.session.rollback()
        raise click.ClickException(refusal(exc)) from None
    shown = _masks(db.session(), result.diff.examples[:examples]) if result.diff is not None else []
    db.session.rollback() if dry_run else db.session.commit()
    _summary(result)
    if result.diff is not None:
        _print_diff(result.diff.as_json(), shown)


def refusal(exc: DomainError) -> str:
    """One line: the error and each field's messages (`as_of: 2019-10-01 is before the current school year ...`)."""
    messages = "; ".join(f"{name}: {', '.join(texts)}" for name, texts in exc.errors.items())
    return f"{exc.detail} {messages}" if messages else exc.detail


def _summary(result: Any) -> None:
    where = result.region or "the province"
    head = "dry run, nothing written" if result.dry_run else f"job {result.job_key}"
    if result.already_done:
        click.echo(f"{head}: already done ({result.students} students, {result.stored} stored)")
        return
    resumed = f", resumed after student #{result.resumed_after}" if result.resumed_after else ""
    click.echo(
        f"{head}: {where} as of {result.as_of.isoformat()} with rules {result.rule_set_version}{resumed}: "
        f"{result.students} students, {result.stored} new determinations, {result.changed} changed level or awards, "
        f"{result.skipped} skipped"
    )


def _masks(session: Any, examples: list[dict[str, Any]]) -> list[dict[str, Any]]:
    from aidservice.services.determinations.diff import masked_numbers

    masks = masked_numbers(session, [e["pk"] for e in examples])
    return [{**e, "person": masks.get(e["pk"], "")} for e in examples]


def echo_diff_sections(diff: Mapping[str, Any]) -> None:
    """The level moves, programs gained and lost, and money delta by program of a diff (`redetermine`, `whatif`)."""
    for title, key in (
        ("level moves", "level_moves"),
        ("programs gained", "programs_gained"),
        ("programs lost", "programs_lost"),
        ("money delta by program (yuan)", "money_delta"),
    ):
        if diff[key]:
            click.echo(f"{title}:")
            for name, value in diff[key].items():
                click.echo(f"  {name:<40} {value:>14}")


def _print_diff(diff: Mapping[str, Any], examples: list[dict[str, Any]]) -> None:
    click.echo(
        f"{diff['students_changing']} students would change level or awards "
        f"({diff['level_up']} up, {diff['level_down']} down); {diff['facts_only']} only facts"
    )
    echo_diff_sections(diff)
    if examples:
        click.echo("examples:")
    for e in examples:
        gained = ",".join(e["gained"]) or "-"
        lost = ",".join(e["lost"]) or "-"
        click.echo(
            f"  {e['student_id']:<16} {e['person']:<18} {e['level'][0]:>9} -> {e['level'][1]:<9} "
            f"total {e['total_delta']:>10}  gained {gained}  lost {lost}"
        )
