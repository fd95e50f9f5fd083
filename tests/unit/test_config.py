"""Configuration is read from an environment mapping once, when built, never at import time."""

from __future__ import annotations

import pytest

import config
from config import ConfigError, DevelopmentConfig, ProductionConfig, TestingConfig, load_config
from tests.production_keys import PRODUCTION_SECRETS


def test_values_come_from_the_mapping_given() -> None:
    cfg = TestingConfig.from_env(
        {
            "DATABASE_URL": "sqlite:////tmp/x.sqlite3",
            "AID_RULES_DIR": "/srv/rules",
            "AID_SCHOOL_YEAR": "2021-2022",
            "AID_MAX_BODY_BYTES": "2048",
            "SECRET_KEY": "s3cret",
            "AID_ID_HMAC_KEY": "k3y",
        }
    )
    assert cfg.SQLALCHEMY_DATABASE_URI == "sqlite:////tmp/x.sqlite3"
    assert cfg.AID_RULES_DIR == "/srv/rules"
    assert cfg.AID_SCHOOL_YEAR == "2021-2022"
    assert cfg.MAX_CONTENT_LENGTH == 2048
    assert (cfg.SECRET_KEY, cfg.AID_ID_HMAC_KEY) == ("s3cret", "k3y")


def test_an_installed_package_keeps_its_files_in_the_folder_it_runs_in(monkeypatch, tmp_path) -> None:
    """Outside a checkout (no pyproject.toml beside the package) instance/ is the current folder's, or AID_INSTANCE_DIR."""
    import aidservice.config as package_config

    monkeypatch.setattr(package_config, "CHECKOUT_ROOT", None)
    monkeypatch.chdir(tmp_path)
    cfg = DevelopmentConfig.from_env({})
    assert cfg.SQLALCHEMY_DATABASE_URI == f"sqlite:///{tmp_path / 'instance' / 'aidservice.sqlite3'}"
    assert cfg.AID_DRAFT_RULES_DIR == str(tmp_path / "instance" / "drafts")
    chosen = DevelopmentConfig.from_env({"AID_INSTANCE_DIR": str(tmp_path / "var")})
    assert chosen.AID_WHATIF_FILE == str(tmp_path / "var" / "whatif-last.json")
    assert chosen.AID_RULES_DIR == str(package_config.RULES_DIR)


def test_defaults_point_into_the_repository() -> None:
    cfg = DevelopmentConfig.from_env({})
    assert cfg.SQLALCHEMY_DATABASE_URI == f"sqlite:///{config.REPO_ROOT / 'instance' / 'aidservice.sqlite3'}"
    # package data; the root `rules` is a link to it
    assert cfg.AID_RULES_DIR == str(config.REPO_ROOT / "aidservice" / "rules")
    assert cfg.AID_SCHOOL_YEAR == "2020-2021"
    assert cfg.MAX_CONTENT_LENGTH == 16 * 1024 * 1024
    assert cfg.OPENAPI_URL_PREFIX == "/api/v1"
    assert cfg.OPENAPI_VERSION == "3.0.3"


def test_environment_is_read_once_when_built(monkeypatch: pytest.MonkeyPatch) -> None:
    env = {"AID_SCHOOL_YEAR": "2020-2021"}
    cfg = TestingConfig.from_env(env)
    env["AID_SCHOOL_YEAR"] = "2030-2031"
    monkeypatch.setenv("AID_SCHOOL_YEAR", "2040-2041")
    assert cfg.AID_SCHOOL_YEAR == "2020-2021"


def test_process_environment_is_read_when_built_not_at_import(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AID_SCHOOL_YEAR", "2019-2020")
    first = TestingConfig.from_env()
    monkeypatch.setenv("AID_SCHOOL_YEAR", "2022-2023")
    assert first.AID_SCHOOL_YEAR == "2019-2020"
    assert TestingConfig.from_env().AID_SCHOOL_YEAR == "2022-2023"
    for key in (
        "SQLALCHEMY_DATABASE_URI",
        "AID_RULES_DIR",
        "AID_SCHOOL_YEAR",
        "SECRET_KEY",
        "MAX_CONTENT_LENGTH",
    ):
        assert not hasattr(config.Config, key), f"{key} would be fixed at import time"


def test_production_refuses_to_start_without_secrets() -> None:
    for missing in ("SECRET_KEY", "AID_ID_HMAC_KEY", "AID_ID_KEYS"):
        with pytest.raises(ConfigError, match=missing):
            ProductionConfig.from_env({k: v for k, v in PRODUCTION_SECRETS.items() if k != missing})
    assert ProductionConfig.from_env(PRODUCTION_SECRETS).SECRET_KEY == PRODUCTION_SECRETS["SECRET_KEY"]


def test_development_and_testing_have_insecure_defaults_only_for_themselves() -> None:
    assert DevelopmentConfig.from_env({}).SECRET_KEY
    assert TestingConfig.from_env({}).AID_ID_HMAC_KEY
    assert TestingConfig.TESTING is True


def test_aid_env_selects_the_class() -> None:
    assert isinstance(load_config({}), DevelopmentConfig)
    assert isinstance(load_config({"AID_ENV": "testing"}), TestingConfig)
    prod = load_config({"AID_ENV": "production", **PRODUCTION_SECRETS})
    assert isinstance(prod, ProductionConfig)
    with pytest.raises(ConfigError, match="AID_ENV"):
        load_config({"AID_ENV": "staging"})


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("postgres://u@h:5432/d", "postgresql+psycopg://u@h:5432/d"),
        ("postgresql://u@h/d", "postgresql+psycopg://u@h/d"),
        ("postgresql+psycopg://u@h/d", "postgresql+psycopg://u@h/d"),
        ("sqlite:///x.db", "sqlite:///x.db"),
    ],
)
def test_database_url_uses_psycopg3(given: str, expected: str) -> None:
    assert config.database_url({"DATABASE_URL": given}) == expected


@pytest.mark.parametrize("raw", ["lots", "0", "-5"])
def test_body_limit_must_be_a_positive_integer(raw: str) -> None:
    with pytest.raises(ConfigError, match="AID_MAX_BODY_BYTES"):
        TestingConfig.from_env({"AID_MAX_BODY_BYTES": raw})


def test_postgres_connections_time_out_quickly_sqlite_writers_wait_for_each_other() -> None:
    pg = TestingConfig.from_env({"DATABASE_URL": "postgresql://postgres@127.0.0.1/x"})
    assert pg.SQLALCHEMY_ENGINE_OPTIONS["connect_args"] == {"connect_timeout": 5}
    # sqlite3's timeout is SQLite's busy_timeout, in seconds (issue 15: writers wait instead of failing)
    assert TestingConfig.from_env({}).SQLALCHEMY_ENGINE_OPTIONS["connect_args"] == {"timeout": 10.0}
    waits = TestingConfig.from_env({"AID_SQLITE_BUSY_TIMEOUT_MS": "2500"}).SQLALCHEMY_ENGINE_OPTIONS
    assert waits["connect_args"] == {"timeout": 2.5}
    with pytest.raises(ConfigError, match="AID_SQLITE_BUSY_TIMEOUT_MS"):
        TestingConfig.from_env({"AID_SQLITE_BUSY_TIMEOUT_MS": "0"})


def test_postgres_pool_is_sized_from_the_environment_and_pings_only_idle_connections() -> None:
    url = "postgresql://postgres@127.0.0.1/x"
    default = TestingConfig.from_env({"DATABASE_URL": url})
    assert (
        default.SQLALCHEMY_ENGINE_OPTIONS["pool_size"],
        default.SQLALCHEMY_ENGINE_OPTIONS["max_overflow"],
    ) == (10, 10)
    assert "pool_pre_ping" not in default.SQLALCHEMY_ENGINE_OPTIONS and default.AID_DB_PING_IDLE_SECONDS == 10
    sized = TestingConfig.from_env(
        {
            "DATABASE_URL": url,
            "AID_DB_POOL_SIZE": "25",
            "AID_DB_MAX_OVERFLOW": "0",
            "AID_DB_PING_IDLE_SECONDS": "0",
        }
    )
    assert (
        sized.SQLALCHEMY_ENGINE_OPTIONS["pool_size"],
        sized.SQLALCHEMY_ENGINE_OPTIONS["max_overflow"],
    ) == (25, 0)
    assert sized.AID_DB_PING_IDLE_SECONDS == 0
    assert (
        "pool_size" not in TestingConfig.from_env({}).SQLALCHEMY_ENGINE_OPTIONS
    )  # SQLite keeps its own pool


@pytest.mark.parametrize(
    ("key", "raw"),
    [
        ("AID_DB_POOL_SIZE", "0"),
        ("AID_DB_POOL_SIZE", "many"),
        ("AID_DB_MAX_OVERFLOW", "-1"),
        ("AID_DB_PING_IDLE_SECONDS", "soon"),
    ],
)
def test_bad_pool_settings_are_refused_by_name(key: str, raw: str) -> None:
    with pytest.raises(ConfigError, match=key):
        TestingConfig.from_env({"DATABASE_URL": "postgresql://postgres@127.0.0.1/x", key: raw})


def test_import_limits_come_from_the_environment() -> None:
    from config import ConfigError, TestingConfig

    config = TestingConfig.from_env({"AID_IMPORT_MAX_BYTES": "1024", "AID_IMPORT_MAX_ROWS": "10"})
    assert (config.AID_IMPORT_MAX_BYTES, config.AID_IMPORT_MAX_ROWS) == (1024, 10)
    assert TestingConfig.from_env({}).AID_IMPORT_MAX_ROWS == 50_000
    with pytest.raises(ConfigError, match="AID_IMPORT_MAX_ROWS"):
        TestingConfig.from_env({"AID_IMPORT_MAX_ROWS": "-3"})


def test_background_jobs_run_in_process_unless_a_redis_url_is_given() -> None:
    assert TestingConfig.from_env({}).AID_REDIS_URL is None
    assert TestingConfig.from_env({"REDIS_URL": "redis://h:6379/1"}).AID_REDIS_URL == "redis://h:6379/1"
    both = {"REDIS_URL": "redis://h:6379/1", "AID_REDIS_URL": "redis://a:6379/2"}
    assert TestingConfig.from_env(both).AID_REDIS_URL == "redis://a:6379/2"


@pytest.mark.parametrize(("raw", "expected"), [("", (30, 120, 600)), ("0", (0,)), ("5, 10", (5, 10))])
def test_job_retry_intervals_are_whole_seconds(raw: str, expected: tuple[int, ...]) -> None:
    assert TestingConfig.from_env({"AID_JOB_RETRY_INTERVALS": raw}).AID_JOB_RETRY_INTERVALS == expected


@pytest.mark.parametrize(
    ("key", "raw"),
    [
        ("AID_JOB_RETRY_INTERVALS", "soon"),
        ("AID_JOB_RETRY_INTERVALS", "-1"),
        ("AID_JOB_ATTEMPTS", "0"),
        ("AID_JOB_QUEUE", "has space"),
        ("AID_IMPORT_ASYNC_BYTES", "big"),
    ],
)
def test_bad_job_settings_name_their_variable(key: str, raw: str) -> None:
    with pytest.raises(ConfigError, match=key):
        TestingConfig.from_env({key: raw})
