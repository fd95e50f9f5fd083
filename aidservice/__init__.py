"""aidservice: the Jiangsu student financial-aid eligibility service.

Imports inside the functions below are deliberate: `import aidservice.engine` (batch workers,
benchmarks, property tests) must not pull in Flask, SQLAlchemy and the API layer.
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from flask import Flask

    from aidservice.config import Config


def create_app(config: Config | None = None, *, offline: bool | None = None, web: bool = True) -> Flask:
    """Build the app; loads the rule set (refusing to start if broken) but never touches the schema.

    `offline` builds only the rules and the commands, for batch commands that never serve a request
    or open the database; by default it is decided from the `flask` command line (aidservice.startup).
    `web=False` leaves out the officer web UI: the JSON API alone, with the same protections (sign-in
    throttle, rate limits, security headers), which the composition root (aidservice.wiring) builds.
    """
    from flask import Flask

    from aidservice.config import load_config

    if offline is None:
        offline = _offline_process()
    app = Flask(__name__)
    app.config.from_object(config if config is not None else load_config())
    app.json.sort_keys = False  # keep the documented field order in responses
    app.extensions["aid_offline"] = offline
    register_logging(app)
    warn_if_development(app)
    load_rule_set(app)
    if not offline:
        register_extensions(app)
        if not _skips_key_check():
            check_keys(app)
        register_json_bodies(app)
        register_i18n(app, web=web)
        register_blueprints(app, web=web)
        register_wiring(app)
        register_error_handlers(app)
        register_request_hooks(app)
        register_metrics(app)
        register_security(app)
    register_commands(app)
    return app


def _offline_process() -> bool:
    """This process is the `flask` (or `aid`) command line running a batch command listed in aidservice.startup."""
    import sys

    from aidservice.startup import flask_arguments, is_offline_command, running_flask_cli

    return running_flask_cli() and is_offline_command(flask_arguments(sys.argv))


def register_logging(app: Flask) -> None:
    """JSON log lines with request ids and an access line per request (first, so its timer sees everything)."""
    from aidservice.logs import register_logging as register

    register(app)


def _skips_key_check() -> bool:
    """This process is the `flask` command line running a migration or `aid keys generate` (aidservice.startup)."""
    import sys

    from aidservice.startup import flask_arguments, running_flask_cli, skips_key_check

    return running_flask_cli() and skips_key_check(flask_arguments(sys.argv))


def warn_if_development(app: Flask) -> None:
    """The development configuration says so loudly on every start (aidservice/refusal.py)."""
    from aidservice.refusal import warn_if_development as warn

    warn(app.config)


def check_keys(app: Flask) -> None:
    """The keys match the fingerprints the database recorded, or KeysMismatch names the wrong one (keycheck.py)."""
    from aidservice.keycheck import check_app_keys

    check_app_keys(app)


def load_rule_set(app: Flask) -> None:
    """Load the rules once; every request and command of this process uses this one set."""
    from aidservice.rulesets import load_or_refuse, warn_outside_coverage

    app.extensions["aid_rules"] = ruleset = load_or_refuse(app.config["AID_RULES_DIR"])
    warn_outside_coverage(app.config["AID_SCHOOL_YEAR"], ruleset)


def register_extensions(app: Flask) -> None:
    """Bind database and migrations to this app (the API binds its Api in register_api)."""
    from aidservice.extensions import db
    from aidservice.migrations import register_lazy_migrations
    from aidservice.models import Base  # noqa: F401 - every table registered before Alembic looks

    _ensure_sqlite_folder(app.config["SQLALCHEMY_DATABASE_URI"])
    db.init_app(app)
    _check_idle_connections(app)
    register_lazy_migrations(app)


def _check_idle_connections(app: Flask) -> None:
    """Ping pooled connections that sat idle before use (aidservice.dbpool), on every engine of this app."""
    from aidservice.dbpool import ping_idle_connections
    from aidservice.extensions import db

    with app.app_context():
        for engine in db.engines.values():
            ping_idle_connections(engine, app.config.get("AID_DB_PING_IDLE_SECONDS", 10))


def _ensure_sqlite_folder(uri: str) -> None:
    """SQLite creates the file but not its folder (instance/ is not in git); both are made private here (0600)."""
    from sqlalchemy.engine import make_url

    from aidservice.extensions import private_sqlite_file

    url = make_url(uri)
    database = url.database or ""
    if (
        url.get_backend_name() == "sqlite"
        and database not in ("", ":memory:")
        and not database.startswith("file:")
    ):
        private_sqlite_file(database)


def register_json_bodies(app: Flask) -> None:
    """Request bodies parsed within bounds (depth, size, numbers), before any hook or view reads one."""
    from aidservice.jsonbody import init_json_bodies

    init_json_bodies(app)


def register_i18n(app: Flask, *, web: bool = True) -> None:
    """Flask-Babel over the catalogues in aidservice/translations (i18n.TRANSLATIONS): the locale of a request is
    the UI language the web UI chose (web.ui.babel_locale: ?lang=, the session, AID_UI_LANGUAGE), Chinese without
    the web UI. Before the blueprints: the web UI's own `_` (with `{name}` placeholders) replaces the Jinja `_`
    Flask-Babel installs; `{% trans %}` and flask_babel.gettext read the same catalogues."""
    from flask_babel import Babel

    from aidservice import i18n

    selector = None
    if web:
        from aidservice.web.ui import babel_locale

        selector = babel_locale
    Babel(
        app,
        default_locale=i18n.catalogue(i18n.DEFAULT_LANGUAGE),
        default_translation_directories=str(i18n.TRANSLATIONS),
        default_timezone=i18n.JIANGSU_ZONE,
        locale_selector=selector,
    )


def register_blueprints(app: Flask, *, web: bool = True) -> None:
    """The JSON API under /api/v1 and its locally served docs; the officer web UI at / (unless `web` is false)."""
    from aidservice.api import register_api
    from aidservice.web import register_web

    register_api(app)
    if web:
        register_web(app)


def register_wiring(app: Flask) -> None:
    """The composition root: sign-in throttle, device tokens, per-address rate limits of the anonymous routes
    (after the blueprints: it wraps their marked views), the job runner and what jobs need (aidservice.wiring)."""
    from aidservice.wiring import init_app

    init_app(app)


def register_error_handlers(app: Flask) -> None:
    """One central handler for every error."""
    from aidservice import errors

    errors.register_error_handlers(app)


def register_request_hooks(app: Flask) -> None:
    """Per-request plumbing: the request id that ties a response to its log lines."""
    from aidservice.requestid import init_request_id

    init_request_id(app)


def register_metrics(app: Flask) -> None:
    """Requests counted and timed by route template, and GET /metrics (aidservice.metrics_http)."""
    from aidservice.metrics_http import init_metrics

    init_metrics(app)


def register_security(app: Flask) -> None:
    """Security headers on every response, JSON-only API bodies, the configured proxies trusted."""
    from aidservice.security import register_security as register

    register(app)


def register_commands(app: Flask) -> None:
    """`flask --app wsgi aid ...` and `flask db ...`: every group, from the one registration point."""
    from aidservice.cli import register

    register(app)


def perform_job(job_id: int) -> str:
    """What RQ calls for one attempt of a job (aidservice.jobs.RQRunner enqueues it by this name): in the worker's
    app context, or in an app built from the environment, once per process, by a plain `rq worker`."""
    from flask import has_app_context

    from aidservice.jobs.worker import perform

    if has_app_context():
        return perform(job_id)
    with _worker_app().app_context():
        return perform(job_id)


@cache
def _worker_app() -> Flask:
    """A plain `rq worker` has no app: build one from the environment, once per process."""
    return create_app()
