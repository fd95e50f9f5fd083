"""Dashboard and roster pages: the start page per role, the student list and search, a student's page (with
the audited full ID number for the school's own officer), and the roster import with errors beside the rows."""

from __future__ import annotations

from flask import current_app, flash, redirect, render_template, request, url_for
from werkzeug.exceptions import Forbidden
from werkzeug.wrappers import Response

from aidservice import jobs, wiring
from aidservice.extensions import db
from aidservice.jobs import kinds
from aidservice.requestid import current_request_id
from aidservice.services.accounts import id_probes
from aidservice.services.actors import ADMIN_ROLES
from aidservice.services.errors import PayloadTooLarge, ValidationFailed
from aidservice.services.lists import downloads
from aidservice.services.lists import students as lists_students
from aidservice.services.roster import directory, import_guard, roster_import
from aidservice.unit_of_work import unit_of_work
from aidservice.web.pages import dashboard as dashboard_service

from . import list_pages
from .blueprint import bp
from .forms import IdLookupForm, ImportForm, PostForm
from .session import actor
from .ui import _

WRITERS = ("school_officer", *ADMIN_ROLES)
IMPORT_MAX_BYTES = 8 * 1024 * 1024
IMPORT_MAX_ROWS = 50_000
ROW_ERRORS_SHOWN = 500


@bp.route("/")
def dashboard() -> str:
    data = dashboard_service.dashboard(db.session(), actor=actor(), settings=wiring.settings())
    return render_template("web/dashboard.html", data=data)


@bp.route("/students")
def students() -> Response | tuple[str, int] | str:
    """The roster: filter, search (name, student number, class; the school's officer also the last 4 or 6
    characters of the ID number), sort, pages; `format=xlsx|csv` downloads the filter's rows."""
    made = list_pages.screen("students")
    fmt = list_pages.download_format()
    if fmt is not None and not made.errors:
        return list_pages.exported(downloads.student_export, made.flt, fmt)
    if made.errors:
        return _students_page(made, None, 422)
    result = lists_students.page(db.session(), actor=actor(), settings=wiring.settings(), flt=made.flt)
    return _students_page(made, result, 200)


@bp.route("/students/lookup", methods=["POST"])
def student_lookup() -> Response | tuple[str, int]:
    """Open a student's page by full ID number (school officers, county administrators; audited, budgeted)."""
    if not id_probes.may_look_up(actor()):
        with unit_of_work() as uow:  # the refused try stays in the audit trail
            refused = id_probes.refuse_lookup(
                uow.session,
                actor=actor(),
                id_number=request.form.get("id_number"),
                request_id=current_request_id(),
            )
        raise Forbidden(
            _("按身份证号查找仅限学校资助专员和县级管理员；请按姓名、学校或班级搜索。")
        ) from refused
    lookup = IdLookupForm()
    status = 422
    if lookup.validate_on_submit():
        try:
            # the audit event and a miss's count; a locked account's refused try stays in the audit trail too
            with unit_of_work(commit_on=(id_probes.LookupsLocked,)) as uow:
                found = id_probes.find_by_id_number(
                    uow.session,
                    actor=actor(),
                    settings=wiring.settings(),
                    budget=wiring.id_probe_budget(),
                    id_number=lookup.id_number.data,
                    request_id=current_request_id(),
                )
        except ValidationFailed as exc:
            lookup.id_number.errors = [*lookup.id_number.errors, *exc.errors.get("id_number", [])]
        else:
            if found is not None:
                return redirect(url_for("web.student", student_id=found))
            lookup.id_number.errors = [
                *lookup.id_number.errors,
                "未找到该身份证号对应的学生，或该学生不在您的管理范围内。",
            ]
            status = 404
    lookup.id_number.data = ""  # never echo a full number back
    return _students_page(list_pages.screen("students"), None, status, lookup=lookup)


def _students_page(
    screen: list_pages.ListScreen,
    result: lists_students.StudentPage | None,
    status: int,
    lookup: IdLookupForm | None = None,
) -> tuple[str, int]:
    return render_template(
        "web/students.html",
        screen=screen,
        flt=screen.flt,
        page_numbers=list_pages.page_numbers,
        result=result,
        lookup=lookup or IdLookupForm(),
        may_import=actor().role in WRITERS,
        may_look_up=id_probes.may_look_up(actor()),
    ), status


@bp.route("/students/<student_id>")
def student(student_id: str) -> str:
    page = directory.student_page(
        db.session(), actor=actor(), settings=wiring.settings(), student_id=student_id
    )
    return render_template("web/student.html", page=page, form=PostForm(), full_id=None)


@bp.route("/students/<student_id>/id-number", methods=["POST"])
def student_id_number(student_id: str) -> str:
    """Show the full ID number: POST, because the read is recorded in the audit trail."""
    settings = wiring.settings()
    with unit_of_work() as uow:
        full = directory.reveal_id_number(
            uow.session,
            actor=actor(),
            settings=settings,
            student_id=student_id,
            request_id=current_request_id(),
        )
        page = directory.student_page(uow.session, actor=actor(), settings=settings, student_id=student_id)
    return render_template("web/student.html", page=page, form=PostForm(), full_id=full)


@bp.route("/students/import", methods=["GET", "POST"])
def import_students() -> tuple[str, int] | str:
    if actor().role not in WRITERS:
        raise Forbidden(_("您没有权限查看此页面，或该数据不在您的管理范围内。"))
    form = ImportForm()
    if request.method == "GET" or not form.validate_on_submit():
        return render_template(
            "web/import.html", form=form, outcome=None
        ), 200 if request.method == "GET" else 422
    upload = form.file.data
    limit = int(current_app.config.get("AID_IMPORT_MAX_BYTES", IMPORT_MAX_BYTES))
    data = upload.stream.read(limit + 1)
    if len(data) > limit:
        raise PayloadTooLarge(f"The file is larger than the import limit of {limit} bytes.")
    filename = upload.filename or ""
    budget = wiring.id_probe_budget()
    id_probes.check_not_locked(
        actor(), budget, fail_open=True
    )  # 429: its rows would answer "taken or not" for each number
    if form.background.data or len(data) > int(current_app.config.get("AID_IMPORT_ASYNC_BYTES", limit)):
        return _background_import(filename, data, bool(form.partial.data))
    max_rows = int(current_app.config.get("AID_IMPORT_MAX_ROWS", IMPORT_MAX_ROWS))
    try:
        # on a refusal nothing of the file is written; the audit event and the charges of its taken rows are
        with unit_of_work(commit_on=(id_probes.LookupsLocked, ValidationFailed)) as uow:
            result = import_guard.import_charged(
                uow.session,
                actor=actor(),
                settings=wiring.settings(),
                budget=budget,
                channel="web import",
                filename=filename,
                data=data,
                partial=bool(form.partial.data),
                max_rows=max_rows,
                request_id=current_request_id(),
            )
    except ValidationFailed as exc:
        rows = directory.rejected_rows(filename, data, exc.errors, max_rows=max_rows, shown=ROW_ERRORS_SHOWN)
        for message in rows.file_errors:
            form.file.errors = [*form.file.errors, message]
        return render_template("web/import.html", form=form, outcome={"written": False, "rows": rows}), 422
    errors = roster_import.row_messages(result.rejected)
    rows = directory.rejected_rows(filename, data, errors, max_rows=max_rows, shown=ROW_ERRORS_SHOWN)
    flash(
        _(
            "导入完成：新增 {created} 人，更新 {updated} 人，未变 {unchanged} 人。",
            created=result.created,
            updated=result.updated,
            unchanged=result.unchanged,
        ),
        "ok",
    )
    if not result.rejected:
        return redirect(url_for("web.students"))
    return render_template(
        "web/import.html", form=ImportForm(formdata=None), outcome={"written": True, "rows": rows}
    ), 200


def _background_import(filename: str, data: bytes, partial: bool) -> Response:
    """Start the import as a background job and show its page (progress, then the result)."""
    params, scope = kinds.prepare_import(
        db.session(), actor=actor(), filename=filename, data=data, partial=partial
    )
    job_id = jobs.start(
        db.session(),
        actor=actor(),
        kind=kinds.IMPORT,
        params=params,
        scope=scope,
        key=None,
        payload=data,
        request_id=current_request_id(),
    )
    flash(_("已在后台开始导入，完成后本页显示结果。"), "info")
    return redirect(url_for("web.job", job_id=job_id))
