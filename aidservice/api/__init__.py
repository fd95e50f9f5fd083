"""The JSON API under /api/v1 (flask-smorest); resources are thin and keep their schemas beside them."""

from __future__ import annotations

from flask import Flask
from flask_smorest.spec.plugins import integerconverter2paramschema

from aidservice.api import (
    application_batch,
    applications,
    audit,
    decisions,
    evaluate,
    feeds,
    health,
    jobs,
    lists,
    login,
    notices,
    quota_guide,
    quotas,
    reports,
    roster,
    rules,
    whatif,
)
from aidservice.api.common import RowIdConverter
from aidservice.api.docs import register_docs_assets
from aidservice.api.reads import init_read_only
from aidservice.api.spec import AidApi
from aidservice.inputguard import init_input_guard


def register_api(app: Flask) -> None:
    """Bind an Api to `app`, register every resource with it (and so in the OpenAPI document, written when first
    read) and the docs assets."""
    api = AidApi(app)
    app.url_map.converters["int"] = RowIdConverter  # before any route is added: rules bind their converter
    api.register_converter(RowIdConverter, integerconverter2paramschema)
    for module in (
        health,
        evaluate,
        rules,
        audit,
        feeds,
        login,
        roster,
        lists,  # the lists' filter, sort, page and downloads (issue 19)
        applications,
        application_batch,  # batch actions (issue 19)
        decisions,
        quotas,
        quota_guide,  # guide ratios and proposed places (issue 18)
        notices,
        reports,  # periodic reports (issue 5)
        jobs,  # background jobs (issue 8)
        whatif,  # draft rules against the running ones (issue 18)
    ):
        api.register_blueprint(module.blp)
    app.register_blueprint(health.probes)  # /health/live, /health/ready: top level, for load balancers
    vocabulary = app.extensions["aid_rules"].vocabulary
    api.document_later(lambda spec: feeds.document_sources(spec, vocabulary))
    register_docs_assets(app)
    init_input_guard(app)  # app-wide: the web UI's forms reach the same database
    init_read_only(app)
