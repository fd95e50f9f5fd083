"""The officer web UI: server-rendered Jinja pages in Chinese (English on request), one stylesheet, no script.

Views are thin: they read the request (Flask-WTF forms, CSRF-checked), call the services with the signed-in
Actor and the request's Settings, commit once, and render. Personal data stays masked except on a student's
own page for the school's aid officer, who may read the full ID number (audited).
"""

from __future__ import annotations

from flask import Flask

GUARD_KEY = "aid_login_guard"
DEVICES_KEY = "aid_device_tokens"


def register_web(app: Flask) -> None:
    """The `web` blueprint at /, its CSRF protection, login throttle, device tokens and filters."""
    from aidservice.extensions import db
    from aidservice.services.devices import DeviceTokens
    from aidservice.services.throttle import guard_from_config

    from . import applications, auth, jobs, reports, roster, rules, ui  # noqa: F401 - the modules attach their routes
    from .blueprint import bp, csrf

    csrf.init_app(app)
    app.extensions[GUARD_KEY] = guard_from_config(app.config, lambda: db.session())
    app.extensions[DEVICES_KEY] = DeviceTokens(app.config["SECRET_KEY"])
    ui.init_app(app)
    app.register_blueprint(bp)
