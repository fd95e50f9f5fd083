"""An application's history: one row per action (who, when, from which state to which, the officer's note)
and the action's audit event, written in the caller's transaction.

The audit trail keeps a hash of the officer's note, not its text (it may describe the family).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy.orm import Session

from aidservice.models import Application, ApplicationAction
from aidservice.services import audit
from aidservice.services.actors import Actor
from aidservice.services.applications.values import now, sha256_text


def record_action(
    session: Session,
    application: Application,
    *,
    actor: Actor,
    action: str,
    from_state: str,
    note: str,
    details: Mapping[str, Any],
    summary: Mapping[str, Any],
    request_id: str | None,
) -> None:
    """The history row and the audit event of one action, in the caller's transaction."""
    session.add(
        ApplicationAction(
            application_id=application.id,
            action=action,
            from_state=from_state,
            to_state=application.state,
            version=application.version,
            note=note,
            details=dict(details),
            actor=actor.label,
            at=now(),
        )
    )
    student_id = application.student.student_id  # loaded with the application or by the caller: no query
    audit.record(
        session,
        actor=actor,
        action=f"application.{action}",
        subject=f"student:{student_id}",
        summary={
            "application_id": application.id,
            "from_state": from_state,
            "to_state": application.state,
            "version": application.version,
            "note_sha256": sha256_text(note) if note else None,
            **summary,
        },
        request_id=request_id,
    )
    session.flush()
