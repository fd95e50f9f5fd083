"""The `audit.verify` job: walk the audit chain against its checkpoints and record the outcome in the chain.

Started from the auditor's page (/audit, 立即校验); the job's result is the outcome (no personal data).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from aidservice.services import audit_trail
from aidservice.services.actors import Actor
from aidservice.services.jobs import Scope

from .execute import JobContext

VERIFY = "audit.verify"


def prepare_verify(session: Session, *, actor: Actor) -> tuple[dict[str, Any], Scope]:
    """Only the trail's readers start it; it touches the whole province (no region)."""
    audit_trail.require_reader(actor)
    return {}, Scope()


def run_verify(ctx: JobContext) -> dict[str, Any]:
    ctx.progress(0, 1)
    ctx.checkpoint()
    job = ctx.job
    outcome = audit_trail.verify_and_record(ctx.session, actor=ctx.actor, request_id=f"job-{job.id}")
    ctx.session.add(job)  # the chain is read in pages that detach what they read, the job row too
    ctx.progress(1)
    return {
        "checked": outcome.checked,
        "intact": outcome.intact,
        "broken_seq": outcome.broken_seq,
        "reason": outcome.reason,
    }
