"""gunicorn settings for bench/load.py: each worker's GIL switch interval from LOAD_SWITCH_INTERVAL_MS (if set).

With several threads per worker, a thread back from a database round trip waits up to the switch interval
(5 ms by default) for the thread holding the GIL; a shorter interval trades a little CPU for less waiting.
"""

from __future__ import annotations

import os
import sys
from typing import Any


def post_fork(server: Any, worker: Any) -> None:
    interval = os.environ.get("LOAD_SWITCH_INTERVAL_MS")
    if interval:
        sys.setswitchinterval(float(interval) / 1000)
