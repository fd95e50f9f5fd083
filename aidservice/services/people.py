"""Who did something, as officers read it: a user by name and role (officer1（学校资助专员）), an agency client by
its source's label from the rules, the service itself as 系统. Every page that shows an actor uses `actor_names`.

Actor ids are the audit trail's (`Actor.label`): `user:<username>`, `client:<id>:<name>`, `system:<name>`.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from aidservice.engine.vocabulary import Vocabulary
from aidservice.i18n import ROLES
from aidservice.i18n_marker import N_
from aidservice.models import User
from aidservice.models.agency import ApiClient

SYSTEM_NAME = N_("系统")
UNKNOWN_CLIENT = N_("部门数据接口")


def actor_names(session: Session, actor_ids: Iterable[str | None], vocabulary: Vocabulary) -> dict[str, str]:
    """{actor id: how a page names it}, with one query per kind of actor."""
    ids = {a for a in actor_ids if a}
    users = {a.partition(":")[2] for a in ids if a.startswith("user:")}
    clients = {_client_id(a) for a in ids if a.startswith("client:")} - {None}
    roles: dict[str, str] = {}
    sources: dict[int | None, str] = {}
    if users:
        found = session.execute(select(User.username, User.role).where(User.username.in_(users)))
        roles = {username: role for username, role in found}
    if clients:
        agencies = session.execute(select(ApiClient.id, ApiClient.source).where(ApiClient.id.in_(clients)))
        sources = {client_id: source for client_id, source in agencies}
    return {a: _name(a, roles, sources, vocabulary) for a in ids}


def _client_id(actor_id: str) -> int | None:
    head = actor_id.split(":")[1] if actor_id.count(":") >= 1 else ""
    return int(head) if head.isdigit() else None


def _name(
    actor_id: str, roles: dict[str, str], sources: dict[int | None, str], vocabulary: Vocabulary
) -> str:
    kind, _, rest = actor_id.partition(":")
    if kind == "user":
        role = roles.get(rest)
        return f"{rest}（{ROLES.get(role, role)}）" if role else rest
    if kind == "client":
        source = sources.get(_client_id(actor_id))
        found = vocabulary.source(source) if source else None
        return found.label if found is not None else UNKNOWN_CLIENT
    if kind == "system":
        return SYSTEM_NAME
    return actor_id
