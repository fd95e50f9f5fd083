"""The application page's steps (services.applications.availability) with their reasons in the page's language:
a step that cannot be taken now is shown disabled with why, and when it becomes possible."""

from __future__ import annotations

from datetime import date
from typing import Any

from aidservice import i18n
from aidservice.services.applications.availability import StepAvailability, steps
from aidservice.services.applications.views import ApplicationView

from .ui import _, language


def page_steps(view: ApplicationView, today: date) -> list[dict[str, Any]]:
    """Each step the page shows: its action, whether it is allowed, and the reason text when it is not."""
    return [{**step, "reason_text": reason_text(step)} for step in steps(view, today)]


def reason_text(step: StepAvailability) -> str | None:
    lang = language()
    reason = step["reason"]
    if reason is None:
        return None
    if reason == "notice_open" and step["possible_from"] is not None:
        return _(
            "公示期至 {date} 结束，{start} 起可批准。",
            date=i18n.format_date(step["closes_on"], lang),
            start=i18n.format_date(step["possible_from"], lang),
        )
    if reason == "notice_over":
        return _(
            "公示期已于 {date} 结束，只能在公示期内登记异议。", date=i18n.format_date(step["closes_on"], lang)
        )
    if reason == "nothing_to_publish":
        return _("认定等级为“不困难”的申请不予公示：请在评议时调整等级，或不予认定。")
    if reason == "declarations_pending":
        return _("申报的外省身份尚未核实：请先逐项核实或不予核实，再评议。")
    needs = "、".join(i18n.label(i18n.STATES, s, lang) for s in step["needs"])
    return _(
        "当前状态为“{state}”；此操作须在“{needs}”状态下办理。",
        state=i18n.label(i18n.STATES, step["state"], lang),
        needs=needs,
    )
