"""Which parts of the app a process needs: batch commands that read and write files skip HTTP and the database.

`flask --app wsgi aid evaluate` has a two-second budget for a million students, and building the
API (flask-smorest assembles the OpenAPI document blueprint by blueprint), the web UI and the
SQLAlchemy models is about half of a cold start. Only commands listed here skip them; every other
command, the server and the tests get the whole app.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

# Command paths (after `flask [options]`) that touch neither routes nor the database.
OFFLINE_COMMANDS: tuple[tuple[str, ...], ...] = (
    ("aid", "evaluate"),
    ("aid", "rules", "check"),
    ("aid", "rules", "test"),
)

# Command paths that open the database but skip the key check: the migrations (they create the fingerprint table;
# keys are about the data, not the schema) and printing a new key.
UNCHECKED_COMMANDS: tuple[tuple[str, ...], ...] = (("db",), ("aid", "keys", "generate"))

# `flask` options that take a value, so the value is not mistaken for a command name.
_FLASK_VALUE_OPTIONS = frozenset({"--app", "-A", "--env-file", "-e"})


def command_words(argv: Sequence[str], limit: int = 3) -> tuple[str, ...]:
    """The first command names of a `flask ...` command line, skipping the flask options."""
    words: list[str] = []
    skip_value = False
    for token in argv:
        if skip_value:
            skip_value = False
        elif token in _FLASK_VALUE_OPTIONS:
            skip_value = True
        elif token.startswith("-"):
            continue
        else:
            words.append(token)
            if len(words) == limit:
                break
    return tuple(words)


def flask_arguments(argv: Sequence[str]) -> list[str]:
    """The arguments after the program name as `flask` would see them: the `aid` console script
    (aidservice/console.py) runs `aid rules check` for `flask aid rules check`, and `aid db ...` as `flask db ...`."""
    args = list(argv[1:])
    if not argv or Path(argv[0]).name != "aid":
        return args
    return args if command_words(args, 1) == ("db",) else ["aid", *args]


def is_offline_command(argv: Sequence[str]) -> bool:
    """True when `argv` (without the program name) runs a command that needs no routes and no database."""
    words = command_words(argv)
    return any(words[: len(path)] == path for path in OFFLINE_COMMANDS)


def skips_key_check(argv: Sequence[str]) -> bool:
    """True when `argv` (without the program name) runs a command that does not check the keys against the data."""
    words = command_words(argv)
    return any(words[: len(path)] == path for path in UNCHECKED_COMMANDS)


def running_flask_cli() -> bool:
    """True while the `flask` command line is loading the app (a click context holds its ScriptInfo)."""
    import click
    from flask.cli import ScriptInfo

    ctx = click.get_current_context(silent=True)
    return ctx is not None and ctx.find_object(ScriptInfo) is not None
