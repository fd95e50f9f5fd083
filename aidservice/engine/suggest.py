""" "Did you mean": the closest known names to a misspelt one, for the loader's error messages."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


def did_you_mean(name: str, known: Iterable[str]) -> str:
    """`; did you mean 'x'?` (or 'x' or 'y'), or "" when nothing known is close to `name`."""
    close = difflib.get_close_matches(name, sorted(set(known)), n=1, cutoff=0.75)
    if not close:
        return ""
    return "; did you mean " + " or ".join(f"'{c}'" for c in close) + "?"
