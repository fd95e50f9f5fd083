"""`flask --app wsgi aid keys ...`: keys of the identity numbers at rest (generate, status, rotate)."""

from __future__ import annotations

import click
from flask.cli import AppGroup

keys_group = AppGroup(
    "keys", help="Identity-number encryption keys: generate one, see which are in use, rotate."
)


@keys_group.command("generate")
@click.option("--kid", default="k1", show_default=True, help="Key id (1-16 of A-Z a-z 0-9 _ -).")
def keys_generate(kid: str) -> None:
    """Print a fresh `kid:base64key` entry for AID_ID_KEYS (32 random bytes); nothing is stored."""
    from aidservice.crypto import KeyringError, generate_key_line

    try:
        click.echo(generate_key_line(kid))
    except KeyringError as exc:
        raise click.BadParameter(str(exc), param_hint="--kid") from None


@keys_group.command("status")
def keys_status() -> None:
    """Rows per key id: a key can leave AID_ID_KEYS once no row is under it."""
    from aidservice.extensions import db
    from aidservice.services.accounts.idkeys import key_counts
    from aidservice.wiring import id_vault

    vault = id_vault()
    click.echo(f"current key: {vault.current}; keyring: {', '.join(sorted(vault.keys))}")
    for kind, counts in key_counts(db.session()).items():
        listed = ", ".join(f"{key_id}: {n}" for key_id, n in counts.items()) or "no rows"
        click.echo(f"{kind}s: {listed}")


@keys_group.command("check")
def keys_check() -> None:
    """Compare the keys with the fingerprints this database recorded, and record the missing ones (exit 1 naming a
    key that does not match)."""
    from aidservice.extensions import db
    from aidservice.keysafety import KeysMismatch
    from aidservice.services.accounts.keyprints import ensure_keys
    from aidservice.wiring import id_vault

    try:
        found = ensure_keys(db.session(), id_vault())
    except KeysMismatch as exc:
        db.session.rollback()
        raise click.ClickException(str(exc)) from None
    db.session.commit()
    names = {("hmac", ""): "AID_ID_HMAC_KEY"}
    for slot in found.matched:
        click.echo(f"matches: {names.get(slot, f'AID_ID_KEYS key {slot[1]!r}')}")
    for slot in found.recorded:
        click.echo(f"recorded: {names.get(slot, f'AID_ID_KEYS key {slot[1]!r}')}")


@keys_group.command("rotate")
@click.option(
    "--batch",
    "size",
    type=click.IntRange(min=1, max=100_000),
    default=1000,
    show_default=True,
    help="Rows re-sealed and committed per transaction.",
)
def keys_rotate(size: int) -> None:
    """Re-encrypt every identity number under AID_ID_KEY_CURRENT; safe to stop and run again (audited)."""
    from aidservice.crypto import KINDS, CannotOpen
    from aidservice.extensions import db
    from aidservice.keysafety import KeysMismatch
    from aidservice.services.accounts.idkeys import key_counts, record_rotation, remaining, rotate_batch
    from aidservice.services.accounts.keyprints import ensure_keys
    from aidservice.services.actors import Actor
    from aidservice.wiring import id_vault

    vault, session = id_vault(), db.session()
    try:  # the new current key's fingerprint is recorded before the first row is sealed with it
        ensure_keys(session, vault)
    except KeysMismatch as exc:
        session.rollback()
        raise click.ClickException(str(exc)) from None
    session.commit()
    resealed: dict[str, int] = {}
    for kind in KINDS:
        total, done, skipped, after = remaining(session, vault, kind), 0, 0, 0
        while True:
            try:
                batch = rotate_batch(session, vault=vault, kind=kind, after_pk=after, size=size)
            except CannotOpen as exc:
                session.rollback()
                raise click.ClickException(
                    f"{kind} rows after id {after}: {exc}; {done} re-sealed so far"
                ) from None
            if batch.last_pk is None:
                break
            session.commit()
            done, skipped, after = done + batch.resealed, skipped + batch.skipped, batch.last_pk
            click.echo(f"{kind}s: {done}/{total} re-sealed under {vault.current}", err=True)
        resealed[kind] = done
        click.echo(
            f"{kind}s: {done} re-sealed, {skipped} changed meanwhile (already current), "
            f"{remaining(session, vault, kind)} left under other keys"
        )
    record_rotation(
        session,
        actor=Actor.system("cli:keys-rotate"),
        vault=vault,
        resealed=resealed,
        counts=key_counts(session),
    )
    session.commit()
