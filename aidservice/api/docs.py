"""Swagger UI assets served from the swagger-ui-bundle package: the docs work without internet access."""

from __future__ import annotations

from flask import Blueprint, Flask
from swagger_ui_bundle import swagger_ui_path


def register_docs_assets(app: Flask) -> None:
    """Serve the bundle where OPENAPI_SWAGGER_UI_URL points (flask-smorest's docs page loads it from there)."""
    prefix = app.config["OPENAPI_SWAGGER_UI_URL"].rstrip("/")
    assets = Blueprint("swagger_ui_assets", __name__, static_folder=swagger_ui_path, static_url_path="")
    app.register_blueprint(assets, url_prefix=prefix)
