"""`flask --app wsgi aid whatif`: a draft rule set against the running one on the same date, summary kept."""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

import click
from flask import current_app

from aidservice.cli.redetermine import echo_diff_sections, refusal
from aidservice.cli.rules import load_rules
from aidservice.rulesets import current_rules


@click.command("whatif")
@click.option("--region", default=None, help="Division code (default: the province).")
@click.option(
    "--as-of",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default=None,
    help="Evaluation date, the same for both rule sets (default: first day of the current semester).",
)
@click.option(
    "--rules",
    "rules_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="The draft rules directory (default: none, so the running rules against themselves: no change).",
)
@click.option(
    "--examples",
    type=click.IntRange(min=0, max=100),
    default=10,
    show_default=True,
    help="How many changing students to print (masked ID numbers).",
)
@click.option(
    "--chunk", type=click.IntRange(min=1), default=50_000, show_default=True, help="Students per chunk."
)
@click.option("--json", "as_json", is_flag=True, help="Print the summary (and the examples) as JSON.")
@click.option(
    "--xlsx",
    "xlsx_path",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    default=None,
    help="Also write an XLSX workbook: a summary sheet and every changing student (masked ID numbers).",
)
def whatif_command(
    region: str | None,
    as_of: datetime | None,
    rules_dir: Path | None,
    examples: int,
    chunk: int,
    as_json: bool,
    xlsx_path: Path | None,
) -> None:
    """Compare a draft rule set with the running rules at the same date on the real roster.

    Every student of the region is evaluated twice (running rules, draft) with the same facts; prints who
    gains and loses money, level moves, programs gained and lost and the money delta by program, overall and
    by region. Writes nothing to the database; saves the summary (counts only) to AID_WHATIF_FILE for the
    web UI's rules page; with --xlsx, also a workbook listing every changing student (masked ID numbers).
    """
    from tqdm import tqdm

    from aidservice.extensions import db
    from aidservice.services.actors import Actor
    from aidservice.services.determinations import whatif
    from aidservice.services.determinations.diff import masked_numbers
    from aidservice.services.determinations.region import count_students
    from aidservice.services.determinations.whatif_compare import compare_with_running
    from aidservice.services.determinations.whatif_xlsx import compare_to_workbook
    from aidservice.services.errors import DomainError
    from aidservice.wiring import settings

    draft = load_rules(rules_dir) if rules_dir is not None else None
    session = db.session()
    try:
        total = count_students(session, region) if region is None or region.isdigit() else None
        with tqdm(total=total, unit="student", file=sys.stderr, disable=None, dynamic_ncols=True) as bar:
            day = as_of.date() if as_of else None
            if xlsx_path is None:
                result = compare_with_running(
                    session,
                    actor=Actor.system("cli:whatif"),
                    settings=settings(),
                    draft=draft,
                    region=region,
                    as_of=day,
                    chunk=chunk,
                    keep=examples,
                    progress=bar.update,
                )
            else:
                result = compare_to_workbook(
                    session,
                    str(xlsx_path),
                    actor=Actor.system("cli:whatif"),
                    settings=settings(),
                    draft=draft,
                    draft_name=rules_dir.name if rules_dir is not None else None,
                    region=region,
                    as_of=day,
                    chunk=chunk,
                    keep=examples,
                    progress=bar.update,
                )
        masks = masked_numbers(session, [c.pk for c in result.changes])
    except DomainError as exc:
        raise click.ClickException(refusal(exc)) from None
    # read only: nothing to commit (the app context's teardown ends the transaction)
    summary = whatif.summary_of(result, rules_dir=str(rules_dir) if rules_dir is not None else None)
    path = current_app.config["AID_WHATIF_FILE"]
    whatif.save(path, summary)
    shown = [{**c.as_json(), "person": masks.get(c.pk, "")} for c in result.changes]
    if as_json:
        click.echo(json.dumps({**summary, "examples": shown}, ensure_ascii=False, indent=1))
    else:
        _print(summary, shown)
    if xlsx_path is not None:
        click.echo(f"workbook written to {xlsx_path}")
    click.echo(f"summary saved to {path}")


def _print(summary: Mapping[str, Any], shown: list[dict[str, Any]]) -> None:
    cities = current_rules().facts["city_code"]
    draft = f"draft {summary['rules_dir_name']}" if summary["draft"] else "no draft"
    click.echo(
        f"what-if: {draft} ({summary['rule_set_version']}) against the running rules "
        f"({summary['running_version']}), {summary['region']} as of {summary['as_of']}: "
        f"{summary['students']} students evaluated, {summary['skipped']} skipped"
    )
    diff = summary["diff"]
    if summary["no_change"]:
        click.echo("no change: every student keeps the same level, programs and amounts")
        return
    click.echo(
        f"{diff['students_changing']} students change: {diff['students_gaining']} gain money, "
        f"{diff['students_losing']} lose money ({diff['level_up']} level up, {diff['level_down']} down); "
        f"total delta {diff['total_delta']} yuan (loans not counted)"
    )
    echo_diff_sections(diff)
    click.echo("by region:")
    for code, totals in summary["by_region"].items():
        name = cities.label_of(code) if code in cities.values else ""
        click.echo(
            f"  {code} {name:<4} {totals['students_changing']:>7} change  {totals['students_gaining']:>7} gain  "
            f"{totals['students_losing']:>7} lose  delta {totals['total_delta']:>14}"
            + "".join(f"  {p} {v}" for p, v in totals["money_delta"].items())
        )
    if shown:
        click.echo("students (first changes):")
    for e in shown:
        gained = ",".join(e["gained"]) or "-"
        lost = ",".join(e["lost"]) or "-"
        click.echo(
            f"  {e['student_id']:<16} {e['person']:<18} {e['region_code']} {e['level'][0]:>9} -> "
            f"{e['level'][1]:<9} total {e['total_delta']:>10}  gained {gained}  lost {lost}"
        )
