"""Configuration classes; values come from an environment mapping read once, when a config is built."""

from __future__ import annotations

import base64
import os
import re
from collections.abc import Mapping
from datetime import date
from importlib.resources import files
from pathlib import Path
from typing import Any, ClassVar

from limits import parse_many

from aidservice.crypto import DEV_KEY, DEV_KEY_ID, KeyringError, parse_keys
from aidservice.keysafety import weak_aes_key, weak_secret

# The package's own data (rules/, alembic/): beside this file in a checkout and in an installed wheel alike.
PACKAGE_DIR = Path(str(files("aidservice")))
RULES_DIR = PACKAGE_DIR / "rules"
MIGRATIONS_DIR = PACKAGE_DIR / "alembic"
# In a checkout (pyproject.toml beside the package) the writable files go to the checkout's instance/, as
# `make run` has always done; an installed package uses AID_INSTANCE_DIR, else ./instance of the folder it runs in.
CHECKOUT_ROOT = PACKAGE_DIR.parent if (PACKAGE_DIR.parent / "pyproject.toml").is_file() else None
MIB = 1024 * 1024
DEV_SECRET = "dev-only-insecure-secret"  # development/testing only; production refuses to start without one
DEV_HMAC_KEY = "dev-only-insecure-id-hmac-key"
LOGIN_THROTTLES = ("redis", "database", "memory")


class ConfigError(RuntimeError):
    """The environment does not describe a usable configuration."""


def instance_dir(env: Mapping[str, str]) -> Path:
    """Where the embedded database and the what-if files live: AID_INSTANCE_DIR, else the checkout's instance/,
    else instance/ in the current folder (an installed package run from anywhere)."""
    chosen = (env.get("AID_INSTANCE_DIR") or "").strip()
    if chosen:
        return Path(chosen).resolve()
    return (CHECKOUT_ROOT or Path.cwd()) / "instance"


def database_url(env: Mapping[str, str]) -> str:
    """SQLAlchemy URL from DATABASE_URL, defaulting to the embedded SQLite file; psycopg 3 is our driver."""
    url = env.get("DATABASE_URL", "").strip()
    if not url:
        return f"sqlite:///{instance_dir(env) / 'aidservice.sqlite3'}"
    for plain in ("postgres://", "postgresql://"):
        if url.startswith(plain):
            return "postgresql+psycopg://" + url[len(plain) :]
    return url


def engine_options(url: str, env: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Pool settings: on PostgreSQL a pool sized for AID_DB_POOL_SIZE concurrent requests per process, kept
    open (connections beyond it are opened and closed per request), and a 5 s connect timeout (health stays quick).

    Dead connections are found by aidservice.dbpool (a ping for connections that sat idle), not pool_pre_ping,
    which costs a round trip on every request.
    """
    env = env or {}
    # hide_parameters: a database error's text (logged with a 500) never carries the row's personal data
    options: dict[str, Any] = {"hide_parameters": True}
    if url.startswith("sqlite"):
        # sqlite3's timeout is SQLite's busy_timeout: a writer waits this long for another to finish (and writes
        # start with BEGIN IMMEDIATE, aidservice.extensions, so the wait applies) before the request fails.
        options["connect_args"] = {"timeout": _positive_int(env, "AID_SQLITE_BUSY_TIMEOUT_MS", 10_000) / 1000}
    if url.startswith("postgresql"):
        options["connect_args"] = {"connect_timeout": 5}
        options["pool_size"] = _positive_int(env, "AID_DB_POOL_SIZE", 10)
        options["max_overflow"] = _count(env, "AID_DB_MAX_OVERFLOW", 10)
    return options


def _positive_int(env: Mapping[str, str], key: str, default: int) -> int:
    """Parse a positive integer setting, naming the variable when it is wrong."""
    return _int_at_least(env, key, default, 1)


def _count(env: Mapping[str, str], key: str, default: int) -> int:
    """Parse a non-negative integer setting (0 allowed), naming the variable when it is wrong."""
    return _int_at_least(env, key, default, 0)


def _int_at_least(env: Mapping[str, str], key: str, default: int, minimum: int) -> int:
    raw = env.get(key)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{key} must be an integer, got {raw!r}") from None
    if value < minimum:
        raise ConfigError(
            f"{key} must be positive, got {value}"
            if minimum == 1
            else f"{key} must not be negative, got {value}"
        )
    return value


LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


def _log_level(env: Mapping[str, str], key: str, default: str) -> str:
    """A logging level name, naming the variable when it is not one."""
    value = (env.get(key) or default).strip().upper()
    if value not in LOG_LEVELS:
        raise ConfigError(f"{key} must be one of {', '.join(LOG_LEVELS)}, got {value!r}")
    return value


def _flag(env: Mapping[str, str], key: str, default: bool) -> bool:
    """A yes/no setting (1/0, true/false, yes/no, on/off), naming the variable when it is neither."""
    raw = (env.get(key) or "").strip().lower()
    if not raw:
        return default
    if raw in ("1", "true", "yes", "on"):
        return True
    if raw in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"{key} must be true or false, got {raw!r}")


def _rate(env: Mapping[str, str], key: str, default: str) -> str:
    """A rate limit in the limits library's notation (`60/minute`, `10 per minute;100/hour`), naming a bad one."""
    value = (env.get(key) or default).strip()
    try:
        parse_many(value)
    except ValueError:
        raise ConfigError(
            f"{key} must be a rate such as 60/minute or 10 per minute;100/hour, got {value!r}"
        ) from None
    return value


def _holidays(env: Mapping[str, str], key: str) -> tuple[date, ...]:
    """Comma-separated ISO dates (public holidays that are not working days), sorted; names a bad one."""
    days = set()
    for part in (env.get(key) or "").split(","):
        text = part.strip()
        if not text:
            continue
        try:
            days.add(date.fromisoformat(text))
        except ValueError:
            raise ConfigError(
                f"{key} must be comma-separated ISO dates (2020-10-01,2020-10-02), got {text!r}"
            ) from None
    return tuple(sorted(days))


def _seconds_list(env: Mapping[str, str], key: str, default: tuple[int, ...]) -> tuple[int, ...]:
    """Comma-separated whole seconds (0 allowed), e.g. retry back-off `30,120,600`; names a bad one."""
    raw = (env.get(key) or "").strip()
    if not raw:
        return default
    try:
        values = tuple(int(part) for part in raw.split(","))
    except ValueError:
        raise ConfigError(f"{key} must be comma-separated whole seconds (30,120,600), got {raw!r}") from None
    if any(v < 0 for v in values):
        raise ConfigError(f"{key} must not be negative, got {raw!r}")
    return values


class Config:
    """Settings shared by every environment; build one with `from_env`, never at import time."""

    NAME: ClassVar[str] = "base"
    DEBUG = False
    TESTING = False
    SQLALCHEMY_TRACK_MODIFICATIONS = False
    API_TITLE = "aidservice: Jiangsu student financial aid"
    API_VERSION = "v1"
    OPENAPI_VERSION = "3.0.3"
    OPENAPI_URL_PREFIX = "/api/v1"
    OPENAPI_JSON_PATH = "openapi.json"
    OPENAPI_SWAGGER_UI_PATH = "docs"
    OPENAPI_SWAGGER_UI_URL = "/api/v1/docs/assets/"  # served from the swagger-ui-bundle package, no CDN
    # The officer web UI: its session cookie and CSRF protection (Flask-WTF, checked by the web blueprint only;
    # the JSON API uses bearer tokens, which a browser never sends by itself).
    SESSION_COOKIE_NAME = "aid_session"
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    WTF_CSRF_CHECK_DEFAULT = False
    WTF_CSRF_TIME_LIMIT = 8 * 3600  # as long as a login session (services.auth.SESSION_LIFETIME)
    secure_cookies_by_default: ClassVar[bool] = False
    dev_defaults: ClassVar[bool] = False
    default_log_level: ClassVar[str] = "INFO"
    login_throttle_default: ClassVar[str | None] = None  # None: Redis when a URL is set, else the database
    rate_limits_by_default: ClassVar[bool] = True
    refuses_unsafe_keys: ClassVar[bool] = False

    def __init__(self, env: Mapping[str, str]) -> None:
        """Read every environment-dependent value now, once."""
        self.SQLALCHEMY_DATABASE_URI = database_url(env)
        self.SQLALCHEMY_ENGINE_OPTIONS = engine_options(self.SQLALCHEMY_DATABASE_URI, env)
        # Connections unused this long are pinged when taken from the pool (0: every time, as pool_pre_ping).
        self.AID_DB_PING_IDLE_SECONDS = _count(env, "AID_DB_PING_IDLE_SECONDS", 10)
        self.AID_RULES_DIR = env.get("AID_RULES_DIR") or str(RULES_DIR)
        self.AID_SCHOOL_YEAR = env.get("AID_SCHOOL_YEAR") or "2020-2021"
        self.MAX_CONTENT_LENGTH = _positive_int(env, "AID_MAX_BODY_BYTES", 16 * MIB)
        # Anonymous routes take small bodies (413 beyond, aidservice.jsonbody).
        self.AID_LOGIN_MAX_BYTES = _positive_int(env, "AID_LOGIN_MAX_BYTES", 16 * 1024)
        self.AID_EVALUATE_MAX_BYTES = _positive_int(env, "AID_EVALUATE_MAX_BYTES", 64 * 1024)
        self.AID_IMPORT_MAX_BYTES = _positive_int(env, "AID_IMPORT_MAX_BYTES", 8 * MIB)
        self.AID_IMPORT_MAX_ROWS = _positive_int(env, "AID_IMPORT_MAX_ROWS", 50_000)
        if (
            "AID_NOTICE_WORKING_DAYS" in env
        ):  # removed: refuse rather than silently ignore a deployment's value
            raise ConfigError(
                "AID_NOTICE_WORKING_DAYS is no longer read: the notice period is policy, "
                "procedure.notice_working_days in the rule set (rules/procedure.yaml)"
            )
        self.AID_HOLIDAYS = _holidays(env, "AID_HOLIDAYS")
        self.SECRET_KEY = self._secret(env, "SECRET_KEY", DEV_SECRET)
        self.AID_ID_HMAC_KEY = self._secret(env, "AID_ID_HMAC_KEY", DEV_HMAC_KEY)
        self.AID_ID_KEYS, self.AID_ID_KEY_CURRENT = self._id_keys(env)
        self.AID_ENV = self.NAME
        # Which secrets fell back to their published development value (the start-up warning names them).
        self.AID_DEV_KEYS_IN_USE = tuple(
            name for name in ("SECRET_KEY", "AID_ID_HMAC_KEY", "AID_ID_KEYS") if not env.get(name, "")
        )
        if self.refuses_unsafe_keys:
            self._refuse_unsafe_keys()
        # Secure cookies need TLS (directly or at the proxy in front): on by default in production only.
        self.SESSION_COOKIE_SECURE = _flag(env, "AID_SECURE_COOKIES", self.secure_cookies_by_default)
        self.AID_UI_LANGUAGE = (env.get("AID_UI_LANGUAGE") or "zh-CN").strip()
        if self.AID_UI_LANGUAGE not in ("zh-CN", "en"):
            raise ConfigError(f"AID_UI_LANGUAGE must be zh-CN or en, got {self.AID_UI_LANGUAGE!r}")
        # Behind N reverse proxies, trust their X-Forwarded-For/-Proto/-Host (scheme for HSTS, address for the throttle).
        self.AID_PROXY_HOPS = _count(env, "AID_PROXY_HOPS", 0)
        # GET /metrics: from this machine, or from anywhere with `Authorization: Bearer <token>` (unset: localhost only).
        self.AID_METRICS_TOKEN = env.get("AID_METRICS_TOKEN", "").strip() or None
        # HSTS is sent on requests that arrived over TLS; AID_HSTS=true sends it always (TLS ended at a proxy
        # that does not say so).
        self.AID_HSTS = _flag(env, "AID_HSTS", False)
        self.AID_LOG_LEVEL = _log_level(env, "AID_LOG_LEVEL", self.default_log_level)
        self.AID_WHATIF_FILE = env.get("AID_WHATIF_FILE") or str(instance_dir(env) / "whatif-last.json")
        # Draft rule sets an administrator may compare with the running rules (/whatif): one folder per draft.
        self.AID_DRAFT_RULES_DIR = env.get("AID_DRAFT_RULES_DIR") or str(instance_dir(env) / "drafts")
        # An uploaded ZIP of a draft rules folder: at most this many bytes (entries, depth, inflated size are
        # bounded too, services/determinations/whatif_drafts.py).
        self.AID_WHATIF_ZIP_MAX_BYTES = _count(env, "AID_WHATIF_ZIP_MAX_BYTES", 2 * 1024 * 1024)
        self._jobs(env)
        self.AID_REDIS_PREFIX = env.get("AID_REDIS_PREFIX") or "aidservice:"
        self.AID_LOGIN_THROTTLE = self._login_throttle(env)
        self._rate_limits(env)

    def _jobs(self, env: Mapping[str, str]) -> None:
        """Background jobs: RQ on Redis when a URL is set, else in-process (see aidservice/jobs)."""
        self.AID_REDIS_URL = (env.get("AID_REDIS_URL") or env.get("REDIS_URL") or "").strip() or None
        self.AID_JOB_QUEUE = (env.get("AID_JOB_QUEUE") or "aidservice").strip()
        if not re.fullmatch(r"[A-Za-z0-9_-]{1,64}", self.AID_JOB_QUEUE):
            raise ConfigError(
                f"AID_JOB_QUEUE must be 1-64 letters, digits, - or _, got {self.AID_JOB_QUEUE!r}"
            )
        self.AID_JOB_ATTEMPTS = _positive_int(env, "AID_JOB_ATTEMPTS", 3)
        self.AID_JOB_RETRY_INTERVALS = _seconds_list(env, "AID_JOB_RETRY_INTERVALS", (30, 120, 600))
        self.AID_JOB_TIMEOUT = _positive_int(env, "AID_JOB_TIMEOUT", 6 * 3600)
        self.AID_JOB_LEASE_SECONDS = _positive_int(env, "AID_JOB_LEASE_SECONDS", 900)
        self.AID_IMPORT_ASYNC_BYTES = _positive_int(env, "AID_IMPORT_ASYNC_BYTES", 2 * MIB)
        self.AID_REDETERMINE_CHUNK = _positive_int(env, "AID_REDETERMINE_CHUNK", 50_000)

    def _login_throttle(self, env: Mapping[str, str]) -> str:
        """Where failed sign-ins are counted: AID_LOGIN_THROTTLE, else Redis when configured, else the database."""
        default = self.login_throttle_default or ("redis" if self.AID_REDIS_URL else "database")
        backend = (env.get("AID_LOGIN_THROTTLE") or default).strip().lower()
        if backend not in LOGIN_THROTTLES:
            raise ConfigError(
                f"AID_LOGIN_THROTTLE must be one of {', '.join(LOGIN_THROTTLES)}, got {backend!r}"
            )
        if backend == "redis" and not self.AID_REDIS_URL:
            raise ConfigError("AID_LOGIN_THROTTLE=redis needs AID_REDIS_URL (or REDIS_URL)")
        return backend

    def _rate_limits(self, env: Mapping[str, str]) -> None:
        """Per-address request limits of the anonymous routes (aidservice/ratelimit.py), counted in Redis when
        AID_REDIS_URL is set (shared by every worker), else in each process's memory."""
        self.AID_RATELIMIT_ENABLED = _flag(env, "AID_RATELIMIT_ENABLED", self.rate_limits_by_default)
        self.AID_RATELIMIT_EVALUATE = _rate(env, "AID_RATELIMIT_EVALUATE", "60/minute")
        self.AID_RATELIMIT_LOGIN = _rate(env, "AID_RATELIMIT_LOGIN", "10/minute")

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Config:
        """Build this config from `env` (default: the process environment) as it is right now."""
        return cls(dict(os.environ if env is None else env))

    def _secret(self, env: Mapping[str, str], key: str, dev_default: str) -> str:
        """A secret from the environment; only development and testing may fall back to a known value."""
        value = env.get(key, "")
        if value:
            return value
        if self.dev_defaults:
            return dev_default
        raise ConfigError(f"{key} must be set in the environment for the {self.NAME} configuration")

    def _refuse_unsafe_keys(self) -> None:
        """Production: no development key, no weak or repeated key, no key reused for another purpose (one line
        naming the variable; the strength estimate is aidservice/keysafety.py)."""
        if self.SECRET_KEY == DEV_SECRET:
            raise ConfigError("SECRET_KEY is the published development key: production needs its own")
        if self.AID_ID_HMAC_KEY == DEV_HMAC_KEY:
            raise ConfigError("AID_ID_HMAC_KEY is the published development key: production needs its own")
        for reason in (
            weak_secret("SECRET_KEY", self.SECRET_KEY),
            weak_secret("AID_ID_HMAC_KEY", self.AID_ID_HMAC_KEY),
        ):
            if reason:
                raise ConfigError(reason)
        if self.AID_ID_HMAC_KEY == self.SECRET_KEY:
            raise ConfigError("AID_ID_HMAC_KEY equals SECRET_KEY: the matching key must be a separate secret")
        hmac_bytes = self.AID_ID_HMAC_KEY.encode()
        for key_id, key in self.AID_ID_KEYS.items():
            if key == base64.b64decode(DEV_KEY):
                raise ConfigError(
                    f"AID_ID_KEYS key {key_id!r} is the published development key: production needs its own"
                )
            reason = weak_aes_key(key_id, key)
            if reason:
                raise ConfigError(reason)
            if hmac_bytes in (key, base64.b64encode(key)) or self.SECRET_KEY.encode() in (
                key,
                base64.b64encode(key),
            ):
                raise ConfigError(
                    f"AID_ID_KEYS key {key_id!r} equals AID_ID_HMAC_KEY or SECRET_KEY: each key must be "
                    "a separate secret"
                )

    def _id_keys(self, env: Mapping[str, str]) -> tuple[dict[str, bytes], str]:
        """The AES-GCM keyring for identity numbers at rest; development and testing use a labelled dev key."""
        text = self._secret(env, "AID_ID_KEYS", f"{DEV_KEY_ID}:{DEV_KEY}")
        try:
            return parse_keys(text, env.get("AID_ID_KEY_CURRENT", ""))
        except KeyringError as exc:
            raise ConfigError(str(exc)) from None


class DevelopmentConfig(Config):
    """Local runs (`make run`): insecure defaults for the secrets are acceptable."""

    NAME = "development"
    dev_defaults = True


class TestingConfig(Config):
    """The test suite: Flask testing mode and known secrets."""

    NAME = "testing"
    TESTING = True
    __test__ = False  # pytest: not a test class despite the name
    dev_defaults = True
    default_log_level = "DEBUG"  # the suite's log scan sees every record (tests/log_scan_support.py)
    login_throttle_default = "memory"  # tests choose the database or Redis backend explicitly
    rate_limits_by_default = (
        False  # the suite signs in and evaluates far more often; tests/hostile turns them on
    )


class ProductionConfig(Config):
    """Deployments: every secret must come from the environment."""

    NAME = "production"
    secure_cookies_by_default = True
    refuses_unsafe_keys = True  # development keys, weak or repeated keys, one key for two purposes: no start


CONFIGS: dict[str, type[Config]] = {c.NAME: c for c in (DevelopmentConfig, TestingConfig, ProductionConfig)}


def load_config(env: Mapping[str, str] | None = None) -> Config:
    """Select the config class named by AID_ENV (default development) and build it from the same mapping."""
    env = dict(os.environ if env is None else env)
    name = env.get("AID_ENV", "development").strip() or "development"
    try:
        cls = CONFIGS[name]
    except KeyError:
        raise ConfigError(f"AID_ENV must be one of {', '.join(sorted(CONFIGS))}, got {name!r}") from None
    return cls.from_env(env)
