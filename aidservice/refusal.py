"""Refusing to start: an unsafe configuration or keys that do not match the database stop the process with one line.

The server (gunicorn imports `wsgi`), the command line (`flask --app wsgi aid ...` imports `wsgi` too) and the
job worker (`flask --app wsgi aid worker`; a plain `rq worker` builds its app through `create_app`) all build the
app inside `refusing_to_start()`: a ConfigError (config.py) or a KeysMismatch (aidservice/keysafety.py) becomes
one line on stderr, `aidservice refuses to start: <reason naming the variable>`, and exit status 3, with no
traceback. Status 3 is gunicorn's "worker failed to boot": its arbiter stops instead of starting the worker again.

With the development configuration (AID_ENV unset or `development`) every start logs one WARNING line naming
AID_ENV and the development keys in use.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from aidservice.config import ConfigError
from aidservice.keysafety import KeysMismatch

EXIT_REFUSED = 3
PREFIX = "aidservice refuses to start: "
log = logging.getLogger("aidservice.startup")


@contextmanager
def refusing_to_start() -> Iterator[None]:
    """Turn a ConfigError or KeysMismatch raised inside into one stderr line and SystemExit(3)."""
    try:
        yield
    except (ConfigError, KeysMismatch) as exc:
        sys.stderr.write(PREFIX + str(exc).replace("\n", " ") + "\n")
        sys.stderr.flush()
        raise SystemExit(EXIT_REFUSED) from None


def warn_if_development(config: Any) -> None:
    """One loud WARNING line on every start of the development configuration (never a production one)."""
    if config.get("AID_ENV") != "development":
        return
    keys = ", ".join(config.get("AID_DEV_KEYS_IN_USE") or ()) or "none"
    log.warning(
        "AID_ENV is not production: development configuration, published development keys in use (%s); "
        "never run it with real data (set AID_ENV=production and real keys)",
        keys,
    )
