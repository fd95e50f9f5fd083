"""Out-of-province status declarations as the officer's screen and the API show them: the status and the
source as the rule set names them, the province, the document, and what the school's officer found."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, TypedDict

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from aidservice.i18n_marker import N_
from aidservice.models import StatusDeclaration
from aidservice.services.applications.provinces import province_name

STATE_LABELS = {"pending": N_("待核实"), "verified": N_("已核实"), "rejected": N_("不予核实")}


class DocumentView(TypedDict):
    kind: str
    issuer: str
    number: str
    date: date


class DeclarationView(TypedDict):
    id: int
    position: int
    source: str
    source_label: str
    status: str
    status_label: str
    province: str
    province_name: str
    document: DocumentView
    state: str
    state_label: str
    verified_by: str | None
    verified_at: datetime | None
    note: str


DECLARATIONS_READ = (
    select(StatusDeclaration)
    .where(StatusDeclaration.application_id == bindparam("application_id"))
    .order_by(StatusDeclaration.position)
)


def declarations_of(session: Session, application_id: int) -> list[StatusDeclaration]:
    return list(session.execute(DECLARATIONS_READ, {"application_id": application_id}).scalars())


def status_label(rules: Any, source_id: str, status: str) -> str:
    """The status as the declared source names it (外省建档立卡), else the fact's label."""
    source = rules.vocabulary.source(source_id)
    found = source.status(status) if source is not None else None
    if found is not None and found.label:
        return str(found.label)
    spec = rules.facts.get(status)
    return str(spec.label) if spec is not None and spec.label else status


def declaration_view(rules: Any, d: StatusDeclaration) -> DeclarationView:
    source = rules.vocabulary.source(d.source)
    return {
        "id": d.id,
        "position": d.position,
        "source": d.source,
        "source_label": source.label if source is not None else d.source,
        "status": d.status,
        "status_label": status_label(rules, d.source, d.status),
        "province": d.province,
        "province_name": province_name(d.province),
        "document": {
            "kind": d.document_kind,
            "issuer": d.document_issuer,
            "number": d.document_number,
            "date": d.document_date,
        },
        "state": d.state,
        "state_label": STATE_LABELS.get(d.state, d.state),
        "verified_by": d.verified_by,
        "verified_at": d.verified_at,
        "note": d.note,
    }


def declaration_views(session: Session, rules: Any, application_id: int) -> list[DeclarationView]:
    return [declaration_view(rules, d) for d in declarations_of(session, application_id)]
