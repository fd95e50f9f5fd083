"""The composition root: what the entry points (api, web, cli, the job worker) build from the app for the services.

Services never read Flask's config; the entry points ask this module instead. `init_app` (called by
`create_app` for every app that serves requests, whichever blueprints it has) builds once per app, into
`app.extensions`:

- `aid_login_guard` (GUARD_KEY): the sign-in throttle (services.throttle, AID_LOGIN_THROTTLE), used by the API's
  and the web form's sign-in alike;
- `aid_device_tokens` (DEVICES_KEY): the device tokens that tell a known device at sign-in (services.devices);
- `aid_limiter`: the per-address rate limits of the anonymous routes (aidservice.ratelimit);
- `aid_job_services` (jobs.SERVICES): this module's providers for the jobs layer, which sits below the entry
  points and so never imports them (jobs.AppServices is the Protocol it calls through).

So an API-only app (`create_app(web=False)`) has the same protections as the full one. The ID vault
(`aid_ids`), the identity-number lookup counter (`aid_id_probes`) and the job runner (`aid_jobs`: RQ with
a Redis URL, in-process without) are built here on first use, from the config as it is then. Tests replace `settings` here (monkeypatch) to pin the services' date: every caller,
the jobs' provider included, looks it up in this module at call time.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import Flask, current_app

from aidservice import jobs
from aidservice.crypto import IdVault, vault_from_config
from aidservice.extensions import db
from aidservice.ratelimit import register_rate_limits
from aidservice.services.accounts.accounts import LoginGuard
from aidservice.services.accounts.devices import DeviceTokens
from aidservice.services.accounts.id_probes import Budget, counter_from_config
from aidservice.services.accounts.throttle import guard_from_config
from aidservice.services.context import Settings

GUARD_KEY = "aid_login_guard"
DEVICES_KEY = "aid_device_tokens"
VAULT_KEY = "aid_ids"
PROBES_KEY = "aid_id_probes"


def init_app(app: Flask) -> None:
    """Build the throttle, device tokens, rate limiter and job runner of `app`, after its blueprints (the
    limiter wraps the views marked `@rate_limited`), and give the jobs layer its providers."""
    app.extensions[GUARD_KEY] = guard_from_config(app.config, lambda: db.session())
    app.extensions[DEVICES_KEY] = DeviceTokens(app.config["SECRET_KEY"])
    register_rate_limits(app)
    app.extensions[jobs.SERVICES] = AppServices()


def id_vault() -> IdVault:
    """The app's identity-number keyring, built once from its config (AID_ID_KEYS, AID_ID_KEY_CURRENT)."""
    vault = current_app.extensions.get(VAULT_KEY)
    if vault is None:
        vault = current_app.extensions[VAULT_KEY] = vault_from_config(current_app.config)
    return vault


def settings() -> Settings:
    """Settings for a service call in this request or command; services never read Flask's config."""
    config = current_app.config
    return Settings(
        rules=current_app.extensions["aid_rules"],
        school_year=config["AID_SCHOOL_YEAR"],
        id_hmac_key=config["AID_ID_HMAC_KEY"],
        ids=id_vault(),
        holidays=tuple(config.get("AID_HOLIDAYS", ())),
    )


def id_probe_budget() -> Budget:
    """The per-account budget of identity-number lookups (services.id_probes), its counter built once."""
    counter = current_app.extensions.get(PROBES_KEY)
    if counter is None:
        counter = current_app.extensions[PROBES_KEY] = counter_from_config(
            current_app.config, lambda: db.session()
        )
    return Budget(counter, current_app.config["SECRET_KEY"])


def job_runner(app: Flask | None = None) -> jobs.Runner:
    """The app's job runner, built on first use from its config (jobs.build_runner)."""
    target = app if app is not None else current_app
    runner = target.extensions.get(jobs.EXTENSION)
    if runner is None:
        runner = target.extensions[jobs.EXTENSION] = jobs.build_runner(target.config)
    return runner


def login_guard() -> LoginGuard:
    """The app's sign-in throttle (built by `init_app`)."""
    return current_app.extensions[GUARD_KEY]


def device_tokens() -> DeviceTokens:
    """The app's device tokens (built by `init_app`)."""
    return current_app.extensions[DEVICES_KEY]


@dataclass(frozen=True, slots=True)
class AppServices:
    """jobs.AppServices for the jobs layer: each call goes to this module's function of the same name."""

    def settings(self) -> Settings:
        return settings()

    def id_probe_budget(self) -> Budget:
        return id_probe_budget()

    def id_vault(self) -> IdVault:
        return id_vault()

    def job_runner(self, app: Flask) -> jobs.Runner:
        return job_runner(app)


__all__ = [
    "DEVICES_KEY",
    "GUARD_KEY",
    "AppServices",
    "device_tokens",
    "id_probe_budget",
    "id_vault",
    "init_app",
    "job_runner",
    "login_guard",
    "settings",
]
