"""Starting the app: rules loaded once (a broken set refuses to start), the schema never touched."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from aidservice.rulesets import RuleSetBroken
from config import REPO_ROOT


def test_the_rule_set_is_loaded_once_and_kept_on_the_app(app: Flask, client: FlaskClient) -> None:
    ruleset = app.extensions["aid_rules"]
    client.get("/api/v1/health")
    client.post("/api/v1/evaluate", json={"as_of": "2020-09-01", "facts": {"stage": "junior", "grade": 1}})
    assert app.extensions["aid_rules"] is ruleset
    assert re.fullmatch(r"sha256:[0-9a-f]{16}", ruleset.version)


def test_a_broken_rule_set_refuses_to_start_naming_file_and_line(
    app_factory: Callable[..., Flask], broken_rules: Path
) -> None:
    with pytest.raises(RuleSetBroken) as caught:
        app_factory(AID_RULES_DIR=str(broken_rules))
    assert any(re.fullmatch(r".*zz_broken\.yaml:2: .*colour.*", line) for line in caught.value.lines)
    assert all(line in str(caught.value) for line in caught.value.lines)


@pytest.mark.parametrize(("school_year", "warned"), [("2020-2021", False), ("2023-2024", True)])
def test_a_school_year_outside_the_rules_coverage_is_warned_at_start(
    app_factory: Callable[..., Flask], caplog: pytest.LogCaptureFixture, school_year: str, warned: bool
) -> None:
    with caplog.at_level("WARNING", logger="aidservice.startup"):
        app_factory(AID_SCHOOL_YEAR=school_year)
    warnings = [r.getMessage() for r in caplog.records if r.name == "aidservice.startup"]
    assert bool(warnings) is warned
    if warned:
        assert "AID_SCHOOL_YEAR 2023-2024" in warnings[0] and "2018-09-01 to 2021-08-31" in warnings[0]


def test_a_missing_rules_directory_refuses_to_start(
    app_factory: Callable[..., Flask], tmp_path: Path
) -> None:
    with pytest.raises(RuleSetBroken, match="not found"):
        app_factory(AID_RULES_DIR=str(tmp_path / "nowhere"))


def test_wsgi_refuses_to_start_on_broken_rules_printing_the_lines(broken_rules: Path, tmp_path: Path) -> None:
    env = {**os.environ, "AID_ENV": "testing", "AID_RULES_DIR": str(broken_rules)}
    env["DATABASE_URL"] = f"sqlite:///{tmp_path / 'x.sqlite3'}"
    done = subprocess.run(
        [sys.executable, "-c", "import wsgi"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0
    assert re.search(r"zz_broken\.yaml:2: ", done.stderr), done.stderr


def test_create_app_never_creates_tables(app_factory: Callable[..., Flask], tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'fresh.sqlite3'}"
    app = app_factory(url)
    health = app.test_client().get("/api/v1/health")  # not ready (unmigrated), and it creates nothing either
    assert health.status_code == 503 and health.get_json()["database"] == "ok"
    engine = sa.create_engine(url)
    assert sa.inspect(engine).get_table_names() == []
    engine.dispose()


@pytest.mark.parametrize(
    ("argv", "offline"),
    [
        (["--app", "wsgi", "aid", "evaluate", "--input", "a.parquet", "--output", "b.parquet"], True),
        (["-A", "wsgi", "aid", "rules", "check"], True),
        (["--app=wsgi", "--debug", "aid", "evaluate", "--help"], True),
        (["--app", "aid", "aid", "rules", "publish"], False),  # publish writes to the database
        (["--app", "wsgi", "aid", "user", "create", "x"], False),
        (["--app", "wsgi", "aid", "redetermine"], False),
        (["--app", "wsgi", "run"], False),
        (["--app", "wsgi", "routes"], False),
        (["--app", "wsgi", "db", "upgrade"], False),
        ([], False),
    ],
)
def test_only_listed_batch_commands_start_without_routes_and_database(argv: list[str], offline: bool) -> None:
    from aidservice.startup import is_offline_command

    assert is_offline_command(argv) is offline


def test_an_offline_app_has_rules_and_commands_but_no_routes_or_database(tmp_path: Path) -> None:
    from aidservice import create_app
    from config import TestingConfig

    config = TestingConfig.from_env({"DATABASE_URL": f"sqlite:///{tmp_path / 'unused.sqlite3'}"})
    app = create_app(config, offline=True)
    assert app.extensions["aid_rules"].version.startswith("sha256:")
    assert "sqlalchemy" not in app.extensions and not app.blueprints
    source = tmp_path / "in.jsonl"
    source.write_text(
        '{"student_id": "S1", "stage": "junior", "grade": 1, "orphan": true}\n', encoding="utf-8"
    )
    args = ["aid", "evaluate", "--input", str(source), "--output", str(tmp_path / "out.jsonl")]
    result = app.test_cli_runner().invoke(args=[*args, "--as-of", "2020-09-01"])
    assert result.exit_code == 0, result.output
    assert json.loads((tmp_path / "out.jsonl").read_text(encoding="utf-8"))["level"] == "special"


def test_the_flask_command_line_builds_the_whole_app_for_other_commands(db_url: str) -> None:
    env = {**os.environ, "AID_ENV": "testing", "DATABASE_URL": db_url}
    done = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "wsgi", "routes"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "/api/v1/health" in done.stdout and "/api/v1/evaluate" in done.stdout


@pytest.mark.parametrize("extra", [["--help"], ["--input", "missing.parquet", "--output", "x.parquet"]])
def test_batch_evaluate_never_imports_sqlalchemy_even_for_help_or_usage_errors(extra: list[str]) -> None:
    command = [sys.executable, "-X", "importtime", "-m", "flask", "--app", "wsgi", "aid", "evaluate", *extra]
    done = subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, timeout=120)
    imported = {line.rsplit("|", 1)[-1].strip() for line in done.stderr.splitlines() if "|" in line}
    assert "aidservice.engine" in imported
    assert not {name for name in imported if name.startswith(("sqlalchemy", "flask_smorest"))}
