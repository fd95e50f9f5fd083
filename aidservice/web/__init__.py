"""The officer web UI: server-rendered Jinja pages in Chinese (English on request), one stylesheet, no script.

Views are thin: they read the request (Flask-WTF forms, CSRF-checked), call the services with the signed-in
Actor and the request's Settings, commit once, and render. Personal data stays masked except on a student's
own page for the school's aid officer, who may read the full ID number (audited). The sign-in throttle and
the device tokens are the composition root's (aidservice.wiring), shared with the API's sign-in.
"""

from __future__ import annotations

from flask import Flask

from . import (  # noqa: F401 - the modules attach their routes
    account,
    applications,
    audit,
    auth,
    batch,
    declarations,
    jobs,
    list_pages,
    messages,
    notices,
    quotas,
    regions,
    reports,
    roster,
    rules,
    ui,
    whatif,
)
from .blueprint import bp, csrf


def register_web(app: Flask) -> None:
    """The `web` blueprint at /, its CSRF protection and filters."""
    csrf.init_app(app)
    ui.init_app(app)
    app.jinja_env.filters.update(page_message=messages.page_message, page_detail=messages.page_detail)
    app.register_blueprint(bp)
