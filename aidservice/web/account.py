"""Every signed-in user's own pages: /account/password (change one's password) and /help (操作指南 per role).

The password change is services.accounts.password_change (throttled like a sign-in, audited, every other
session ended); this view keeps the browser signed in with the new session and shows each broken rule of
services.passwords in the page's words beside the field. /help is a template of short texts; the view only
orders the sections (the user's own first) and builds the links.
"""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_wtf import FlaskForm
from werkzeug.routing import BuildError
from werkzeug.wrappers import Response
from wtforms import PasswordField
from wtforms.validators import DataRequired, EqualTo, Length

from aidservice.i18n_marker import N_
from aidservice.ratelimit import rate_limited
from aidservice.requestid import current_request_id
from aidservice.services.accounts import passwords
from aidservice.services.accounts.accounts import LoginResult
from aidservice.services.accounts.auth import AuthenticationFailed
from aidservice.services.accounts.password_change import Attempt, WeakPassword, change_password
from aidservice.services.accounts.throttle import TooManyAttempts
from aidservice.unit_of_work import unit_of_work
from aidservice.wiring import device_tokens, login_guard

from . import session as web_session
from .blueprint import bp
from .session import actor
from .ui import _

RULE_TEXTS = {
    "too_short": N_("至少 {n} 个字符。"),
    "too_long": N_("最多 {n} 个字符。"),
    "only_digits": N_("不能全是数字。"),
    "one_kind": N_("至少包含两类字符：小写字母、大写字母、数字、符号。"),
    "has_username": N_("不能包含用户名。"),
    "common": N_("这是常见密码，请另选一个。"),
    "guessable": N_("太容易被猜到（键盘序列、重复、连续字符或常用词），请用由不常见词语组成的较长短语。"),
}
"""Each rule of services.passwords (by its code) as the page says it; `{n}` is the rule's number."""
RULE_NUMBERS = {"too_short": passwords.MIN_LENGTH, "too_long": passwords.MAX_LENGTH}
SECTIONS = ("school", "admin", "auditor")
ROLE_SECTION = {
    "school_officer": "school",
    "county_admin": "admin",
    "city_admin": "admin",
    "province_admin": "admin",
    "auditor": "auditor",
}
HELP_LINKS = {
    "import": ("web.import_students", "/students/import"),
    "template": ("web.import_template", "/students/import/template"),
    "students": ("web.students", "/students"),
    "applications": ("web.application_list", "/applications"),
    "approved": ("web.approved_download", "/applications/approved"),
    "reports": ("web.reports_page", "/reports"),
    "dashboard": ("web.dashboard", "/"),
    "quotas": ("web.quotas_page", "/quotas"),
    "jobs": ("web.jobs", "/jobs"),
    "whatif": ("web.whatif_page", "/whatif"),
    "rules": ("web.rules", "/rules"),
    "audit": ("web.audit_page", "/audit"),
}
"""Each step's page: its endpoint, or the path when the endpoint is not in this build (the audit pages)."""


class PasswordChangeForm(FlaskForm):
    current = PasswordField(validators=[DataRequired(N_("请输入当前密码")), Length(max=passwords.MAX_LENGTH)])
    new = PasswordField(validators=[DataRequired(N_("请输入新密码")), Length(max=passwords.MAX_LENGTH)])
    repeat = PasswordField(
        validators=[DataRequired(N_("请再次输入新密码")), EqualTo("new", N_("两次输入的新密码不一致"))]
    )


def rule_messages(codes: list[str]) -> list[str]:
    """The broken rules in the page's language."""
    return [_(RULE_TEXTS[code], n=RULE_NUMBERS.get(code, "")) for code in codes]


@bp.route("/account/password", methods=["GET", "POST"])
@rate_limited("login")  # POST only: it checks a password
def account_password() -> Response | tuple[str, int] | tuple[str, int, dict[str, str]]:
    form = PasswordChangeForm()
    if not form.validate_on_submit():
        return _password_page(form, 200 if request.method == "GET" else 422)
    try:
        with unit_of_work(commit_on=(AuthenticationFailed,)) as uow:  # a wrong password's count stays
            changed = change_password(
                uow.session,
                actor=actor(),
                current=form.current.data,
                new=form.new.data,
                attempt=Attempt(
                    request.remote_addr, login_guard(), device_tokens(), web_session.device_tokens()
                ),
                request_id=current_request_id(),
            )
    except AuthenticationFailed:
        form.current.errors = [_("当前密码不正确。")]
        return _password_page(form, 422)
    except WeakPassword as exc:
        form.new.errors = rule_messages(exc.rules)
        return _password_page(form, 422)
    except TooManyAttempts as exc:
        form.current.errors = [_("密码错误次数过多，请 {minutes} 分钟后再试。", minutes=exc.minutes)]
        page, status = _password_page(form, 429)
        return page, status, {"Retry-After": str(exc.retry_after)}
    web_session.remember(LoginResult(changed.token, changed.expires_at, changed.user))
    flash(_("密码已修改。"), "ok")
    return redirect(url_for("web.account_password"), 303)


def _password_page(form: PasswordChangeForm, status: int) -> tuple[str, int]:
    rules = rule_messages(["too_short", "one_kind", "has_username", "common", "guessable"])
    return render_template("web/account_password.html", form=form, rules=rules), status


@bp.route("/help")
def help_page() -> str:
    own = ROLE_SECTION.get(actor().role or "", "school")
    order = [own, *(s for s in SECTIONS if s != own)]
    return render_template("web/help.html", sections=order, own=own, links=_links())


def _links() -> dict[str, str]:
    links = {}
    for name, (endpoint, path) in HELP_LINKS.items():
        try:
            links[name] = url_for(endpoint)
        except BuildError:
            links[name] = path
    return links
