"""Dashboard and roster pages: the start page per role, the student list and search, a student's page (with
the audited full ID number for the school's own officer), and the roster import with errors beside the rows."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from flask import current_app, flash, redirect, render_template, request, url_for
from werkzeug.exceptions import Forbidden
from werkzeug.wrappers import Response

from aidservice import jobs, wiring
from aidservice.extensions import db
from aidservice.i18n_marker import N_
from aidservice.jobs import kinds
from aidservice.requestid import current_request_id
from aidservice.services import jobs as jobs_service
from aidservice.services.accounts import id_probes
from aidservice.services.actors import ADMIN_ROLES
from aidservice.services.errors import PayloadTooLarge, ValidationFailed
from aidservice.services.lists import downloads
from aidservice.services.lists import students as lists_students
from aidservice.services.roster import directory, import_guard, import_sheets, roster_import
from aidservice.unit_of_work import unit_of_work

from . import list_pages, regions
from .blueprint import bp
from .forms import ErrorSheetForm, IdLookupForm, ImportForm, PostForm
from .session import actor
from .ui import _

WRITERS = ("school_officer", *ADMIN_ROLES)
IMPORT_MAX_BYTES = 8 * 1024 * 1024
IMPORT_MAX_ROWS = 50_000
ROW_ERRORS_SHOWN = 500
ERROR_SHEET_INLINE_BYTES = 4 * 1024 * 1024
"""Largest error sheet the page carries as a download link (a bigger file: the background import's job page)."""
TEMPLATE_NAME = "学生名册导入模板.xlsx"
ERROR_SHEET_NAME = "导入错误说明.xlsx"


@bp.route("/")
def dashboard() -> str:
    return regions.dashboard_page()


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
                N_("未找到该身份证号对应的学生，或该学生不在您的管理范围内。"),
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
        return _import_page(form, None, 200 if request.method == "GET" else 422)
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
        report = _report(filename, data, exc, max_rows)
        form.file.errors = [*form.file.errors, *report.file_errors]
        return _import_page(form, {"written": False, "report": report}, 422)
    errors = roster_import.row_messages(result.rejected)
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
    report = import_sheets.import_report(
        filename, data, errors, wiring.settings().rules.facts, max_rows=max_rows, shown=ROW_ERRORS_SHOWN
    )
    return _import_page(ImportForm(formdata=None), {"written": True, "report": report}, 200)


def _report(
    filename: str, data: bytes, refused: ValidationFailed, max_rows: int
) -> import_sheets.ImportReport:
    total = refused.extra.get("total_errors")
    return import_sheets.import_report(
        filename,
        data,
        refused.errors,
        wiring.settings().rules.facts,
        max_rows=max_rows,
        shown=ROW_ERRORS_SHOWN,
        total_errors=total if isinstance(total, int) else None,
    )


def _import_page(form: ImportForm, outcome: dict[str, object] | None, status: int) -> tuple[str, int]:
    """The import page; an error sheet is offered as a download link of its own bytes (nothing kept on the
    server), with the officer's own numbers in it: the answer is never stored by a cache (no-store)."""
    report = outcome["report"] if outcome else None
    sheet = getattr(report, "workbook", None)
    link = None
    if sheet is not None and len(sheet) <= ERROR_SHEET_INLINE_BYTES:
        link = f"data:{import_sheets.XLSX_TYPE};base64,{base64.b64encode(sheet).decode()}"
    return render_template("web/import.html", form=form, outcome=outcome, error_sheet=link), status


@bp.route("/students/import/template")
def import_template() -> Response:
    """The import template (XLSX): Chinese headers, drop-down lists, a sheet of instructions."""
    if actor().role not in WRITERS:
        raise Forbidden(_("您没有权限查看此页面，或该数据不在您的管理范围内。"))
    return template_response(wiring.settings().rules.facts)


def template_response(facts: Mapping[str, Any]) -> Response:
    body = import_sheets.template_workbook(facts)
    response = Response(body, mimetype=import_sheets.XLSX_TYPE)
    response.headers["Content-Disposition"] = (
        f"attachment; filename=student-import-template.xlsx; filename*=UTF-8''{quote(TEMPLATE_NAME)}"
    )
    return response


@bp.route("/jobs/<int:job_id>/import-errors", methods=["POST"])
def job_error_sheet(job_id: int) -> Response | tuple[str, int]:
    """A background import's error sheet: the officer chooses the same file again (the job keeps no upload, it
    holds personal data); its SHA-256 must be the job's, and the job's stored problems are put in front of it."""
    job = jobs_service.get_job(db.session(), actor=actor(), job_id=job_id)
    if job.kind != kinds.IMPORT or actor().role not in WRITERS:
        raise Forbidden(_("您没有权限查看此页面，或该数据不在您的管理范围内。"))
    form = ErrorSheetForm()
    limit = int(current_app.config.get("AID_IMPORT_MAX_BYTES", IMPORT_MAX_BYTES))
    data = form.file.data.stream.read(limit + 1) if form.validate_on_submit() else b""
    if not data or hashlib.sha256(data).hexdigest() != job.params.get("sha256"):
        flash(_("所选文件与该导入任务的文件不同；请选择当时上传的同一文件。"), "error")
        return redirect(url_for("web.job", job_id=job_id))
    result = job.result or {}
    errors = result.get("errors") or roster_import.row_messages(
        [roster_import.RowError(e["row"], e["field"], e["message"]) for e in result.get("rejected", [])]
    )
    max_rows = int(current_app.config.get("AID_IMPORT_MAX_ROWS", IMPORT_MAX_ROWS))
    report = import_sheets.import_report(
        str(job.params.get("filename", "")),
        data,
        errors,
        wiring.settings().rules.facts,
        max_rows=max_rows,
        shown=0,
    )
    if report.workbook is None:
        flash(_("该导入任务没有逐行的错误可下载。"), "error")
        return redirect(url_for("web.job", job_id=job_id))
    response = Response(report.workbook, mimetype=import_sheets.XLSX_TYPE)
    response.headers["Content-Disposition"] = (
        f"attachment; filename=import-errors-{job_id}.xlsx; filename*=UTF-8''{quote(ERROR_SHEET_NAME)}"
    )
    return response


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
