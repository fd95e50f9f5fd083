"""The what-if job's workbook: kept with the job (`job_files`), downloaded by an administrator over the job's
region or an auditor. The workbook lists students (masked ID numbers), so an officer never gets it even
when the job itself is in their scope."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from sqlalchemy.orm import Session

from aidservice.models import JobFile
from aidservice.services.actors import Actor
from aidservice.services.errors import Forbidden
from aidservice.services.hidden import not_found
from aidservice.services.jobs import get_job

KIND = "whatif"


@dataclass(frozen=True, slots=True)
class Download:
    filename: str
    media_type: str
    content: bytes


def keep(session: Session, *, job_id: int, filename: str, media_type: str, content: bytes) -> JobFile:
    """Store the job's file (replacing one an earlier attempt left)."""
    row = session.get(JobFile, job_id) or JobFile(job_id=job_id)
    row.filename, row.media_type, row.content = filename, media_type, content
    row.size, row.content_hash = len(content), hashlib.sha256(content).hexdigest()
    session.add(row)
    session.flush()
    return row


def may_download(actor: Actor) -> bool:
    return actor.is_admin or actor.is_auditor


def download(session: Session, *, actor: Actor, job_id: int) -> Download:
    """The workbook of a what-if job the actor may see: 403 for an officer, 404 outside their scope or before
    the job has finished."""
    if not may_download(actor):
        raise Forbidden("Only administrators and auditors may download a what-if workbook.")
    job = get_job(session, actor=actor, job_id=job_id)
    row = session.get(JobFile, job.id) if job.kind == KIND else None
    if row is None:
        raise not_found("what-if workbook")
    return Download(row.filename, row.media_type, row.content)
