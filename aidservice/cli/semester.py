"""`flask --app wsgi aid semester open`: re-identify approved applications at a semester's start."""

from __future__ import annotations

import click
from flask.cli import AppGroup

semester_group = AppGroup("semester", help="Semester adjustment of identification (每学期动态调整).")


@semester_group.command("open")
@click.option("--school-year", required=True, help="School year, e.g. 2020-2021.")
@click.option("--semester", required=True, type=click.Choice(["autumn", "spring"]))
@click.option("--school", "school", default=None, help="Only this school (code).")
def semester_open(school_year: str, semester: str, school: str | None) -> None:
    """Re-identify the approved applications with the data as of the semester's first day and flag the
    decisions whose level or awards would change for the officer's review (they reassess them)."""
    from aidservice.extensions import db
    from aidservice.services.actors import Actor
    from aidservice.services.applications.semester import open_semester
    from aidservice.services.errors import DomainError
    from aidservice.wiring import settings

    try:
        summary = open_semester(
            db.session(),
            actor=Actor.system("cli:semester-open"),
            settings=settings(),
            school_year=school_year,
            semester=semester,
            school=school,
        )
    except DomainError as exc:
        db.session.rollback()
        messages = "; ".join(f"{k}: {', '.join(v)}" for k, v in exc.errors.items())
        raise click.ClickException(f"{exc.detail}{' ' + messages if messages else ''}") from None
    db.session.commit()
    scope = f"school {school}" if school else "all schools"
    click.echo(
        f"{semester} {school_year} (as of {summary.as_of}), {scope}: {summary.checked} approved application(s) "
        f"re-identified, {summary.unchanged} unchanged, {len(summary.flagged)} flagged for review, "
        f"{summary.already_flagged} already flagged"
    )
    for entry in summary.flagged:
        before, after = entry["before"], entry["after"]
        click.echo(
            f"  application {entry['application_id']} (school {entry['school_code']}, student {entry['student_id']}): "
            f"level {before['level']} -> {after['level']}; awards {_awards(before['awards'])} -> "
            f"{_awards(after['awards'])}"
        )


def _awards(awards: list[list[str | None]]) -> str:
    return ", ".join(f"{program} {amount}" for program, amount in awards) or "none"
