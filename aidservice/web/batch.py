"""Batch work on the applications list: the rows checked (or every application the list's filter matches), one
action (批量评议 / 批量公示 / 批量批准 / 批量不予认定) with one 审核意见, a confirmation naming how many and
which, and a result page (done, refused with the reason in Chinese, stale). The service applies each item in its
own savepoint (services.applications.batch)."""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, render_template, request, url_for
from flask_wtf import FlaskForm
from werkzeug.exceptions import Forbidden
from werkzeug.wrappers import Response
from wtforms import BooleanField, SelectField, TextAreaField

from aidservice import i18n, wiring
from aidservice.extensions import db
from aidservice.requestid import current_request_id
from aidservice.services.applications import batch
from aidservice.services.applications.values import NEEDS_REASON, NOTE_MAX
from aidservice.services.errors import ValidationFailed
from aidservice.services.lists import applications as lists
from aidservice.services.lists import filters
from aidservice.unit_of_work import unit_of_work

from .blueprint import bp
from .session import actor, current_actor
from .ui import _, language

BATCH_ACTIONS = ("review", "publish_notice", "approve", "reject")


class BatchForm(FlaskForm):
    """The list's batch form: the action (the button pressed), the shared note, the rows or all matching."""

    action = SelectField(choices=BATCH_ACTIONS, validate_choice=True)
    note = TextAreaField()
    all_matching = BooleanField()  # with the list's filter posted back (filters.KNOWN)


def batch_label(action: str) -> str:
    labels = {
        "review": _("批量评议"),
        "publish_notice": _("批量公示"),
        "approve": _("批量批准"),
        "reject": _("批量不予认定"),
    }
    return labels.get(action, action)


@bp.app_context_processor
def _batch_globals() -> dict[str, Any]:
    return {
        "batch_actions": BATCH_ACTIONS,
        "batch_label": batch_label,
        "may_batch": _may_batch,
        "list_args": list_args,
    }


def _may_batch() -> bool:
    who = current_actor()
    return who is not None and who.kind == "user" and who.role == "school_officer"


@bp.route("/applications/batch/confirm", methods=["POST"])
def batch_confirm() -> Response | tuple[str, int] | str:
    """What the officer is about to do: how many, which (names, masked ID numbers), the action and the note."""
    if not _may_batch():
        raise Forbidden(_("只有学校资助专员可以批量办理申请。"))
    form = BatchForm()
    problem = _form_problem(form)
    if problem is not None:
        return _back(form, problem)
    chosen = _chosen(form)
    if isinstance(chosen, str):
        return _back(form, chosen)
    return render_template(
        "web/batch_confirm.html",
        form=form,
        action=form.action.data,
        note=(form.note.data or "").strip(),
        rows=chosen,
    )


@bp.route("/applications/batch", methods=["POST"])
def batch_run() -> Response | tuple[str, int] | str:
    """Apply the confirmed batch and show each item's result."""
    if not _may_batch():
        raise Forbidden(_("只有学校资助专员可以批量办理申请。"))
    form = BatchForm()
    problem = _form_problem(form)
    items = _posted_items()
    if problem is not None or not items:
        return _back(form, problem or _("请至少选择一条申请。"))
    request_ = batch.BatchRequest(action=form.action.data, note=(form.note.data or "").strip(), items=items)
    try:
        with unit_of_work() as uow:
            results = batch.act_on_many(
                uow.session,
                actor=actor(),
                settings=wiring.settings(),
                request=request_,
                request_id=current_request_id(),
            )
    except ValidationFailed:
        return _back(form, _("无法办理：请检查所选申请和审核意见。"))
    shown = batch.selected(db.session(), actor=actor(), ids=[r.id for r in results])
    rows = [_result_row(r, shown.get(r.id)) for r in results]
    counts = {
        status: sum(1 for r in results if r.status == status) for status in ("done", "refused", "stale")
    }
    return render_template(
        "web/batch_result.html", action=form.action.data, rows=rows, counts=counts, note=request_.note
    )


def _form_problem(form: BatchForm) -> str | None:
    if not form.validate_on_submit():
        return _("请选择批量操作。")
    note = (form.note.data or "").strip()
    if len(note) > NOTE_MAX:
        return _("审核意见最多 2000 字。")
    if form.action.data in NEEDS_REASON and not note:
        return _("不予认定须填写审核意见。")
    return None


def _back(form: BatchForm, message: str) -> Response:
    flash(message, "error")
    back: dict[str, Any] = list_args()
    return redirect(url_for("web.application_list", **back))


def list_args() -> dict[str, str]:
    """The list's filter as posted back (known names only, bounded values): to return to the same list and to
    carry it through the confirmation."""
    return {k: v[:100] for k, v in request.form.items() if k in filters.KNOWN and k != "format" and v}


def _posted_items() -> list[batch.BatchItem]:
    """The `id:version` pairs posted (bounded, duplicates dropped, malformed ones ignored)."""
    items: dict[int, batch.BatchItem] = {}
    for value in request.form.getlist("ids")[: batch.BATCH_MAX]:
        left, _sep, right = value.partition(":")
        if left.isdigit() and right.isdigit() and len(left) < 10 and len(right) < 10:
            items.setdefault(int(left), batch.BatchItem(int(left), int(right)))
    return list(items.values())


def _chosen(form: BatchForm) -> list[dict[str, Any]] | str:
    """The applications to confirm: every one the list's filter matches (the list's own query), or the rows
    checked with the versions the list showed; a message when there are none or too many."""
    if form.all_matching.data:
        rows: list[dict[str, Any]] | str = _all_matching()
        if isinstance(rows, str):
            return rows
    else:
        items = _posted_items()
        shown = batch.selected(db.session(), actor=actor(), ids=[item.id for item in items])
        rows = [{**shown[item.id], "version": item.version} for item in items if item.id in shown]
    if not rows:
        return _("请至少选择一条申请。")
    return rows


def _all_matching() -> list[dict[str, Any]] | str:
    """Every application the list's filter (posted back as the list showed it) matches, through the list's own
    query (services.lists.applications), within the batch bound; a message otherwise."""
    settings = wiring.settings()
    posted = {k: v for k, v in list_args().items() if k != "page"}
    too_many = _("符合条件的申请超过 {max} 条，一次最多办理 {max} 条，请缩小筛选范围。", max=batch.BATCH_MAX)
    try:
        flt = filters.parse("applications", posted, settings.rules)
    except ValidationFailed:
        return _("筛选条件有误，请返回列表重新筛选。")
    try:
        ids = lists.matching_application_ids(
            db.session(), actor=actor(), settings=settings, flt=flt, school_year=settings.school_year
        )
    except ValidationFailed:  # more than the list's own bound match
        return too_many
    if len(ids) > batch.BATCH_MAX:
        return too_many
    shown = batch.selected(db.session(), actor=actor(), ids=ids)
    return [dict(shown[i]) for i in ids if i in shown]


def _result_row(result: batch.ItemResult, shown: batch.Selected | None) -> dict[str, Any]:
    return {
        "id": result.id,
        "status": result.status,
        "status_label": _status_label(result.status),
        "student": shown["student"] if shown is not None else None,
        "state": shown["state"] if shown is not None else None,
        "reason": None if result.status == "done" else reason_text(result.reason, result.context),
    }


def _status_label(status: str) -> str:
    return {"done": _("已办理"), "refused": _("未办理"), "stale": _("已被他人更新")}.get(status, status)


def reason_text(reason: str | None, context: dict[str, str]) -> str:
    """Why an item was not done, in the page's language."""
    state = i18n.label(i18n.STATES, context.get("state", ""), language())
    closes = i18n.format_date(context.get("closes_on"), language())
    texts = {
        "not_found": _("不在您的办理范围内"),
        "not_allowed": _("当前状态为“{state}”，不能办理此操作", state=state),
        "notice_open": _("公示期至 {date} 结束，期满后方可批准", date=closes),
        "nothing_to_publish": _("认定等级为“不困难”的申请不予公示"),
        "declarations_pending": _("申报的外省身份尚未核实，请先逐项核实"),
        "invalid": _("缺少办理所需的信息"),
        "stale": _("此申请已被他人更新，请刷新列表后重新选择"),
    }
    return texts.get(reason or "", _("无法办理"))
