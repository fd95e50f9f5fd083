"""`N_`: marks a text for the catalogue where it is written, translated later where it is shown.

Label tables (i18n.LEVELS, i18n_audit.AUDIT_ACTIONS, ...), form messages and the services' row labels are
Chinese texts that a page passes to `_()` as a value; `N_("已提交")` is the text itself, and `pybabel extract`
(babel.cfg, `make messages`) finds it there. No imports: every layer may use it.
"""

from __future__ import annotations


def N_(text: str) -> str:
    """The text unchanged; only the extraction looks at the call."""
    return text
