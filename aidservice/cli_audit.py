"""`flask --app wsgi aid audit ...`: check the tamper-evident audit chain."""

from __future__ import annotations

import click
from flask.cli import AppGroup

audit_group = AppGroup("audit", help="The audit trail: verify its hash chain.")


@audit_group.command("verify")
def audit_verify() -> None:
    """Walk the hash chain; exit 1 naming the first broken event when anything was edited or removed."""
    from aidservice.extensions import db
    from aidservice.services.audit import verify

    checked, broken = verify(db.session)
    if broken is not None:
        click.echo(
            f"audit chain BROKEN at event seq {broken.seq} (id {broken.id}): {broken.reason}; "
            f"{checked} event(s) read",
            err=True,
        )
        raise SystemExit(1)
    click.echo(f"audit chain intact: {checked} event(s) verified")
