"""Application pages: the list, a new application (facts with their sources, declared facts, the signed
commitment), one application with its result and explanation, the procedure's buttons, and the public notice."""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from aidservice import wiring
from aidservice.extensions import db
from aidservice.requestid import current_request_id
from aidservice.services import audit
from aidservice.services.applications import actions, notices, reading, submission
from aidservice.services.applications.values import ActionRequest
from aidservice.services.errors import Conflict, ValidationFailed
from aidservice.services.lists import applications as lists
from aidservice.services.lists import downloads
from aidservice.services.roster import directory
from aidservice.services.standing.standing import standing_of_application
from aidservice.unit_of_work import unit_of_work

from . import list_pages
from .action_steps import page_steps
from .blueprint import bp
from .declarations import declarable_choices, verify_forms
from .forms import ActionForm, ApplicationForm, application_form
from .session import actor
from .ui import _


@bp.route("/applications")
def application_list() -> Response | tuple[str, int] | str:
    """The school year's applications: filter, search, sort, pages; `format=xlsx|csv` downloads the filter's rows."""
    made = list_pages.screen("applications")
    fmt = list_pages.download_format()
    if fmt is not None and not made.errors:
        return list_pages.exported(downloads.application_export, made.flt, fmt)
    settings = wiring.settings()
    result = None
    if not made.errors:
        result = lists.page(
            db.session(), actor=actor(), settings=settings, flt=made.flt, school_year=settings.school_year
        )
    return render_template(
        "web/applications.html",
        screen=made,
        flt=made.flt,
        result=result,
        page_numbers=list_pages.page_numbers,
    ), (422 if made.errors else 200)


@bp.route("/students/<student_id>/apply", methods=["GET", "POST"])
def apply(student_id: str) -> Response | tuple[str, int] | str:
    settings = wiring.settings()
    start = directory.application_start(db.session(), actor=actor(), settings=settings, student_id=student_id)
    form = application_form(settings.rules)()
    if request.method == "GET":
        return _apply_page(start, form)
    if not form.validate_on_submit():
        return _apply_page(start, form, status=422)
    payload = {
        "student_id": student_id,
        "school_year": settings.school_year,
        "declared": form.declared(),
        "commitment_signed": bool(form.commitment.data),
        "out_of_province": form.out_of_province(),
    }
    try:
        with unit_of_work() as uow:
            application = submission.create_application(
                uow.session,
                actor=actor(),
                settings=settings,
                payload=payload,
                request_id=current_request_id(),
            )
            application_id = application.id
    except ValidationFailed as exc:
        general = _attach(form, exc.errors)
        return _apply_page(start, form, status=422, general=general)
    except Conflict as exc:
        return _apply_page(start, form, status=409, general=[_("该学生本学年已有申请。") + " " + exc.detail])
    flash(_("申请已提交并完成认定。"), "ok")
    return redirect(url_for("web.application", application_id=application_id))


def _apply_page(
    start: directory.ApplicationStart,
    form: ApplicationForm,
    status: int = 200,
    general: list[str] | None = None,
) -> tuple[str, int]:
    return render_template(
        "web/apply.html",
        start=start,
        form=form,
        general=general or [],
        declared_booleans=form.declared_booleans,
        claimable=form.claimable,
        declarable=declarable_choices(),
    ), status


def _attach(form: Any, errors: dict[str, list[str]]) -> list[str]:
    """Service messages next to their fields; those no field matches are returned for the top of the form."""
    general = []
    for key, messages in errors.items():
        field = form.field_for(key) if hasattr(form, "field_for") else form._fields.get(key)
        if field is None:
            general.extend(f"{key}: {m}" for m in messages)
        else:
            field.errors = [*field.errors, *messages]
    return general


@bp.route("/applications/<int:application_id>")
def application(application_id: int) -> tuple[str, int] | str:
    return _application_page(application_id)


@bp.route(
    "/applications/<int:application_id>/<any(review, publish_notice, object, resolve, approve, reject, reassess):action>",
    methods=["POST"],
)
def act(application_id: int, action: str) -> Response | tuple[str, int] | str:
    form = ActionForm(action)
    if not form.validate_on_submit():
        return _application_page(application_id, failed=form, status=422)
    settings = wiring.settings()
    version = int(form.version.data)
    note = (form.note.data or "").strip()
    request_ = ActionRequest(
        action=action,
        version=version,
        note=note,
        level=form.level.data or None,
        outcome=form.outcome.data or None,
    )
    try:
        with unit_of_work() as uow:
            actions.act(
                uow.session,
                actor=actor(),
                settings=settings,
                application_id=application_id,
                request=request_,
                request_id=current_request_id(),
            )
    except ValidationFailed as exc:
        form.general = _attach(form, exc.errors)
        return _application_page(application_id, failed=form, status=422)
    except Conflict as exc:
        return _application_page(
            application_id, failed=form, status=409, conflict=_conflict_message(exc, version)
        )
    flash(_("操作已完成：{action}。", action=_label_action(action)), "ok")
    return redirect(url_for("web.application", application_id=application_id))


def _conflict_message(exc: Conflict, seen: int) -> dict[str, Any]:
    stale = "version" in exc.errors
    return {"stale": stale, "seen": seen, "detail": exc.detail}


def _label_action(action: str) -> str:
    from aidservice import i18n

    from .ui import language

    return i18n.label(i18n.ACTIONS, action, language())


def _application_page(
    application_id: int,
    *,
    failed: ActionForm | None = None,
    status: int = 200,
    conflict: dict[str, Any] | None = None,
) -> tuple[str, int]:
    settings = wiring.settings()
    view = reading.get_application(
        db.session(), actor=actor(), settings=settings, application_id=application_id
    )
    facts = directory.fact_rows(db.session(), settings, view["facts"])
    found = standing_of_application(db.session(), application_id)  # the student's one answer (scope: above)
    forms = {}
    if actor().role == "school_officer":
        for action in view["allowed_actions"]:
            if failed is not None and failed.action_name == action and conflict is None:
                forms[action] = failed
            else:
                form = ActionForm(action, formdata=None)
                form.version.data = str(view["version"])
                if failed is not None and failed.action_name == action:
                    form.note.data = failed.note.data  # keep what was typed; the version is the new one
                    form.level.data = failed.level.data
                    form.outcome.data = failed.outcome.data
                forms[action] = form
    return render_template(
        "web/application.html",
        app=view,
        standing=None if found is None else found.view(),
        facts=facts,
        forms=forms,
        verify_forms=verify_forms(view, actor()),
        steps=page_steps(view, settings.current_date()) if forms else [],
        conflict=conflict,
        failed_action=failed.action_name if failed is not None else None,
        may_replay=audit.browses_everything(actor()),
    ), status


@bp.route("/schools/<school_code>/notices/<int:notice_id>")
def notice(school_code: str, notice_id: int) -> str:
    data = notices.get_notice(
        db.session(),
        actor=actor(),
        settings=wiring.settings(),
        school_code=school_code,
        notice_id=notice_id,
    )
    return render_template("web/notice.html", notice=data)
