"""gunicorn settings (`make run`: `gunicorn -c gunicorn.conf.py wsgi:app`); the values and the environment variables
that change them are in aidservice/gunicorn_conf.py, which an installed package reaches as
`gunicorn -c python:aidservice.gunicorn_conf wsgi:app`."""

from aidservice.gunicorn_conf import (  # noqa: F401 - gunicorn reads these names from this module
    accesslog,
    bind,
    child_exit,
    control_socket_disable,
    graceful_timeout,
    logconfig_dict,
    max_requests,
    max_requests_jitter,
    on_starting,
    timeout,
    worker_class,
    worker_connections,
    workers,
)
