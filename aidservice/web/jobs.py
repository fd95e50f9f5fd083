"""Background jobs in the UI: the list and a job's page with progress (polled by static/jobs.js), and the status
JSON the script reads; the roster import starts background imports (roster.py)."""

from __future__ import annotations

from flask import jsonify, render_template, request
from werkzeug.wrappers import Response

from aidservice import i18n
from aidservice.extensions import db
from aidservice.services import jobs as jobs_service

from .blueprint import bp
from .session import actor
from .ui import _, language

PAGE_SIZE = 50


class JobStatus(jobs_service.JobView):
    """A job view with the labels a page shows (and the status script reads)."""

    state_label: str
    kind_label: str
    done: int
    total: int | None
    percent: int | None
    progress_text: str
    finished: bool
    status_url: str


@bp.route("/jobs")
def jobs() -> str:
    state = request.args.get("state") or None
    listed = jobs_service.list_jobs(
        db.session(), actor=actor(), state=state if state in jobs_service.STATES else None, limit=PAGE_SIZE
    )
    return render_template(
        "web/jobs.html", jobs=[status(view) for view in listed["items"]], total=listed["total"]
    )


@bp.route("/jobs/<int:job_id>")
def job(job_id: int) -> str:
    view = jobs_service.job_view(jobs_service.get_job(db.session(), actor=actor(), job_id=job_id))
    return render_template("web/job.html", job=status(view))


@bp.route("/jobs/<int:job_id>/status")
def job_status(job_id: int) -> Response:
    """What the page's script needs to move a progress bar: state, numbers and the texts in the page's language."""
    view = jobs_service.job_view(jobs_service.get_job(db.session(), actor=actor(), job_id=job_id))
    shown = status(view)
    return jsonify(
        {
            name: shown[name]
            for name in (
                "id",
                "state",
                "state_label",
                "done",
                "total",
                "percent",
                "progress_text",
                "finished",
            )
        }
    )


def status(view: jobs_service.JobView) -> JobStatus:
    """A job view with the labels a page shows."""
    lang = language()
    progress = view["progress"]
    total = progress["total"]
    text = (
        _("{done} / {total}", done=progress["done"], total=total)
        if total is not None
        else _("{done} / 未知", done=progress["done"])
    )
    return {
        **view,
        "state_label": i18n.label(i18n.JOB_STATES, view["state"], lang),
        "kind_label": i18n.label(i18n.JOB_KINDS, view["kind"], lang),
        "done": progress["done"],
        "total": total,
        "percent": progress["percent"],
        "progress_text": text,
        "finished": view["state"] in ("done", "failed"),
        "status_url": f"/jobs/{view['id']}/status",
    }
