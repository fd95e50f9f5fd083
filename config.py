"""Shim for the repository layout: the configuration lives in the package, aidservice/config.py, so that an
installed wheel has it too. `from config import ...` keeps working from a checkout; REPO_ROOT is the checkout."""

from __future__ import annotations

from pathlib import Path

from aidservice.config import *  # noqa: F403 - every public name of aidservice.config, the same objects
from aidservice.config import CONFIGS, DEV_HMAC_KEY, DEV_SECRET, MIB  # noqa: F401 - named for readers

REPO_ROOT = Path(__file__).resolve().parent
