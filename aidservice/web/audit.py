"""/audit: the auditor's page (also the province administrators', who read every subject in the API too): the
trail filtered and paged, the chain's state and a verification started as a job; and replaying a decision from
the application page (POST /decisions/<id>/replay), recorded in the trail."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from werkzeug.exceptions import Forbidden
from werkzeug.wrappers import Response

from aidservice import jobs, wiring
from aidservice.extensions import db
from aidservice.i18n_marker import N_
from aidservice.jobs import kinds
from aidservice.requestid import current_request_id
from aidservice.services import audit, audit_trail
from aidservice.services.errors import ValidationFailed
from aidservice.services.people import actor_names
from aidservice.unit_of_work import unit_of_work
from aidservice.web.pages import audit_page as page

from .blueprint import bp
from .session import actor
from .ui import _

NO_ACCESS = N_("您没有权限查看此页面，或该数据不在您的管理范围内。")
FILTER_FIELDS = ("subject", "actor", "action", "since", "until")
FIELD_ERRORS = {
    "since": N_("请输入日期，如 2020-09-01。"),
    "until": N_("结束日期不能早于开始日期，格式如 2020-09-01。"),
    "subject": N_("内容过长。"),
    "actor": N_("内容过长。"),
    "action": N_("内容过长。"),
}


def _reader() -> None:
    if not audit.browses_everything(actor()):
        raise Forbidden(_(NO_ACCESS))


@bp.route("/audit")
def audit_page() -> tuple[str, int] | str:
    _reader()
    raw = {name: request.args.get(name, "")[:200] for name in FILTER_FIELDS}
    session, who = db.session(), actor()
    errors: dict[str, str] = {}
    try:
        filters = audit_trail.check_filter(raw)
    except ValidationFailed as exc:
        errors = {name: _(FIELD_ERRORS[name]) for name in exc.errors or {}}
        filters = audit_trail.TrailFilter()
    found = audit_trail.search(
        session, actor=who, filters=filters, page=request.args.get("page", 1, type=int) or 1
    )
    names = actor_names(session, [row.actor for row in found.rows], wiring.settings().rules.vocabulary)
    html = render_template(
        "web/audit.html",
        raw=raw,
        errors=errors,
        events=[page.event_view(row, names) for row in found.rows],
        found=found,
        chain=page.chain_view(audit_trail.chain_state(session, actor=who)),
        actions=page.action_choices(),
        job_id=request.args.get("job", type=int),
    )
    return (html, 422) if errors else html


@bp.route("/audit/verify", methods=["POST"])
def audit_verify() -> Response:
    _reader()
    who = actor()
    params, scope = kinds.prepare_verify(db.session(), actor=who)
    job_id = jobs.start(
        db.session(),
        actor=who,
        kind=kinds.VERIFY,
        params=params,
        scope=scope,
        key=None,
        request_id=current_request_id(),
    )
    flash(_("校验已在后台开始。"), "info")
    return redirect(url_for("web.audit_page", job=job_id))


@bp.route("/decisions/<int:decision_id>/replay", methods=["POST"])
def decision_replay(decision_id: int) -> str:
    _reader()
    with unit_of_work() as uow:
        replayed = audit_trail.replay_recorded(
            uow.session,
            actor=actor(),
            settings=wiring.settings(),
            decision_id=decision_id,
            request_id=current_request_id(),
        )
    view = replayed.view
    return render_template(
        "web/replay.html",
        decision_id=decision_id,
        application_id=replayed.application_id,
        identical=view["identical"],
        differences=page.differences(view["differences"]),
        content_hash_matches=view["content_hash_matches"],
    )
