"""The services' Settings for the running app, built from its config and loaded rules."""

from __future__ import annotations

from flask import current_app

from aidservice.crypto import IdVault, vault_from_config
from aidservice.extensions import db
from aidservice.services.context import Settings
from aidservice.services.id_probes import Budget, counter_from_config


def id_vault() -> IdVault:
    """The app's identity-number keyring, built once from its config (AID_ID_KEYS, AID_ID_KEY_CURRENT)."""
    vault = current_app.extensions.get("aid_ids")
    if vault is None:
        vault = current_app.extensions["aid_ids"] = vault_from_config(current_app.config)
    return vault


def settings() -> Settings:
    """Settings for a service call in this request or command; services never read Flask's config."""
    config = current_app.config
    return Settings(
        rules=current_app.extensions["aid_rules"],
        school_year=config["AID_SCHOOL_YEAR"],
        id_hmac_key=config["AID_ID_HMAC_KEY"],
        ids=id_vault(),
        notice_working_days=config.get("AID_NOTICE_WORKING_DAYS", 5),
        holidays=tuple(config.get("AID_HOLIDAYS", ())),
    )


def id_probe_budget() -> Budget:
    """The per-account budget of identity-number lookups (services.id_probes), its counter built once."""
    counter = current_app.extensions.get("aid_id_probes")
    if counter is None:
        counter = current_app.extensions["aid_id_probes"] = counter_from_config(
            current_app.config, lambda: db.session()
        )
    return Budget(counter, current_app.config["SECRET_KEY"])
