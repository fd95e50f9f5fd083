"""The rules page: programs, amounts, citations and statuses of the loaded rule set, and the last what-if (the
newer of `aid whatif`'s kept summary and the last what-if job the reader may see)."""

from __future__ import annotations

from flask import current_app, render_template

from aidservice import wiring
from aidservice.extensions import db
from aidservice.services.determinations import whatif
from aidservice.web.pages import rules_overview
from aidservice.web.pages import whatif as whatif_page

from .blueprint import bp
from .session import actor


@bp.route("/rules")
def rules() -> str:
    settings = wiring.settings()
    data = rules_overview.overview(settings.rules, settings.default_as_of())
    kept = whatif.load(current_app.config["AID_WHATIF_FILE"])
    last = whatif_page.latest_summary(db.session(), actor(), kept)
    program_names = {p["id"]: p["name"] for p in data["programs"]}
    return render_template("web/rules.html", rules=data, whatif=last, program_names=program_names)
