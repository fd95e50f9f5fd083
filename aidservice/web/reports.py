"""Report pages: the three kinds (special groups, programs, regions) with their charts, and their download as
XLSX or CSV, through the reports services (each generation is an audit event)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from itertools import islice
from typing import Any

from flask import Response, render_template, request, stream_with_context
from sqlalchemy.orm import Session

from aidservice import wiring
from aidservice.i18n_marker import N_
from aidservice.requestid import current_request_id
from aidservice.services import reports
from aidservice.services.errors import ValidationFailed
from aidservice.services.reports.common import Report, Section
from aidservice.services.reports.render import labelled_rows, layout, meta_lines
from aidservice.unit_of_work import unit_of_work
from aidservice.web.pages import report_page

from .blueprint import bp
from .forms import ReportForm
from .session import actor

ROWS_SHOWN = 200
DOWNLOAD_FORMATS = ("xlsx", "csv")
SECTION_KEY = re.compile(r"^[a-z_]{1,40}$")


def _semester_label() -> str:
    settings = wiring.settings()
    start = settings.default_as_of()
    return f"{settings.school_year}-{'autumn' if start.month == 9 else 'spring'}"


@bp.route("/reports")
def reports_page() -> tuple[str, int] | str:
    form = ReportForm(request.args)
    form.kind.choices = list(reports.KINDS)
    if not request.args.get("kind"):
        form.period.data = form.period.data or _semester_label()
        return render_template("web/reports.html", form=form, report=None), 200
    if not form.validate() or form.kind.data not in reports.KINDS:
        if form.kind.data not in reports.KINDS:
            form.kind.errors = [*form.kind.errors, N_("请选择报告类型。")]
        return render_template("web/reports.html", form=form, report=None), 422
    try:
        with unit_of_work() as uow:  # a refused period or region is rolled back and shown on the form
            report = report_page.view_report(
                uow.session,
                actor=actor(),
                settings=wiring.settings(),
                kind=form.kind.data,
                period=form.period.data or None,
                region=form.region.data or None,
                request_id=current_request_id(),
            )
            sections = [_section(report, s) for s in report.sections]
    except ValidationFailed as exc:
        for key, messages in exc.errors.items():
            field = form._fields.get(key) or form.period
            field.errors = [*field.errors, *messages]
        return render_template("web/reports.html", form=form, report=None), 422
    return render_template(
        "web/reports.html",
        form=form,
        report=report,
        meta=meta_lines(report),
        charts=[layout(c) for c in report.charts],
        sections=sections,
        formats=DOWNLOAD_FORMATS,
    )


@bp.route("/reports/<kind>/download")
def report_download(kind: str) -> Response:
    """The report as a file: XLSX (a sheet per section) or CSV (UTF-8 with BOM); streamed."""
    reports.check_kind(kind)
    fmt = request.args.get("format", "xlsx")
    if fmt not in DOWNLOAD_FORMATS:
        raise ValidationFailed({"format": [f"应为 {' 或 '.join(DOWNLOAD_FORMATS)}"]})
    section = request.args.get("section") or None  # one table alone (the unaided special-group students)
    if section is not None and not SECTION_KEY.fullmatch(section):
        raise ValidationFailed({"section": ["没有这个报告表格"]})
    # committed before streaming: the audit event is kept if the download is abandoned
    with unit_of_work() as uow:
        made = reports.generate(
            uow.session,
            actor=actor(),
            settings=wiring.settings(),
            kind=kind,
            period=request.args.get("period") or None,
            region=request.args.get("region") or None,
            fmt=fmt,
            request_id=current_request_id(),
            section=section,
        )
    session = uow.session  # the stream goes on reading after the view returns
    # stream_with_context: the rows are read while streaming, and the session needs the app context then
    # content_type, not mimetype: the media type names its charset already (werkzeug would add a second one)
    return Response(
        stream_with_context(_closing(made.chunks, session)),
        content_type=made.media_type,
        headers={"Content-Disposition": f'attachment; filename="{made.filename}"'},
    )


def _section(report: Report, section: Section) -> dict[str, Any]:
    rows = labelled_rows(report, section)
    shown = section.shown
    head = [[row[i] for i in shown] for row in islice(rows, ROWS_SHOWN)]
    more = sum(1 for _row in rows)
    return {
        "key": section.key,
        "title": section.title,
        "note": section.note,
        "columns": [section.columns[i] for i in shown],
        "rows": head,
        "more": more,
    }


def _closing(chunks: Iterator[bytes], session: Session) -> Iterator[bytes]:
    try:
        yield from chunks
    finally:
        session.close()
