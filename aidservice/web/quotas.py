"""The quotas page for administrators (and auditors, read only): per county and school of their region, for a
stage and school year, the places set with funded, unfunded and shortfall, the stage's guide ratio and the
proposed places (services.applications.guide)."""

from __future__ import annotations

from flask import render_template, request

from aidservice import wiring
from aidservice.extensions import db
from aidservice.services.applications.guide import quota_guide
from aidservice.services.errors import ValidationFailed

from .blueprint import bp
from .session import actor


@bp.route("/quotas")
def quotas_page() -> tuple[str, int]:
    settings = wiring.settings()
    stage = (request.args.get("stage") or "preschool").strip()
    year = (request.args.get("school_year") or settings.school_year).strip()
    region = (request.args.get("region") or "").strip() or None
    stages = settings.rules.rules.facts["stage"].values
    form = {"stage": stage, "school_year": year, "region": region or ""}
    try:
        view = quota_guide(
            db.session(), actor=actor(), settings=settings, region=region, school_year=year, stage=stage
        )
    except ValidationFailed as exc:
        return render_template("web/quotas.html", form=form, stages=stages, view=None, errors=exc.errors), 422
    return render_template("web/quotas.html", form=form, stages=stages, view=view, errors={}), 200
