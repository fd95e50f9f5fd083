"""Schema by migrations, `db check` clean, rule-set publishing, and test isolation, on every backend."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import sqlalchemy as sa
from flask import Flask

from aidservice.engine import load_rules
from aidservice.extensions import SQLITE_BEGIN, db
from aidservice.models import RuleSet
from aidservice.services.rule_sets import publish_current, published_files
from config import REPO_ROOT


@pytest.mark.databases
def test_migrations_match_the_models(app: Flask) -> None:
    result = app.test_cli_runner().invoke(args=["db", "check"])
    assert result.exit_code == 0, result.output  # Flask-Migrate exits 1 when autogenerate finds a difference


@pytest.mark.databases
def test_db_check_command_reports_no_new_operations(db_url: str) -> None:
    env = {**os.environ, "DATABASE_URL": db_url, "AID_ENV": "testing"}
    done = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "wsgi", "db", "check"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "No new upgrade operations detected" in done.stdout


@pytest.mark.databases
def test_publishing_a_rule_set_is_idempotent(app: Flask) -> None:
    ruleset = app.extensions["aid_rules"]
    assert publish_current(db.session, ruleset, ruleset.rules.files) is True
    assert publish_current(db.session, ruleset, ruleset.rules.files) is False
    db.session.commit()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(RuleSet)) == 1
    stored = db.session.get(RuleSet, ruleset.version)
    assert stored is not None and stored.loaded_at is not None


@pytest.mark.databases
def test_a_published_rule_set_loads_again_with_the_same_version(app: Flask, tmp_path) -> None:  # type: ignore[no-untyped-def]
    ruleset = app.extensions["aid_rules"]
    publish_current(db.session, ruleset, ruleset.rules.files)
    files = published_files(db.session, ruleset.version)
    assert files is not None and "facts.yaml" in files
    for relative, text in files.items():
        target = tmp_path / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    assert load_rules(tmp_path).version == ruleset.version


@pytest.mark.databases
def test_publish_command_stores_the_running_rule_set_once(app: Flask) -> None:
    runner = app.test_cli_runner()
    first = runner.invoke(args=["aid", "rules", "publish"])
    second = runner.invoke(args=["aid", "rules", "publish"])
    assert first.exit_code == 0 and "published" in first.output and "already" not in first.output
    assert second.exit_code == 0 and "already published" in second.output


@pytest.mark.databases
def test_commits_in_a_test_are_invisible_outside_it(app: Flask) -> None:
    db.session.add(RuleSet(version="sha256:isolation-check", files={}))
    db.session.commit()
    # a reader, as a read-only route reads: on SQLite a connection that begins IMMEDIATE would wait for the
    # write lock this test's transaction holds
    with db.engine.connect().execution_options(**{SQLITE_BEGIN: "DEFERRED"}) as other:
        seen = other.scalar(sa.select(sa.func.count()).select_from(RuleSet.__table__))
    assert seen == 0
    assert db.session.get(RuleSet, "sha256:isolation-check") is not None


@pytest.mark.databases
def test_each_test_starts_with_empty_tables(app: Flask) -> None:
    assert db.session.scalar(sa.select(sa.func.count()).select_from(RuleSet)) == 0


def test_sqlite_enforces_foreign_keys(app: Flask) -> None:
    assert db.engine.dialect.name == "sqlite"
    assert db.session.execute(sa.text("PRAGMA foreign_keys")).scalar() == 1
