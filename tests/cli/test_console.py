"""The `aid` console script: every `flask aid` command plus `aid db` and `aid serve`, from any folder."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from aidservice import console
from aidservice.startup import flask_arguments, is_offline_command, skips_key_check

AID = Path(sys.executable).parent / "aid"


@pytest.mark.parametrize(
    ("argv", "as_flask"),
    [
        (["/venv/bin/aid", "rules", "check"], ["aid", "rules", "check"]),
        (["aid", "evaluate", "--input", "a.jsonl"], ["aid", "evaluate", "--input", "a.jsonl"]),
        (["/usr/bin/aid", "db", "upgrade"], ["db", "upgrade"]),
        (["aid"], ["aid"]),
        (
            ["/venv/bin/flask", "--app", "wsgi", "aid", "rules", "check"],
            ["--app", "wsgi", "aid", "rules", "check"],
        ),
        (["gunicorn", "wsgi:app"], ["wsgi:app"]),
    ],
)
def test_the_aid_script_reads_as_the_same_flask_command_line(argv: list[str], as_flask: list[str]) -> None:
    assert flask_arguments(argv) == as_flask


def test_aid_rules_check_is_offline_and_aid_db_skips_the_key_check() -> None:
    assert is_offline_command(flask_arguments(["aid", "rules", "check"]))
    assert not is_offline_command(flask_arguments(["aid", "rules", "publish"]))
    assert skips_key_check(flask_arguments(["aid", "db", "upgrade"]))


def test_aid_lists_the_flask_aid_commands_with_db_and_serve() -> None:
    result = CliRunner().invoke(console.cli, ["--help"], prog_name="aid")
    assert result.exit_code == 0, result.output
    commands = {line.split()[0] for line in result.output.split("Commands:")[1].splitlines() if line.strip()}
    assert {"db", "serve", "rules", "evaluate", "user", "keys", "audit", "worker"} <= commands


@pytest.mark.parametrize(
    ("args", "bind"),
    [
        ([], None),
        (["--port", "8123"], "127.0.0.1:8123"),
        (["--host", "0.0.0.0", "--port", "80"], "0.0.0.0:80"),
    ],
)
def test_aid_serve_runs_gunicorn_with_the_packaged_settings(
    monkeypatch: pytest.MonkeyPatch, args: list[str], bind: str | None
) -> None:
    ran: list[list[str]] = []
    monkeypatch.setattr(console.os, "execv", lambda _path, argv: ran.append(argv))
    monkeypatch.delenv("PORT", raising=False)
    result = CliRunner().invoke(console.serve_command, args)
    assert result.exit_code == 0, result.output
    (argv,) = ran
    assert argv[1:5] == ["-m", "gunicorn", "-c", "python:aidservice.gunicorn_conf"]
    assert argv[-1] == "aidservice.wsgi:app"
    assert (argv[argv.index("--bind") + 1] if "--bind" in argv else None) == bind


@pytest.mark.skipif(not AID.exists(), reason="the aid script is installed by `make install` (pip install -e)")
def test_aid_migrates_and_checks_the_rules_from_an_empty_folder(tmp_path: Path) -> None:
    folder = tmp_path / "empty"
    folder.mkdir()
    database = tmp_path / "aid.sqlite3"
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("PYTHONPATH", "FLASK_APP", "AID_RULES_DIR")
    }
    env |= {"AID_ENV": "testing", "DATABASE_URL": f"sqlite:///{database}", "AID_INSTANCE_DIR": str(tmp_path)}

    def aid(*args: str, **extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(AID), *args], cwd=folder, env=env | extra, capture_output=True, text=True, timeout=180
        )

    upgraded = aid("db", "upgrade")
    assert upgraded.returncode == 0, upgraded.stderr
    engine = sa.create_engine(f"sqlite:///{database}")
    with engine.connect() as connection:
        assert connection.execute(sa.text("select version_num from alembic_version")).scalar()
    engine.dispose()
    checked = aid("rules", "check", PYTHONPROFILEIMPORTTIME="1")
    assert checked.returncode == 0, checked.stderr
    assert ", 0 failed" in checked.stdout
    imported = {line.rsplit("|", 1)[-1].strip() for line in checked.stderr.splitlines() if "|" in line}
    assert "aidservice.engine" in imported
    assert not {name for name in imported if name.startswith(("sqlalchemy", "flask_smorest"))}
    assert sorted(p.name for p in folder.iterdir()) == []  # nothing written where it ran
