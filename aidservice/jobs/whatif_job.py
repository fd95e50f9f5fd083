"""The `whatif` job: a draft rule set (a server draft folder or an uploaded ZIP) against the running rules.

`prepare_whatif` checks everything in the request: who asks (an administrator over the region), the draft
(it must load: a 422 lists every rule issue), the date (inside both rule sets' coverage: a 422 naming
`as_of`). The handler loads the draft again, evaluates the region twice and keeps the XLSX workbook with
the job (`job_files`); the job's result is the totals (no student, no ID number) and the download URL.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from aidservice.crypto import CannotOpen
from aidservice.engine import RuleSet
from aidservice.services.actors import Actor
from aidservice.services.context import Settings
from aidservice.services.determinations import whatif, whatif_drafts, whatif_files
from aidservice.services.determinations.evaluation_dates import redetermination_date, require_covered
from aidservice.services.determinations.region import count_students
from aidservice.services.determinations.whatif_xlsx import MEDIA_TYPE, compare_to_workbook
from aidservice.services.errors import Forbidden, ValidationFailed
from aidservice.services.jobs import Scope

from .execute import JobContext
from .payload import open_upload

WHATIF = whatif_files.KIND


def zip_limits(config: Any) -> whatif_drafts.ZipLimits:
    return whatif_drafts.ZipLimits(max_bytes=int(config.get("AID_WHATIF_ZIP_MAX_BYTES", 2 * 1024 * 1024)))


def prepare_whatif(
    session: Session,
    *,
    actor: Actor,
    settings: Settings,
    config: Any,
    region: str | None,
    as_of: date | None,
    draft: str | None,
    upload: tuple[str, bytes] | None,
) -> tuple[dict[str, Any], Scope]:
    """The job's parameters and scope, after every check the run would make (module docstring)."""
    if not actor.is_admin:
        raise Forbidden("Only administrators may compare draft rules with the running ones.")
    code = region or actor.region_code
    if not code or not (len(code) == 6 and code.isdigit()):
        raise ValidationFailed({"region": ["must be a 6-digit division code"]})
    if not actor.reaches_region(code):
        raise Forbidden(f"Region {code} is outside your scope.")
    if draft and upload is not None:
        raise ValidationFailed({"draft": ["give a draft folder's name or upload a ZIP, not both"]})
    ruleset: RuleSet | None = None
    params: dict[str, Any] = {"region": code, "draft": draft or None, "upload": None}
    if draft:
        ruleset = whatif_drafts.load_folder(whatif_drafts.draft_folder(config["AID_DRAFT_RULES_DIR"], draft))
    elif upload is not None:
        filename, data = upload
        ruleset = whatif_drafts.load_zip(data, zip_limits(config))
        params["upload"] = {
            "filename": filename[-128:],
            "size": len(data),
            "sha256": hashlib.sha256(data).hexdigest(),
        }
    running = settings.rules
    day = redetermination_date(settings, running, as_of, dry_run=True)
    if ruleset is not None:
        require_covered(ruleset, day)
    params |= {
        "as_of": day.isoformat(),
        "running_version": running.version,
        "draft_version": (ruleset or running).version,
    }
    return params, Scope(region=code)


def draft_of(ctx: JobContext) -> tuple[RuleSet | None, str | None]:
    """The draft the job compares (None: no draft) and the name it is shown by."""
    params = ctx.job.params
    if params.get("draft"):
        folder = whatif_drafts.draft_folder(ctx.config["AID_DRAFT_RULES_DIR"], params["draft"])
        return whatif_drafts.load_folder(folder), params["draft"]
    if params.get("upload"):
        if ctx.job.payload is None:
            raise ValidationFailed(
                {"file": ["the upload is no longer kept; send the file again with a new key"]}
            )
        try:
            data = open_upload(ctx.settings.ids, ctx.job.payload)
        except CannotOpen:
            raise ValidationFailed(
                {"file": ["the upload cannot be opened with the current keys; send it again"]}
            ) from None
        return whatif_drafts.load_zip(data, zip_limits(ctx.config)), params["upload"]["filename"]
    return None, None


def run_whatif(ctx: JobContext) -> dict[str, Any]:
    """Compare, keep the workbook with the job; return the summary (totals, no student) and the download URL."""
    params = ctx.job.params
    draft, name = draft_of(ctx)
    ctx.progress(0, count_students(ctx.session, params["region"]))
    ctx.checkpoint()
    handle, path = tempfile.mkstemp(suffix=".xlsx", prefix="aid-whatif-")
    os.close(handle)
    done = 0

    def progress(n: int) -> None:
        nonlocal done
        done += n
        ctx.progress(done)

    try:
        result = compare_to_workbook(
            ctx.session,
            path,
            actor=ctx.actor,
            settings=ctx.settings,
            draft=draft,
            draft_name=name,
            region=params["region"],
            as_of=date.fromisoformat(params["as_of"]),
            chunk=int(ctx.config.get("AID_REDETERMINE_CHUNK", 50_000)),
            progress=progress,
        )
        content = Path(path).read_bytes()
    finally:
        os.unlink(path)
    filename = f"whatif-{params['region']}-{params['as_of']}-job{ctx.job.id}.xlsx"
    whatif_files.keep(
        ctx.session, job_id=ctx.job.id, filename=filename, media_type=MEDIA_TYPE, content=content
    )
    summary = whatif.summary_of(result, rules_dir=name)  # the rules page reads it from the job (no file here:
    # a worker may run on another machine than the web pages)
    ctx.job.counts = {"students": result.students, "changing": result.totals()["students_changing"]}
    return {
        **summary,
        "download": f"/api/v1/whatif/{ctx.job.id}/xlsx",
        "filename": filename,
        "size": len(content),
    }


__all__ = ["WHATIF", "prepare_whatif", "run_whatif"]
