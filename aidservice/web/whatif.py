"""/whatif: administrators compare draft rules with the running ones (a server draft or an uploaded ZIP, a date,
a region in scope) as a background job, and read the last results; auditors read them. The workbook lists
students with masked ID numbers, so officers get neither the page nor the file."""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import current_app, flash, redirect, render_template, request, url_for
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from werkzeug.exceptions import Forbidden
from werkzeug.wrappers import Response
from wtforms import SelectField, StringField

from aidservice import jobs, wiring
from aidservice.extensions import db
from aidservice.i18n_marker import N_
from aidservice.jobs import kinds
from aidservice.jobs.whatif_job import zip_limits
from aidservice.requestid import current_request_id
from aidservice.services import jobs as jobs_service
from aidservice.services.determinations import whatif_drafts, whatif_files
from aidservice.services.errors import NotFound, PayloadTooLarge, ValidationFailed
from aidservice.web.pages import whatif as page

from .blueprint import bp
from .jobs import status
from .session import actor
from .ui import _

NO_ACCESS = N_("您没有权限查看此页面，或该数据不在您的管理范围内。")


class WhatIfForm(FlaskForm):
    draft = SelectField(validate_choice=False)
    file = FileField()
    as_of = StringField()
    region = SelectField(validate_choice=False)


def _reader() -> None:
    if not whatif_files.may_download(actor()):
        raise Forbidden(_(NO_ACCESS))


@bp.route("/whatif", methods=["GET", "POST"])
def whatif_page() -> tuple[str, int] | str | Response:
    _reader()
    who = actor()
    form = WhatIfForm()
    session = db.session()
    drafts = whatif_drafts.list_drafts(current_app.config["AID_DRAFT_RULES_DIR"])
    form.draft.choices = [("", _("无草案（现行规则，结果应为无变化）")), *((d.name, d.name) for d in drafts)]
    form.region.choices = page.region_choices(session, who)
    if request.method == "GET":
        form.as_of.data = form.as_of.data or wiring.settings().default_as_of().isoformat()
        form.region.data = form.region.data or who.region_code
        return _render(form)
    if not who.is_admin:
        raise Forbidden(_(NO_ACCESS))
    if not form.validate_on_submit():
        return _render(form), 422
    try:
        job_id = _start(form)
    except (ValidationFailed, NotFound, PayloadTooLarge) as exc:
        session.rollback()
        _attach(form, exc)
        return _render(form), 422 if not isinstance(exc, PayloadTooLarge) else 413
    flash(_("模拟已开始；完成后本页显示结果。"), "info")
    return redirect(url_for("web.whatif_page", job=job_id))


def _start(form: WhatIfForm) -> int:
    who = actor()
    upload: Any = form.file.data  # a werkzeug FileStorage when a file was chosen
    data: bytes | None = None
    if upload is not None and upload.filename:
        limit = zip_limits(current_app.config).max_bytes
        data = upload.stream.read(limit + 1)
        if len(data) > limit:
            raise PayloadTooLarge(f"over {limit} bytes", {"file": [_("文件超过 {n} 字节。", n=limit)]})
    try:
        as_of = date.fromisoformat(form.as_of.data) if form.as_of.data else None
    except ValueError:
        raise ValidationFailed({"as_of": [_("请输入日期，如 2020-09-01。")]}) from None
    params, scope = kinds.prepare_whatif(
        db.session(),
        actor=who,
        settings=wiring.settings(),
        config=current_app.config,
        region=form.region.data or None,
        as_of=as_of,
        draft=form.draft.data or None,
        upload=(upload.filename, data) if data is not None else None,
    )
    return jobs.start(
        db.session(),
        actor=who,
        kind=kinds.WHATIF,
        params=params,
        scope=scope,
        key=None,
        payload=data,
        request_id=current_request_id(),
    )


def _attach(form: WhatIfForm, exc: ValidationFailed | NotFound | PayloadTooLarge) -> None:
    errors = exc.errors or {"draft": [exc.detail or str(exc)]}
    for key, messages in errors.items():
        field = form._fields.get(key) or form.draft
        field.errors = [*field.errors, *messages]


def _render(form: WhatIfForm) -> str:
    who, session = actor(), db.session()
    recent = [status(view) for view in page.recent_jobs(session, who)]
    chosen = request.args.get("job", type=int)
    shown = None
    if chosen is not None:
        try:
            view = jobs_service.job_view(jobs_service.get_job(session, actor=who, job_id=chosen))
        except NotFound:
            view = None
        if view is not None and view["kind"] == whatif_files.KIND:
            shown = status(view)
    elif recent:
        shown = next((job for job in recent if job["state"] == "done"), recent[0])
    result = page.result_view(session, shown, wiring.settings().rules) if shown else None
    return render_template(
        "web/whatif.html", form=form, recent=recent, shown=shown, view=result, may_run=who.is_admin
    )


@bp.route("/whatif/<int:job_id>.xlsx")
def whatif_download(job_id: int) -> Response:
    _reader()
    found = whatif_files.download(db.session(), actor=actor(), job_id=job_id)
    return Response(
        found.content,
        content_type=found.media_type,
        headers={
            "Content-Disposition": f'attachment; filename="{found.filename}"',
            "Cache-Control": "no-store",
        },
    )
