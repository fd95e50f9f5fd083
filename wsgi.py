"""Shim for the repository layout: `gunicorn wsgi:app`, `flask --app wsgi ...` from a checkout. The entry point
itself is in the package, aidservice/wsgi.py (`gunicorn aidservice.wsgi:app` where only the wheel is installed)."""

from __future__ import annotations

from aidservice.wsgi import app

__all__ = ["app"]
