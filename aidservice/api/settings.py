"""The services' Settings for the running app, built from its config and loaded rules."""

from __future__ import annotations

from flask import current_app

from aidservice.services.context import Settings


def settings() -> Settings:
    """Settings for a service call in this request or command; services never read Flask's config."""
    config = current_app.config
    return Settings(
        rules=current_app.extensions["aid_rules"],
        school_year=config["AID_SCHOOL_YEAR"],
        id_hmac_key=config["AID_ID_HMAC_KEY"],
        notice_working_days=config.get("AID_NOTICE_WORKING_DAYS", 5),
        holidays=tuple(config.get("AID_HOLIDAYS", ())),
    )
