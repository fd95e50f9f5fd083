"""Keep every rule set the service has run with, so a decision can be replayed with its exact rules."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from aidservice.models import RuleSet


class VersionedRules(Protocol):
    """What publishing needs from a loaded rule set."""

    version: str


def publish_current(session: Session, ruleset: VersionedRules, files: Mapping[str, str]) -> bool:
    """Add the rule set unless its version is already stored; True when added. The caller commits.

    Checked with a key-only query: loading the stored files (every rule text) on each application costs more.
    """
    if session.execute(select(RuleSet.version).where(RuleSet.version == ruleset.version)).first() is not None:
        return False
    try:
        with session.begin_nested():  # a concurrent publisher of the same version is not an error
            session.add(RuleSet(version=ruleset.version, files=dict(files)))
    except IntegrityError:
        return False
    return True


def published_files(session: Session, version: str) -> dict[str, str] | None:
    """The files of a published version, {relative path: text}, or None when it was never published."""
    row = session.get(RuleSet, version)
    return None if row is None else dict(row.files)
