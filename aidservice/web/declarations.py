"""Out-of-province declarations in the officer UI: the statuses the form offers (from the rule set), and the
school officer's 核实 / 不予核实 buttons on the application page, before review."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import flash, redirect, url_for
from werkzeug.wrappers import Response

from aidservice import wiring
from aidservice.i18n_marker import N_
from aidservice.requestid import current_request_id
from aidservice.services.actors import Actor
from aidservice.services.applications import declarations
from aidservice.services.applications.declaration_views import status_label
from aidservice.services.errors import Conflict, ValidationFailed
from aidservice.unit_of_work import unit_of_work

from .blueprint import bp
from .forms import VerifyForm
from .session import actor
from .ui import _

RESULT_LABELS = {"verified": N_("核实"), "rejected": N_("不予核实")}


def declarable_choices() -> list[tuple[str, str]]:
    """(status, label) of every status the rule set lets a student declare from another province."""
    rules = wiring.settings().rules
    return [
        (status, status_label(rules, source, status))
        for status, source in declarations.declarable(rules).items()
    ]


def verify_forms(view: Mapping[str, Any], who: Actor) -> dict[int, VerifyForm]:
    """A form per pending declaration, for the school's officer while the application is submitted."""
    if (
        who.role != "school_officer"
        or view["state"] != "submitted"
        or "review" not in view["allowed_actions"]
    ):
        return {}
    forms = {}
    for item in view["out_of_province"]:
        if item["state"] == "pending":
            form = VerifyForm(formdata=None, prefix=f"decl{item['id']}")
            form.version.data = str(view["version"])
            forms[item["id"]] = form
    return forms


@bp.route(
    "/applications/<int:application_id>/declarations/<int:declaration_id>/<any(verified, rejected):result>",
    methods=["POST"],
)
def verify_declaration(application_id: int, declaration_id: int, result: str) -> Response:
    """核实 or 不予核实 one declaration; the page shows what happened (a refusal's reason in Chinese)."""
    form = VerifyForm(prefix=f"decl{declaration_id}")
    back = redirect(url_for("web.application", application_id=application_id) + "#declarations")
    if not form.validate_on_submit():
        for messages in form.errors.values():
            for message in messages:
                flash(_(str(message)), "error")
        return back
    try:
        with unit_of_work() as uow:
            declarations.verify(
                uow.session,
                actor=actor(),
                settings=wiring.settings(),
                application_id=application_id,
                declaration_id=declaration_id,
                request=declarations.VerifyRequest(
                    result, int(form.version.data), (form.note.data or "").strip()
                ),
                request_id=current_request_id(),
            )
    except ValidationFailed as exc:
        for messages in exc.errors.values():
            for message in messages:
                flash(_("无法办理") + "：" + message, "error")
        return back
    except Conflict as exc:
        flash(_("无法办理") + "：" + exc.detail, "error")
        return back
    flash(_("操作已完成：{action}。", action=_(RESULT_LABELS[result])), "ok")
    return back
