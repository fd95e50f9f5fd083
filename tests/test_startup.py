"""Starting the app: rules loaded once (a broken set refuses to start), the schema never touched."""

from __future__ import annotations

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
    assert app.test_client().get("/api/v1/health").status_code == 200
    engine = sa.create_engine(url)
    assert sa.inspect(engine).get_table_names() == []
    engine.dispose()
