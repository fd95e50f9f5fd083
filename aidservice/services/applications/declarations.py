"""Out-of-province status declarations (policy §3a): taken with the application, verified by the school.

A student whose household holds 建档立卡, 低保 or 特困 status in another province declares it on the
application (`out_of_province`: [{status, province, document: {kind, issuer, number, date}}]); the statuses
that may be declared are those of the rule set's `declared` sources (sources.yaml). Each declaration starts
`pending`; the school's officer verifies it (`verified`) or not (`rejected`, with a reason) while the
application is still `submitted`, naming the version they saw, and the step is recorded in the history and
the audit trail (no document number or issuer there: a hash of the note, as for every action). Review is
refused while a declaration is pending. A verified declaration counts as the Jiangsu status does
(declared_facts); the application is evaluated again at once, on its recorded date.

Bounds: at most MAX_DECLARATIONS per application, one per status; texts bounded and plain; the document's
date neither in the future nor before EARLIEST_DOCUMENT; the province another than Jiangsu.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from aidservice.models import Application, StatusDeclaration
from aidservice.services.actors import Actor
from aidservice.services.applications.declaration_views import STATE_LABELS, status_label
from aidservice.services.applications.declared_facts import Verified, with_verified
from aidservice.services.applications.evaluation import (
    apply_evaluation,
    outcome_summary,
    override_of,
    reevaluate,
)
from aidservice.services.applications.history import record_action
from aidservice.services.applications.provinces import ProvinceRefused, province_code, province_name
from aidservice.services.applications.reading import load
from aidservice.services.applications.scope import check_act
from aidservice.services.applications.values import now
from aidservice.services.context import Settings
from aidservice.services.errors import Conflict, ValidationFailed
from aidservice.services.hidden import not_found
from aidservice.services.plaintext import name_problem, note_problem

FIELD = "out_of_province"
MAX_DECLARATIONS = 5
KIND_MAX = 64
ISSUER_MAX = 128
NUMBER_MAX = 64
NOTE_MAX = 500
EARLIEST_DOCUMENT = date(2000, 1, 1)
RESULTS = ("verified", "rejected")
ACTION = "verify_declaration"
ITEM_KEYS = frozenset({"status", "province", "document"})
DOCUMENT_TEXTS = (
    ("kind", KIND_MAX, "证明种类"),
    ("issuer", ISSUER_MAX, "出具单位"),
    ("number", NUMBER_MAX, "证明编号"),
)


@dataclass(frozen=True, slots=True)
class DeclarationInput:
    source: str
    status: str
    province: str
    kind: str
    issuer: str
    number: str
    date: date


@dataclass(frozen=True, slots=True)
class VerifyRequest:
    result: str
    version: int
    note: str = ""


def declarable(rules: Any) -> dict[str, str]:
    """Status -> the declared source offering it (the first, in file order), from the rule set."""
    out: dict[str, str] = {}
    for source_id, statuses in rules.vocabulary.declarable("declared").items():
        for status in statuses:
            out.setdefault(status, source_id)
    return out


# ----------------------------------------------------------------------------------------- taking


def parse_declarations(rules: Any, raw: object, today: date) -> list[DeclarationInput]:
    """The declarations of a new application, checked; errors named `out_of_province.<i>.<field>`."""
    if raw is None:
        return []
    if not isinstance(raw, Sequence) or isinstance(raw, str | bytes):
        raise ValidationFailed({FIELD: ["须为申报列表"]})
    if len(raw) > MAX_DECLARATIONS:
        raise ValidationFailed({FIELD: [f"每份申请最多申报 {MAX_DECLARATIONS} 项外省身份"]})
    offered = declarable(rules)
    errors: dict[str, list[str]] = {}
    out: list[DeclarationInput] = []
    seen: set[str] = set()
    for i, item in enumerate(raw):
        key = f"{FIELD}.{i}"
        if not isinstance(item, Mapping):
            errors[key] = ["须为对象 {status, province, document}"]
            continue
        for name in sorted(set(map(str, item)) - ITEM_KEYS):
            errors[f"{key}.{name}"] = ["未知字段"]
        status = item.get("status")
        if not isinstance(status, str) or status not in offered:
            names = "、".join(f"{s}（{status_label(rules, src, s)}）" for s, src in offered.items())
            errors[f"{key}.status"] = [
                f"须为规则允许申报的外省身份之一：{names}" if names else "规则未允许申报外省身份"
            ]
        elif status in seen:
            errors[f"{key}.status"] = ["同一身份只能申报一次"]
        else:
            seen.add(status)
        try:
            province = province_code(item.get("province"))
        except ProvinceRefused as exc:
            errors[f"{key}.province"] = [str(exc)]
            province = ""
        document = _document(item.get("document"), f"{key}.document", today, errors)
        if f"{key}.status" not in errors and province and document is not None:
            out.append(DeclarationInput(offered[str(status)], str(status), province, *document))
    if errors:
        raise ValidationFailed(errors, "申报的外省身份有误，见各字段说明。")
    return out


def _document(
    raw: object, key: str, today: date, errors: dict[str, list[str]]
) -> tuple[str, str, str, date] | None:
    if not isinstance(raw, Mapping):
        errors[key] = ["须填写证明材料 {kind, issuer, number, date}"]
        return None
    ok = True
    for name in sorted(set(map(str, raw)) - {"kind", "issuer", "number", "date"}):
        errors[f"{key}.{name}"] = ["未知字段"]
        ok = False
    texts: list[str] = []
    for name, limit, label in DOCUMENT_TEXTS:
        value = raw.get(name)
        text = value.strip() if isinstance(value, str) else ""
        problem = None
        if not text:
            problem = f"请填写{label}"
        elif len(text) > limit:
            problem = f"{label}最多 {limit} 个字符"
        elif name_problem(text) is not None:
            problem = f"{label}须为一行文字，不含控制字符"
        if problem:
            errors[f"{key}.{name}"] = [problem]
            ok = False
        texts.append(text)
    day = _date(raw.get("date"), f"{key}.date", today, errors)
    if not ok or day is None:
        return None
    return texts[0], texts[1], texts[2], day


def _date(value: object, key: str, today: date, errors: dict[str, list[str]]) -> date | None:
    try:
        day = value if isinstance(value, date) else date.fromisoformat(str(value or ""))
    except ValueError:
        errors[key] = ["请填写证明日期，格式 YYYY-MM-DD"]
        return None
    if day > today:
        errors[key] = [f"证明日期不能晚于今天（{today.isoformat()}）"]
        return None
    if day < EARLIEST_DOCUMENT:
        errors[key] = [f"证明日期不能早于 {EARLIEST_DOCUMENT.isoformat()}"]
        return None
    return day


def add_declarations(
    session: Session, application: Application, items: Sequence[DeclarationInput], actor: Actor
) -> None:
    """The new application's declarations, each pending."""
    for position, item in enumerate(items):
        session.add(
            StatusDeclaration(
                application_id=application.id,
                position=position,
                source=item.source,
                status=item.status,
                province=item.province,
                document_kind=item.kind,
                document_issuer=item.issuer,
                document_number=item.number,
                document_date=item.date,
                state="pending",
                note="",
                created_by=actor.label,
                created_at=now(),
            )
        )
    if items:
        session.flush()


# ------------------------------------------------------------------------------------ evaluation


def verified_of(session: Session, application_id: int) -> tuple[Verified, ...]:
    """The application's verified declarations, for its evaluation."""
    rows = session.execute(
        select(StatusDeclaration.id, StatusDeclaration.source, StatusDeclaration.status).where(
            StatusDeclaration.application_id == application_id, StatusDeclaration.state == "verified"
        )
    ).all()
    return tuple(Verified(row.id, row.source, row.status) for row in rows)


def refuse_pending(session: Session, settings: Settings, application: Application) -> None:
    """Review waits for every declaration to be verified or rejected: 409 naming the pending ones."""
    pending = session.execute(
        select(StatusDeclaration)
        .where(StatusDeclaration.application_id == application.id, StatusDeclaration.state == "pending")
        .order_by(StatusDeclaration.position)
    ).scalars()
    named = {
        f"{FIELD}.{d.position}": f"第 {d.position + 1} 项 {status_label(settings.rules, d.source, d.status)}"
        f"（{province_name(d.province)}，{d.document_kind}）待核实"
        for d in pending
    }
    if named:
        raise Conflict(
            "申报的外省身份尚未核实：" + "；".join(named.values()) + "。请先核实或不予核实，再评议。",
            {key: ["待核实：评议前须核实或不予核实"] for key in named},
        )


# ------------------------------------------------------------------------------------ verifying


def verify(
    session: Session,
    *,
    actor: Actor,
    settings: Settings,
    application_id: int,
    declaration_id: int,
    request: VerifyRequest,
    request_id: str | None = None,
) -> Application:
    """The school's officer verifies a pending declaration (or not, with a reason) before review.

    404: no such application or declaration in your scope; 403: a reader of the school who may not act;
    422: a bad result, a rejection without a reason; 409: a stale version, the application past `submitted`,
    the declaration decided already.
    """
    application = load(session, application_id)
    check_act(actor, application.school, f"Application {application_id}", "application")
    declaration = session.get(StatusDeclaration, declaration_id)
    if declaration is None or declaration.application_id != application.id:
        raise not_found("declaration")
    note = (request.note or "").strip()
    if request.result not in RESULTS:
        raise ValidationFailed({"result": ["须为 verified（核实）或 rejected（不予核实）"]})
    if (problem := note_problem(note, NOTE_MAX)) is not None:
        raise ValidationFailed({"note": [problem]})
    if request.result == "rejected" and not note:
        raise ValidationFailed({"note": ["不予核实须填写理由"]})
    if request.version != application.version:
        raise Conflict(
            f"此申请已被更新（您看到的是第 {request.version} 版，当前为第 {application.version} 版），请刷新后重新办理。",
            {"version": [f"stale: current version is {application.version}"]},
        )
    if application.state != "submitted":
        raise Conflict(
            "外省身份须在评议前核实；此申请已不在“已提交”状态。",
            {"action": [f"not allowed while the application is {application.state}"]},
        )
    if declaration.state != "pending":
        raise Conflict(
            f"第 {declaration.position + 1} 项申报已{STATE_LABELS[declaration.state]}，不能再次办理。",
            {"declaration": [f"already {declaration.state}"]},
        )
    declaration.state = request.result
    declaration.verified_by = actor.label
    declaration.verified_at = now()
    declaration.note = note
    if request.result == "verified":
        verified = Verified(declaration.id, declaration.source, declaration.status)
        application.facts = with_verified(application.facts, [verified])
        apply_evaluation(application, reevaluate(settings, application, override_of(application)))
    try:
        application.updated_at = now()  # the step bumps the version: the page the officer saw is stale
        session.flush()
    except StaleDataError:
        raise Conflict(
            "此申请刚被他人更新，请刷新后重新办理。",
            {"version": ["stale: the application has changed since you loaded it"]},
        ) from None
    details = {
        "declaration_id": declaration.id,
        "status": declaration.status,
        "province": declaration.province,
        "result": request.result,
    }
    record_action(
        session,
        application,
        actor=actor,
        action=ACTION,
        from_state=application.state,
        note=note,
        details=details,
        summary={**details, **outcome_summary(application)},
        request_id=request_id,
    )
    return application
