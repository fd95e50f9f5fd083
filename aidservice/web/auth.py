"""Sign in and out of the web UI; failed sign-ins are throttled per device, per account's unrecognised devices
and per address (services.throttle), the browser's device cookie telling a known device (web.session)."""

from __future__ import annotations

from contextlib import suppress

from flask import flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from aidservice.ratelimit import rate_limited
from aidservice.requestid import current_request_id
from aidservice.services.accounts import accounts
from aidservice.services.accounts.auth import AuthenticationFailed
from aidservice.services.accounts.throttle import TooManyAttempts
from aidservice.services.errors import NotFound
from aidservice.unit_of_work import unit_of_work
from aidservice.wiring import device_tokens, login_guard

from . import session as web_session
from .blueprint import bp
from .forms import LoginForm, PostForm
from .ui import _


@bp.route("/login", methods=["GET", "POST"])
@rate_limited("login")  # POST only: a sign-in attempt
def login() -> Response | tuple[str, int] | tuple[str, int, dict[str, str]] | str:
    if web_session.current_actor() is not None and request.method == "GET":
        return redirect(url_for("web.dashboard"))
    form = LoginForm()
    if request.method == "GET":
        form.next.data = web_session.safe_next(request.args.get("next")) or ""
    if not form.validate_on_submit():
        return render_template("web/login.html", form=form), 200 if request.method == "GET" else 422
    try:
        # a failure commits its count (database throttle); a failed sign-in writes nothing else
        with unit_of_work(commit_on=(AuthenticationFailed,)) as uow:
            result = accounts.login(
                uow.session,
                username=form.username.data.strip(),
                password=form.password.data,
                address=request.remote_addr,
                guard=login_guard(),
                request_id=current_request_id(),
                devices=device_tokens(),
                device_tokens=web_session.device_tokens(),
            )
    except AuthenticationFailed:
        return render_template("web/login.html", form=form, failure=_("用户名或密码错误。")), 401
    except TooManyAttempts as exc:
        failure = _("登录失败次数过多，请 {minutes} 分钟后再试。", minutes=exc.minutes)
        if exc.reason == "account":
            failure += " " + _("在以前登录过的设备上仍可登录。")
        return (
            render_template("web/login.html", form=form, failure=failure),
            429,
            {"Retry-After": str(exc.retry_after)},
        )
    web_session.remember(result)
    response = redirect(web_session.safe_next(form.next.data) or url_for("web.dashboard"))
    return web_session.remember_device(response, result.device_token)


@bp.route("/logout", methods=["POST"])
def logout() -> Response:
    PostForm()  # the CSRF token was checked by the blueprint
    token = web_session.token()
    if token:
        with suppress(NotFound), unit_of_work() as uow:  # NotFound: the login had ended already (rolled back)
            accounts.logout(
                uow.session, actor=web_session.actor(), token=token, request_id=current_request_id()
            )
    web_session.forget()
    flash(_("您已退出登录。"), "info")
    return redirect(url_for("web.login"))
