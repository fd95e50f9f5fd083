"""WSGI entry point: `gunicorn aidservice.wsgi:app`, `flask --app aidservice.wsgi ...`; the root wsgi.py of a
checkout re-exports it (`gunicorn wsgi:app`, `flask --app wsgi ...`), and the `aid` script builds its app here.

An unsafe configuration or keys that do not match the database stop the process here with one line and exit
status 3 (aidservice/refusal.py), for the server, the command line and the job worker alike.
"""

from __future__ import annotations

from flask import Flask

from aidservice import create_app
from aidservice.refusal import refusing_to_start


def make_app() -> Flask:
    """The app for this process, or one line and exit status 3 when it must not start."""
    with refusing_to_start():
        return create_app()


def __getattr__(name: str) -> Flask:
    """`app` is built when first asked for (gunicorn, `flask --app`), not when the `aid` script imports make_app."""
    if name != "app":
        raise AttributeError(name)
    app = make_app()
    globals()["app"] = app
    return app
