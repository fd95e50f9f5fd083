"""The rules page: programs, amounts, citations and statuses of the loaded rule set, and the last what-if."""

from __future__ import annotations

from flask import current_app, render_template

from aidservice import wiring
from aidservice.services.determinations import whatif
from aidservice.web.pages import rules_overview

from .blueprint import bp


@bp.route("/rules")
def rules() -> str:
    settings = wiring.settings()
    data = rules_overview.overview(settings.rules, settings.default_as_of())
    last = whatif.load(current_app.config["AID_WHATIF_FILE"])
    program_names = {p["id"]: p["name"] for p in data["programs"]}
    return render_template("web/rules.html", rules=data, whatif=last, program_names=program_names)
