"""The administrators' regions: a region's page drilling down (province → city → county → school → the school's
roster, scope-checked by `pages.drilldown`), and re-determining the administrator's own region from the start
page as the background job the API starts (`jobs.kinds.prepare_redetermine`), confirmed and with a reason
kept in the audit trail; then the job's page with its progress."""

from __future__ import annotations

from flask import flash, redirect, render_template, url_for
from werkzeug.exceptions import Forbidden
from werkzeug.wrappers import Response

from aidservice import jobs, wiring
from aidservice.extensions import db
from aidservice.i18n_marker import N_
from aidservice.jobs import kinds
from aidservice.requestid import current_request_id
from aidservice.services import audit
from aidservice.services.errors import ValidationFailed
from aidservice.web.pages import dashboard as dashboard_service
from aidservice.web.pages import drilldown

from .blueprint import bp
from .forms import RedetermineForm
from .messages import page_message
from .session import actor
from .ui import _

NO_ACCESS = N_("您没有权限查看此页面，或该数据不在您的管理范围内。")


@bp.route("/regions/<code>")
def region_page(code: str) -> str:
    """A region's next level down, with a breadcrumb back up to the caller's own region."""
    view = drilldown.drilldown(
        db.session(), actor=actor(), code=code, school_year=wiring.settings().school_year
    )
    return render_template("web/region.html", drill=view)


@bp.route("/regions/redetermine", methods=["POST"])
def redetermine() -> Response | tuple[str, int]:
    """Start re-determining the administrator's region; the job's page follows its progress."""
    who = actor()
    if not who.is_admin or not who.region_code:
        raise Forbidden(_(NO_ACCESS))
    form = RedetermineForm()
    if not form.validate_on_submit():
        return dashboard_page(form), 422
    session = db.session()
    try:
        params, scope = kinds.prepare_redetermine(
            session, actor=who, settings=wiring.settings(), region=who.region_code, as_of=None
        )
    except ValidationFailed as exc:
        session.rollback()
        for messages in exc.errors.values():
            form.reason.errors = [*form.reason.errors, *(page_message(m) for m in messages)]
        return dashboard_page(form), 422
    audit.record(  # the reason: the job's own event (job.enqueued) names its parameters, not why
        session,
        actor=who,
        action="redetermine.requested",
        subject=f"region:{who.region_code}",
        summary={"reason": form.reason.data, "source": "web"},
        request_id=current_request_id(),
    )
    job_id = jobs.start(
        session,
        actor=who,
        kind=kinds.REDETERMINE,
        params=params,
        scope=scope,
        key=None,
        request_id=current_request_id(),
    )
    flash(_("重新认定已开始；本页显示进度。"), "info")
    return redirect(url_for("web.job", job_id=job_id), 303)


def dashboard_page(form: RedetermineForm | None = None) -> str:
    """The start page; administrators and auditors get their region's drill-down, administrators the button."""
    who, session, settings = actor(), db.session(), wiring.settings()
    data = dashboard_service.dashboard(session, actor=who, settings=settings)
    drill = None
    if data["kind"] == "region":
        top = drilldown.top_region(who)
        drill = drilldown.drilldown(session, actor=who, code=top, school_year=settings.school_year)
    if form is None and who.is_admin:
        form = RedetermineForm()
    return render_template("web/dashboard.html", data=data, drill=drill, redetermine=form)
