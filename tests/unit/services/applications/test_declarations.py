"""Out-of-province statuses (policy §3a): declared with a document, verified by the school before review; a
verified one counts as the Jiangsu status does (source declared_verified), pending or rejected ones nothing."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from flask import Flask

from aidservice.extensions import db
from aidservice.models import Application, StatusDeclaration
from aidservice.services.applications import actions, decisions, declarations, notices, submission
from aidservice.services.applications.declaration_views import declarations_of
from aidservice.services.applications.values import ActionRequest
from aidservice.services.errors import Conflict, NotFound, ValidationFailed
from tests.world.applications import (
    SUBMITTED,
    World,
    body,
    decisions_of,
    events,
    service_settings,
    world_fixture,  # noqa: F401 - fixture "world"
)

pytestmark = pytest.mark.databases

ANHUI_POOR = {
    "status": "registered_poor",
    "province": "安徽",
    "document": {
        "kind": "建档立卡证明",
        "issuer": "阜阳市乡村振兴局",
        "number": "AH-2020-0017",
        "date": "2020-06-30",
    },
}


def submitted(app: Flask, world: World, *items: dict[str, Any]) -> Application:
    world.student("D1")
    application = submission.create_application(
        db.session,
        actor=world.actor("officer"),
        settings=service_settings(app),
        payload=body("D1", declared={}, out_of_province=list(items)),
    )
    db.session.commit()
    return application


def _rows(application: Application) -> list[StatusDeclaration]:
    return declarations_of(db.session, application.id)


def decide_on(
    app: Flask, world: World, application: Application, result: str, note: str = "", who: str = "officer"
) -> Application:
    (declaration,) = _rows(application)
    done = declarations.verify(
        db.session,
        actor=world.actor(who),
        settings=service_settings(app),
        application_id=application.id,
        declaration_id=declaration.id,
        request=declarations.VerifyRequest(result, application.version, note),
    )
    db.session.commit()
    return done


def step(
    app: Flask, world: World, application: Application, action: str, today: Any = SUBMITTED
) -> Application:
    done = actions.act(
        db.session,
        actor=world.actor("officer"),
        settings=service_settings(app, today),
        application_id=application.id,
        request=ActionRequest(action=action, version=application.version),
    )
    db.session.commit()
    return done


def test_a_pending_declaration_counts_for_nothing_and_review_waits_for_it(app: Flask, world: World) -> None:
    application = submitted(app, world, ANHUI_POOR)
    assert application.level == "none"
    assert "registered_poor" not in application.facts
    (declaration,) = _rows(application)
    assert (declaration.state, declaration.province, declaration.document_kind) == (
        "pending",
        "34",
        "建档立卡证明",
    )
    with pytest.raises(Conflict) as refused:
        step(app, world, application, "review")
    assert "第 1 项 外省建档立卡（安徽省，建档立卡证明）待核实" in refused.value.detail
    assert "out_of_province.0" in refused.value.errors


def test_a_verified_declaration_makes_the_student_special_with_its_source_and_replays(
    app: Flask, world: World
) -> None:
    application = submitted(app, world, ANHUI_POOR)
    version = application.version
    application = decide_on(app, world, application, "verified")
    assert application.version == version + 1
    assert application.level == "special"
    (declaration,) = _rows(application)
    assert application.facts["registered_poor"] == {
        "value": True,
        "source": "declared_verified",
        "record_ids": [],
        "declaration_ids": [declaration.id],
    }
    (reason,) = [r for r in application.result["reasons"] if r["clause"] == "special_registered_poor"]
    assert reason["declared"][0]["label"] == "外省建档立卡（已核实）"
    assert reason["declared"][0]["source_label"] == "外省认定（本人申报、学校核实）"
    assert declaration.state == "verified" and declaration.verified_by
    (event,) = events("application.verify_declaration")
    assert event.summary["result"] == "verified" and event.summary["level"] == "special"
    assert "AH-2020-0017" not in str(event.summary)  # no document number in the audit trail

    application = step(app, world, application, "review")
    application = step(app, world, application, "publish_notice")
    later = notices.notice_period_end(service_settings(app), SUBMITTED) + timedelta(days=1)
    application = step(app, world, application, "approve", later)
    (first, *_rest) = decisions_of(application.id, current=True)
    assert first.facts["registered_poor"]["source"] == "declared_verified"
    assert first.explanation["reasons"][0]["declared"][0]["label"] == "外省建档立卡（已核实）"
    replayed = decisions.replay(
        db.session, actor=world.actor("officer"), settings=service_settings(app), decision_id=first.id
    )
    assert replayed["identical"], replayed["differences"]


def test_a_rejected_declaration_counts_for_nothing_and_needs_a_reason(app: Flask, world: World) -> None:
    application = submitted(app, world, ANHUI_POOR)
    with pytest.raises(ValidationFailed) as refused:
        decide_on(app, world, application, "rejected")
    assert "note" in refused.value.errors
    db.session.rollback()
    application = decide_on(app, world, application, "rejected", "证明编号与出具单位不符")
    assert application.level == "none"
    assert "registered_poor" not in application.facts
    with pytest.raises(Conflict) as again:
        decide_on(app, world, application, "verified")
    assert "已不予核实" in again.value.detail
    db.session.rollback()
    assert step(app, world, application, "review").state == "reviewed"


def test_a_declaration_is_verified_only_before_review_by_the_schools_officer(
    app: Flask, world: World
) -> None:
    application = submitted(app, world, ANHUI_POOR)
    with pytest.raises(NotFound):
        decide_on(app, world, application, "verified", who="other_officer")
    db.session.rollback()
    stale = declarations.VerifyRequest("verified", application.version - 1)
    with pytest.raises(Conflict):
        declarations.verify(
            db.session,
            actor=world.actor("officer"),
            settings=service_settings(app),
            application_id=application.id,
            declaration_id=_rows(application)[0].id,
            request=stale,
        )


def test_reassessment_keeps_a_verified_status(app: Flask, world: World) -> None:
    application = decide_on(app, world, submitted(app, world, ANHUI_POOR), "verified")
    application = step(app, world, application, "review")
    application = step(app, world, application, "publish_notice")
    later = notices.notice_period_end(service_settings(app), SUBMITTED) + timedelta(days=1)
    application = step(app, world, application, "approve", later)
    reassessed = actions.act(
        db.session,
        actor=world.actor("officer"),
        settings=service_settings(app, later),
        application_id=application.id,
        request=ActionRequest(action="reassess", version=application.version, note="春季学期重新认定"),
    )
    assert reassessed.level == "special"
    assert reassessed.facts["registered_poor"]["source"] == "declared_verified"


def test_spring_re_identification_keeps_a_verified_status(app: Flask, world: World) -> None:
    application = decide_on(app, world, submitted(app, world, ANHUI_POOR), "verified")
    application = step(app, world, application, "review")
    application = step(app, world, application, "publish_notice")
    later = notices.notice_period_end(service_settings(app), SUBMITTED) + timedelta(days=1)
    step(app, world, application, "approve", later)
    result = app.test_cli_runner().invoke(
        args=["aid", "semester", "open", "--school-year", "2020-2021", "--semester", "spring"]
    )
    assert result.exit_code == 0, result.output
    assert "1 approved application(s) re-identified, 1 unchanged, 0 flagged for review" in result.output
