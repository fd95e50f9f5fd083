"""The quotas page for administrators (and auditors, read only): per county and school of their region, for a
stage and school year, the places set with funded, unfunded and shortfall, the stage's guide ratio and the
proposed places (services.applications.guide); administrators set a school's places with a reason (the
quota service: re-allocated at once, audited with the reason)."""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from aidservice import wiring
from aidservice.extensions import db
from aidservice.requestid import current_request_id
from aidservice.services.applications.guide import quota_guide
from aidservice.services.applications.quotas import put_quota
from aidservice.services.errors import ValidationFailed
from aidservice.services.lists.choices import region_choices, stages_taught
from aidservice.unit_of_work import unit_of_work

from .blueprint import bp
from .forms import QuotaPlacesForm
from .session import actor
from .ui import _


@bp.route("/quotas")
def quotas_page() -> tuple[str, int]:
    return _page(request.args.get("stage"), request.args.get("school_year"), request.args.get("region"))


def _page(
    stage: str | None,
    school_year: str | None,
    region: str | None,
    *,
    problems: dict[str, list[str]] | None = None,
) -> tuple[str, int]:
    settings = wiring.settings()
    stages = settings.rules.rules.facts["stage"].values
    if not stage:  # the first stage the region's schools teach, not an empty table
        taught = stages_taught(db.session(), actor=actor())
        stage = next((s for s in stages if s in taught), stages[0] if stages else "preschool")
    stage = stage.strip()
    year = (school_year or settings.school_year).strip()
    region = (region or "").strip() or None
    form = {"stage": stage, "school_year": year, "region": region or ""}
    regions = region_choices(db.session(), actor=actor())
    context = {
        "form": form,
        "stages": stages,
        "regions": regions,
        "may_set": actor().is_admin,
        "problems": problems or {},
    }
    try:
        view = quota_guide(
            db.session(), actor=actor(), settings=settings, region=region, school_year=year, stage=stage
        )
    except ValidationFailed as exc:
        return render_template("web/quotas.html", view=None, errors=exc.errors, **context), 422
    return render_template("web/quotas.html", view=view, errors={}, **context), 422 if problems else 200


@bp.route("/quotas/places", methods=["POST"])
def set_places() -> Response | tuple[str, int]:
    form = QuotaPlacesForm()
    back = {k: request.form.get(f"back_{k}") or None for k in ("stage", "school_year", "region")}
    if not form.validate_on_submit():
        return _page(**back, problems={k: [_(m) for m in v] for k, v in form.errors.items()})
    try:
        with unit_of_work() as uow:
            put_quota(
                uow.session,
                actor=actor(),
                settings=wiring.settings(),
                school_code=form.school_code.data,
                program=form.program.data,
                school_year=form.school_year.data,
                places=form.places.data,
                reason=form.reason.data or "",
                request_id=current_request_id(),
            )
    except ValidationFailed as exc:
        return _page(**back, problems=exc.errors)
    flash(_("名额已保存，已按新名额重新分配。"), "ok")
    kept: dict[str, Any] = {k: v for k, v in back.items() if v}
    return redirect(url_for("web.quotas_page", **kept), 303)
