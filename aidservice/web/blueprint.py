"""The web blueprint: every form POST is checked for its CSRF token, every page but the login page needs a login."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, request, url_for
from flask_wtf.csrf import CSRFError, CSRFProtect
from werkzeug.exceptions import BadRequest
from werkzeug.wrappers import Response

from aidservice.i18n_marker import N_

from .session import current_actor, login_expired
from .ui import _

bp = Blueprint("web", __name__)
csrf = CSRFProtect()
PUBLIC_ENDPOINTS = frozenset({"web.login"})
CSRF_MESSAGE = N_("表单已过期或来源无法验证，请返回上一页、刷新后重试。")


@bp.before_request
def _protect() -> Response | None:
    """CSRF first (a forged POST never reaches a view), then the login."""
    if request.method not in ("GET", "HEAD", "OPTIONS"):
        try:
            csrf.protect()
        except CSRFError:
            raise BadRequest(_(CSRF_MESSAGE)) from None
    if request.endpoint in PUBLIC_ENDPOINTS:
        return None
    if current_actor() is None:
        flash(_("登录已过期，请重新登录。") if login_expired() else _("请先登录。"), "info")
        target = request.full_path if request.method == "GET" else None
        return redirect(url_for("web.login", next=target.rstrip("?") if target else None))
    return None
