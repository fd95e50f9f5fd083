"""The notices page (/notices): a school's open and closed notices with their revisions and print links, and
what its notices print (监督电话, 落款) for the school's officer and the administrators of its region to set.
Officers see their own school; administrators and auditors pick a school of their scope."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from aidservice import wiring
from aidservice.extensions import db
from aidservice.i18n_marker import N_
from aidservice.requestid import current_request_id
from aidservice.services.applications import notice_settings, notices
from aidservice.services.errors import ValidationFailed
from aidservice.unit_of_work import unit_of_work

from .blueprint import bp
from .forms import NoticeSettingsForm
from .session import actor
from .ui import _

FIELD_MESSAGES = {
    "contact_phone": N_(
        "监督电话须为手机号码、带区号的固定电话（如 025-83456789，可加分机号）或 7 至 8 位本地号码。"
    ),
    "signoff": N_("落款须为 2 至 60 个字的一行文字。"),
}
"""The service's field errors, as the page says them."""


@bp.route("/notices")
def notices_page() -> tuple[str, int]:
    return _page(request.args.get("school"))


def _page(school: str | None, form: NoticeSettingsForm | None = None, status: int = 200) -> tuple[str, int]:
    session = db.session()
    choices = notice_settings.schools_in_scope(session, actor=actor())
    code = (school or "").strip() or (choices[0]["code"] if choices else "")
    if not code:
        return render_template("web/notices.html", choices=choices, school=None), status
    current = notice_settings.get_settings(session, actor=actor(), school_code=code)  # 404 outside the scope
    listed = notices.list_notices(session, actor=actor(), settings=wiring.settings(), school_code=code)
    history = {
        item["id"]: notices.get_notice(
            session, actor=actor(), settings=wiring.settings(), school_code=code, notice_id=item["id"]
        )["revisions"]
        for item in listed["items"]
    }
    if form is None:
        form = NoticeSettingsForm(
            formdata=None,
            school_code=code,
            contact_phone=current["contact_phone"],
            signoff=current["signoff"],
        )
    return render_template(
        "web/notices.html",
        choices=choices,
        school=current,
        items=listed["items"],
        history=history,
        form=form,
    ), status


@bp.route("/notices/settings", methods=["POST"])
def notice_settings_save() -> Response | tuple[str, int]:
    form = NoticeSettingsForm()
    if not form.validate_on_submit():
        if not form.school_code.data:
            abort(400)
        return _page(form.school_code.data, form, 422)
    try:
        with unit_of_work() as uow:
            notice_settings.update_settings(
                uow.session,
                actor=actor(),
                school_code=form.school_code.data,
                contact_phone=form.contact_phone.data or "",
                signoff=form.signoff.data or "",
                request_id=current_request_id(),
            )
    except ValidationFailed as exc:
        for name in exc.errors:
            field = getattr(form, name, None)
            if field is not None:
                field.errors = [FIELD_MESSAGES.get(name, N_("请检查此项。"))]
        return _page(form.school_code.data, form, 422)
    flash(_("公示的监督电话和落款已保存。"), "ok")
    return redirect(url_for("web.notices_page", school=form.school_code.data), 303)


@bp.route("/schools/<school_code>/notices/<int:notice_id>/revisions/<int:number>")
def notice_revision(school_code: str, notice_id: int, number: int) -> str:
    """One revision of a notice, printable, as it was published."""
    data = notices.get_revision(
        db.session(),
        actor=actor(),
        settings=wiring.settings(),
        school_code=school_code,
        notice_id=notice_id,
        number=number,
    )
    return render_template("web/notice.html", notice=data)
