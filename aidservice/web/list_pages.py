"""The roster's and the applications' list pages: the filter of the query string (services.lists.filters, the
parser the API uses), the page of rows, sort links, page numbers with jump-to-page, and the downloads.

A download is the list page's own URL with `format=xlsx` or `format=csv`: the very query string of the screen,
so the file holds the filter's rows (every page of them). The approved list with amounts and a notice have
routes of their own. Every download is audited (services.lists.export)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from flask import Response, request
from werkzeug.datastructures import MultiDict

from aidservice import wiring
from aidservice.engine.result import LEVELS
from aidservice.extensions import db
from aidservice.models.application import STATES
from aidservice.requestid import current_request_id
from aidservice.services.applications import notices
from aidservice.services.errors import ValidationFailed
from aidservice.services.lists import choices, downloads, filters
from aidservice.services.lists.export import EXPORT_FORMATS, Export
from aidservice.services.lists.search import may_search_tails
from aidservice.unit_of_work import unit_of_work

from .blueprint import bp
from .session import actor


@dataclass(slots=True)
class ListScreen:
    """What a list page's filter form needs: the filter (or the default on an error), the typed values, the
    errors by field and the choices of the selects (codes; the template labels them)."""

    flt: filters.ListFilter
    values: Mapping[str, str]
    errors: dict[str, list[str]] = field(default_factory=dict)
    states: tuple[str, ...] = STATES
    levels: tuple[str, ...] = LEVELS
    groups: tuple[str, ...] = ()
    stages: tuple[str, ...] = ()
    tails: bool = False  # the search takes the last 4 or 6 characters of the ID number
    regions: list[choices.RegionChoice] = field(default_factory=list)  # administrators and auditors only
    schools: list[choices.SchoolChoice] = field(default_factory=list)
    more_schools: bool = False


def screen(kind: filters.Kind) -> ListScreen:
    """The list's filter from the request, or the default filter and the errors by field."""
    rules = wiring.settings().rules
    args = {k: v for k, v in request.args.items() if k in filters.KNOWN}
    full_number = filters.ID_LIKE.fullmatch((args.get("q") or "").strip())
    values = {**args, "q": ""} if full_number else args  # never echo a full number back
    stage = rules.facts.get("stage")
    made = ListScreen(
        flt=filters.ListFilter(kind=kind),
        values=MultiDict(values),
        groups=rules.vocabulary.group_statuses,
        stages=tuple(stage.values) if stage is not None else (),
        tails=may_search_tails(actor()),
    )
    try:
        made.flt = filters.parse(kind, args, rules)
    except ValidationFailed as exc:
        made.errors = {k: list(v) for k, v in exc.errors.items()}
    offered = choices.filter_choices(db.session(), actor=actor(), region=made.flt.region)
    made.regions, made.schools, made.more_schools = (
        offered["regions"],
        offered["schools"],
        offered["more_schools"],
    )
    return made


def download_format() -> str | None:
    """csv or xlsx when the list page is asked for its file; None for the page."""
    fmt = request.args.get("format")
    if fmt is None:
        return None
    if fmt not in EXPORT_FORMATS:
        raise ValidationFailed({"format": [f"应为 {' 或 '.join(EXPORT_FORMATS)}"]})
    return fmt


def send(made: Export) -> Response:
    return Response(
        made.content,
        content_type=made.media_type,
        headers={"Content-Disposition": f'attachment; filename="{made.filename}"'},
    )


Maker = Callable[..., Export]


def exported(maker: Maker, flt: filters.ListFilter, fmt: str) -> Response:
    """The filter's rows as a file, its audit event committed first."""
    with unit_of_work() as uow:
        made = maker(
            uow.session,
            actor=actor(),
            settings=wiring.settings(),
            flt=flt,
            fmt=fmt,
            request_id=current_request_id(),
        )
    return send(made)


@bp.route("/applications/approved")
def approved_download() -> Response:
    """The approved list with amounts (funded and 名额不足 unfunded apart) of the applications page's filter."""
    made = screen("applications")
    if made.errors:
        raise ValidationFailed(made.errors)
    return exported(downloads.approved_export, made.flt, download_format() or "xlsx")


@bp.route("/schools/<school_code>/notices/<int:notice_id>/download")
def notice_download(school_code: str, notice_id: int) -> Response:
    """A notice's list (公示名单: name, class, level) as XLSX or CSV."""
    fmt = download_format() or "xlsx"
    settings = wiring.settings()
    with unit_of_work() as uow:
        notice = notices.get_notice(
            uow.session, actor=actor(), settings=settings, school_code=school_code, notice_id=notice_id
        )
        made = downloads.notice_export(
            uow.session, actor=actor(), notice=notice, fmt=fmt, request_id=current_request_id()
        )
    return send(made)


def page_numbers(page: int, pages: int, around: int = 2) -> list[int | None]:
    """The page links to show: the first, the last, and those around the current one (None: a gap)."""
    shown = sorted({1, pages, *range(max(1, page - around), min(pages, page + around) + 1)})
    out: list[int | None] = []
    for n in shown:
        last = out[-1] if out else None
        if last is not None and n - last > 1:
            out.append(None)
        out.append(n)
    return out
