"""Agency API clients: a token per client and source, shown once at creation and stored only as a hash."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from aidservice.models import ApiClient
from aidservice.services import audit
from aidservice.services.accounts.auth import CLIENT_TOKEN_PREFIX, new_token, now, token_digest
from aidservice.services.actors import Actor
from aidservice.services.errors import NotFound, ValidationFailed
from aidservice.services.plaintext import name_problem

NAME_MAX = 128
PREFIX_LENGTH = 12  # "aidc_" and 7 random characters: enough to tell tokens apart in a list, useless to guess


@dataclass(frozen=True, slots=True)
class NewClient:
    """A client just created and its token, which nobody can see again."""

    client: ApiClient
    token: str


def create_client(
    session: Session,
    *,
    actor: Actor,
    name: str,
    source: str,
    agencies: Sequence[str],
    expires_days: int | None = None,
    request_id: str | None = None,
) -> NewClient:
    """Register an agency client for one source, one of the rules' `agencies`; its token never reaches the
    database or the audit trail."""
    errors: dict[str, list[str]] = {}
    clean_name = name.strip()
    if not clean_name or len(clean_name) > NAME_MAX:
        errors["name"] = [f"must have 1-{NAME_MAX} characters"]
    elif (problem := name_problem(clean_name)) is not None:
        errors["name"] = [problem]
    if source not in agencies:
        errors["source"] = [f"must be one of {', '.join(agencies)}"]
    if expires_days is not None and expires_days <= 0:
        errors["expires_days"] = ["must be a positive number of days"]
    if errors:
        raise ValidationFailed(errors)
    token = new_token(CLIENT_TOKEN_PREFIX)
    client = ApiClient(
        name=clean_name,
        source=source,
        token_hash=token_digest(token),
        token_prefix=token[:PREFIX_LENGTH],
        created_at=now(),
        expires_at=None if expires_days is None else now() + timedelta(days=expires_days),
    )
    session.add(client)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="client.create",
        subject=f"client:{client.id}",
        summary={
            "name": clean_name,
            "source": source,
            "token_prefix": client.token_prefix,
            "expires_at": client.expires_at.isoformat() if client.expires_at else None,
        },
        request_id=request_id,
    )
    return NewClient(client, token)


def revoke_client(session: Session, *, actor: Actor, client_id: int, request_id: str | None = None) -> bool:
    """Revoke a client's token at once; False when it was already revoked. Audited."""
    client = session.get(ApiClient, client_id)
    if client is None:
        raise NotFound(f"no client {client_id}")
    if client.revoked_at is not None:
        return False
    client.revoked_at = now()
    audit.record(
        session,
        actor=actor,
        action="client.revoke",
        subject=f"client:{client.id}",
        summary={"name": client.name, "source": client.source, "token_prefix": client.token_prefix},
        request_id=request_id,
    )
    return True


def list_clients(session: Session) -> list[ApiClient]:
    """Every client, oldest first (for `aid client list`; tokens are not stored, so never shown)."""
    return list(session.execute(select(ApiClient).order_by(ApiClient.id)).scalars())
