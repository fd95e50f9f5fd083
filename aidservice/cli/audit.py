"""`flask --app wsgi aid audit ...`: check the tamper-evident audit chain and anchor it with checkpoints."""

from __future__ import annotations

from pathlib import Path

import click
from flask.cli import AppGroup

audit_group = AppGroup("audit", help="The audit trail: verify its hash chain; anchor it with checkpoints.")


@audit_group.command("verify")
@click.option(
    "--anchor",
    "anchor_files",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Checkpoint lines kept outside the database (from `aid audit checkpoint --output`); repeatable.",
)
def audit_verify(anchor_files: tuple[Path, ...]) -> None:
    """Walk the hash chain and hold it against every checkpoint; exit 1 naming the first problem."""
    from aidservice.extensions import db
    from aidservice.services.audit import AnchorError, parse_anchor_lines, verify

    try:
        anchors = [
            a
            for path in anchor_files
            for a in parse_anchor_lines(path.read_text(encoding="utf-8").splitlines(), str(path))
        ]
    except AnchorError as error:
        raise click.BadParameter(str(error), param_hint="--anchor") from None
    checked, broken = verify(db.session(), anchors)
    if broken is not None:
        where = f" (id {broken.id})" if broken.id else ""
        click.echo(
            f"audit chain BROKEN at event seq {broken.seq}{where}: {broken.reason}; {checked} event(s) read",
            err=True,
        )
        raise SystemExit(1)
    anchored = f", {len(anchors)} external anchor(s) matched" if anchors else ""
    click.echo(f"audit chain intact: {checked} event(s) verified{anchored}")


@audit_group.command("checkpoint")
@click.option(
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Append the checkpoint line to this file (keep it off the database server).",
)
def audit_checkpoint(output: Path | None) -> None:
    """Record the chain head as a checkpoint and print its line for an external record (run it daily)."""
    from aidservice.extensions import db
    from aidservice.services.actors import Actor
    from aidservice.services.audit import ChainBroken, take_checkpoint

    try:
        _anchor, line = take_checkpoint(db.session(), actor=Actor.system("cli:audit-checkpoint"))
    except ChainBroken as error:
        db.session.rollback()
        click.echo(f"not anchored: {error}", err=True)
        raise SystemExit(1) from None
    db.session.commit()
    if output is not None:
        with output.open("a", encoding="utf-8") as file:
            file.write(line + "\n")
    click.echo(line)
