"""`flask --app wsgi aid report KIND ...` and `aid report schedule`: periodic reports from the command line."""

from __future__ import annotations

import os
import tempfile
from datetime import UTC, datetime
from pathlib import Path

import click
from flask.cli import AppGroup

KINDS = ("special-groups", "programs", "regions", "dropout_control")
FORMATS = ("json", "csv", "xlsx", "html")

report_group = AppGroup(
    "report",
    help="Periodic reports: special-groups, programs, regions, dropout_control; `schedule` archives the due ones.",
)


def _fail(exc: Exception) -> click.ClickException:
    """A domain error as a one-line message with its field errors (exit 1)."""
    from aidservice.services.errors import DomainError

    if isinstance(exc, DomainError):
        fields = "; ".join(f"{k}: {', '.join(v)}" for k, v in exc.errors.items())
        return click.ClickException(f"{exc.detail}{' (' + fields + ')' if fields else ''}")
    return click.ClickException(str(exc))


def _make_kind_command(kind: str) -> click.Command:
    @click.command(kind, help=f"Generate the {kind} report into --output.")
    @click.option(
        "--period",
        required=True,
        help="2020-2021-autumn, 2020-2021-spring, 2020-2021 or 2020-09-01..2021-01-31",
    )
    @click.option("--region", default=None, help="320000 (default), a city, a county or a school code")
    @click.option("--format", "fmt", required=True, type=click.Choice(FORMATS))
    @click.option("--output", required=True, type=click.Path(dir_okay=False, path_type=Path))
    @click.option(
        "--as-of", "as_of", default=None, help="ISO time to regenerate from history (naive = Jiangsu time)"
    )
    def command(period: str, region: str | None, fmt: str, output: Path, as_of: str | None) -> None:
        from aidservice.extensions import db
        from aidservice.services import reports
        from aidservice.services.actors import Actor
        from aidservice.services.errors import DomainError
        from aidservice.wiring import settings

        try:
            made = reports.generate(
                db.session(),
                actor=Actor.system("cli-report"),
                settings=settings(),
                kind=kind,
                period=period,
                region=region,
                fmt=fmt,
                as_of=as_of,
            )
        except DomainError as exc:
            db.session.rollback()
            raise _fail(exc) from None
        db.session.commit()
        output.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=output.parent, prefix=f".{output.name}.", suffix=".part")
        try:
            with os.fdopen(handle, "wb") as out:
                for chunk in made.chunks:
                    out.write(chunk)
            os.replace(temporary, output)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        report = made.report
        note = f" (empty: {report.message})" if report is not None and report.empty else ""
        click.echo(f"{made.filename} as of {made.as_of} -> {output}{note}", err=True)

    return command


for _kind in KINDS:
    report_group.add_command(_make_kind_command(_kind))


@report_group.command("schedule")
@click.option("--now", "now_text", default=None, help="Pretend it is this ISO time (default: now)")
@click.option(
    "--region", "regions", multiple=True, help="Regions to report on (default: the province and each city)"
)
@click.option("--formats", default="xlsx,json", show_default=True, help="Comma-separated formats to archive")
def schedule(now_text: str | None, regions: tuple[str, ...], formats: str) -> None:
    """Generate and archive the monthly and end-of-semester reports that are due (idempotent)."""
    from aidservice.extensions import db
    from aidservice.services.actors import Actor
    from aidservice.services.errors import DomainError
    from aidservice.services.reports.archive import Due, run_schedule, select_regions
    from aidservice.services.reports.periods import LOCAL
    from aidservice.wiring import settings

    now = None
    if now_text:
        try:
            now = datetime.fromisoformat(now_text.replace("Z", "+00:00"))
        except ValueError:
            raise click.BadParameter("must be an ISO 8601 time", param_hint="--now") from None
        now = (now if now.tzinfo is not None else now.replace(tzinfo=LOCAL)).astimezone(UTC)

    def progress(due: Due, archived: bool) -> None:
        state = "archived" if archived else "already archived"
        click.echo(
            f"{due.kind} {due.period} {due.region} {due.format} as of {due.as_of.isoformat()}: {state}",
            err=True,
        )

    try:
        result = run_schedule(
            db.session(),
            actor=Actor.system("report-schedule"),
            settings=settings(),
            now=now,
            regions=select_regions(regions),
            formats=[f.strip() for f in formats.split(",") if f.strip()],
            checkpoint=db.session.commit,
            progress=progress,
        )
    except DomainError as exc:
        db.session.rollback()
        raise _fail(exc) from None
    db.session.commit()
    click.echo(
        f"schedule at {result.now}: {len(result.archived)} archived, {len(result.skipped)} already there"
    )
