"""Production refuses unsafe configuration (issue 16, item 4): development keys, weak, repeated or reused keys and
missing keys stop the process with one line naming the variable; development warns on every start; demo data
never reaches a production or non-default database."""

from __future__ import annotations

import base64
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
from flask_migrate import upgrade

from aidservice import create_app
from aidservice.crypto import DEV_KEY
from aidservice.extensions import db
from config import (
    DEV_HMAC_KEY,
    DEV_SECRET,
    REPO_ROOT,
    ConfigError,
    DevelopmentConfig,
    ProductionConfig,
    load_config,
)
from scripts.demo_needed import embedded_demo_database
from scripts.demo_needed import main as demo_needed
from tests.production_keys import AES_K1, PRODUCTION_SECRETS, SECRET_KEY
from tests.timing_support import FAST, work_clock

RULES = str(REPO_ROOT / "rules")


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


UNSAFE: list[tuple[str, str, str | None, str]] = [  # case, variable, value (None: unset), expected words
    ("secret-dev", "SECRET_KEY", DEV_SECRET, "published development key"),
    ("secret-short", "SECRET_KEY", "s3cret-but-short", "too weak"),
    ("secret-128-bit-hex", "SECRET_KEY", "9687491a457cf8ea2ad2180b9ba2944b", "too weak"),
    ("secret-one-character", "SECRET_KEY", "a" * 80, "too regular"),
    ("secret-repeated-piece", "SECRET_KEY", "Xy7#" * 20, "too regular"),
    ("secret-missing", "SECRET_KEY", None, "must be set"),
    ("hmac-dev", "AID_ID_HMAC_KEY", DEV_HMAC_KEY, "published development key"),
    ("hmac-short", "AID_ID_HMAC_KEY", "k" * 8 + "0123456789abcdef", "too"),
    ("hmac-equals-secret", "AID_ID_HMAC_KEY", SECRET_KEY, "equals SECRET_KEY"),
    ("hmac-equals-aes-key", "AID_ID_HMAC_KEY", AES_K1, "equals AID_ID_HMAC_KEY"),
    ("hmac-missing", "AID_ID_HMAC_KEY", None, "must be set"),
    ("aes-dev", "AID_ID_KEYS", f"k1:{DEV_KEY}", "published development key"),
    ("aes-all-zero", "AID_ID_KEYS", f"k1:{b64(bytes(32))}", "one repeated byte"),
    ("aes-repeated-byte", "AID_ID_KEYS", f"k1:{b64(b'7' * 32)}", "one repeated byte"),
    ("aes-few-distinct-bytes", "AID_ID_KEYS", f"k1:{b64(b'abcd' * 8)}", "distinct bytes"),
    ("aes-second-key-zero", "AID_ID_KEYS", f"k1:{AES_K1},k2:{b64(bytes(32))}", "'k2' is one repeated byte"),
    ("secret-equals-aes-key", "SECRET_KEY", AES_K1, "equals AID_ID_HMAC_KEY or SECRET_KEY"),
    ("aes-missing", "AID_ID_KEYS", None, "must be set"),
]


def unsafe_env(variable: str, value: str | None) -> dict[str, str]:
    env = {"AID_ENV": "production", **PRODUCTION_SECRETS}
    if value is None:
        del env[variable]
    else:
        env[variable] = value
    return env


@pytest.mark.parametrize(("case", "variable", "value", "words"), UNSAFE, ids=[c[0] for c in UNSAFE])
def test_production_config_refuses_the_unsafe_key_in_one_line_naming_the_variable(
    case: str, variable: str, value: str | None, words: str
) -> None:
    started = work_clock()
    with pytest.raises(ConfigError) as refused:
        load_config(unsafe_env(variable, value))
    message = str(refused.value)
    assert variable in message and words in message, message
    assert "\n" not in message
    assert value is None or len(value) < 20 or value not in message  # never the key itself
    assert work_clock() - started < FAST


def test_the_same_keys_made_safe_start_in_production() -> None:
    config = load_config({"AID_ENV": "production", **PRODUCTION_SECRETS})
    assert isinstance(config, ProductionConfig) and config.AID_ENV == "production"
    assert config.AID_DEV_KEYS_IN_USE == ()


def flask_cli(env: dict[str, str], *args: str, cwd: Path = REPO_ROOT) -> subprocess.CompletedProcess[str]:
    full = {k: v for k, v in os.environ.items() if not k.startswith("AID_") and k not in ("SECRET_KEY",)}
    full.update(env)
    return subprocess.run(
        [sys.executable, "-m", "flask", "--app", "wsgi", *args],
        cwd=cwd,
        env=full,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(("case", "variable", "value", "words"), UNSAFE, ids=[c[0] for c in UNSAFE])
def test_the_flask_cli_refuses_with_one_line_and_status_3_and_no_traceback(
    case: str, variable: str, value: str | None, words: str, tmp_path: Path
) -> None:
    env = {**unsafe_env(variable, value), "DATABASE_URL": f"sqlite:///{tmp_path / 'x.sqlite3'}"}
    done = flask_cli(env, "aid", "keys", "status")
    assert done.returncode == 3, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("aidservice refuses to start: ") and variable in lines[0] and words in lines[0]
    assert "Traceback" not in done.stderr and done.stdout == ""


def test_gunicorn_refuses_before_any_worker_with_the_one_line(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AID_")}
    env.update(
        unsafe_env("SECRET_KEY", DEV_SECRET), DATABASE_URL=f"sqlite:///{tmp_path / 'x.sqlite3'}", PORT="5997"
    )
    done = subprocess.run(
        [str(Path(sys.executable).parent / "gunicorn"), "-c", "gunicorn.conf.py", "wsgi:app"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 3, done.stderr
    ours = [line for line in done.stderr.splitlines() if "aidservice refuses to start" in line]
    assert ours == [
        "aidservice refuses to start: SECRET_KEY is the published development key: production needs its own"
    ]
    assert "Booting worker" not in done.stderr and "Traceback" not in done.stderr


def test_the_development_configuration_logs_one_warning_naming_aid_env_on_every_start(
    db_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    config = load_config({"DATABASE_URL": db_url, "AID_RULES_DIR": RULES})  # AID_ENV unset
    assert isinstance(config, DevelopmentConfig)
    for _start in range(2):
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="aidservice"):
            create_app(config)
        warnings = [r for r in caplog.records if r.levelno == logging.WARNING and "AID_ENV" in r.getMessage()]
        assert len(warnings) == 1
        assert (
            "development keys in use (SECRET_KEY, AID_ID_HMAC_KEY, AID_ID_KEYS)" in warnings[0].getMessage()
        )


def test_production_logs_no_development_warning(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    config = load_config(
        {
            "AID_ENV": "production",
            **PRODUCTION_SECRETS,
            "AID_RULES_DIR": RULES,
            "DATABASE_URL": f"sqlite:///{tmp_path / 'p.sqlite3'}",
        }
    )
    with caplog.at_level(logging.WARNING, logger="aidservice"):
        create_app(config)
    assert not [r for r in caplog.records if "AID_ENV" in r.getMessage()]


def test_demo_data_refuses_in_production_and_stores_nothing(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'prod.sqlite3'}"
    app = create_app(
        load_config(
            {"AID_ENV": "production", **PRODUCTION_SECRETS, "AID_RULES_DIR": RULES, "DATABASE_URL": url}
        )
    )
    with app.app_context():
        upgrade()
        started = work_clock()
        result = app.test_cli_runner().invoke(args=["aid", "demo-data", "--students", "10"])
        assert work_clock() - started < FAST
        assert result.exit_code == 1
        assert "demo-data refuses to run with AID_ENV=production" in result.output
        assert db.session.execute(db.text("SELECT count(*) FROM users")).scalar_one() == 0
        assert db.session.execute(db.text("SELECT count(*) FROM students")).scalar_one() == 0
        db.engine.dispose()


@pytest.mark.parametrize(
    "env",
    [
        {"DATABASE_URL": "postgresql://postgres@127.0.0.1:5432/aidservice"},
        {"DATABASE_URL": "sqlite:////srv/aid/other.sqlite3"},
        {"AID_ENV": "production"},
    ],
    ids=["postgresql", "another-sqlite-file", "production"],
)
def test_make_run_never_loads_demo_data_into_a_database_that_is_not_the_embedded_demo_one(
    env: dict[str, str],
) -> None:
    assert embedded_demo_database(env) is False
    assert demo_needed(env) == 1  # decided from the environment, before the database is even opened


def test_the_embedded_demo_database_is_the_default_sqlite_file_of_a_development_run() -> None:
    assert embedded_demo_database({}) is True
    assert embedded_demo_database({"AID_ENV": "development", "DATABASE_URL": "  "}) is True
