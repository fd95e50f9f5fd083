"""WSGI entry point: `gunicorn wsgi:app`, `flask --app wsgi ...`.

An unsafe configuration or keys that do not match the database stop the process here with one line and exit
status 3 (aidservice/refusal.py), for the server, the command line and the job worker alike.
"""

from __future__ import annotations

from aidservice import create_app
from aidservice.refusal import refusing_to_start

with refusing_to_start():
    app = create_app()
