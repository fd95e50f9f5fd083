"""Reading the audit trail as the auditor's page does: events filtered and paged (newest first), the chain's state
(last verification, last checkpoint) and the verification that records its outcome in the chain.

Who reads it is `audit.browses_everything`, the rule the API's `/api/v1/audit` applies to every subject.
Filters are bounded before any query: text filters by length, dates by day, pages by number.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, timezone
from typing import Any

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from aidservice.models import Decision, User
from aidservice.models.audit import AuditCheckpoint, AuditEvent
from aidservice.services import audit
from aidservice.services.actors import Actor
from aidservice.services.applications import decisions
from aidservice.services.applications.decisions import ReplayView
from aidservice.services.context import Settings
from aidservice.services.errors import Forbidden, ValidationFailed

BEIJING = timezone(timedelta(hours=8))
PAGE_SIZE = 50
MAX_PAGE = 100_000
MAX_TEXT = {"subject": 160, "actor": 128, "action": 64}
VERIFIED = "audit.verified"
CHAIN_SUBJECT = "audit:chain"


@dataclass(frozen=True, slots=True)
class TrailFilter:
    """Which events: a subject (`student:S1` or just `S1`), an actor (`user:alice` or `alice`), an action, and
    days in Beijing time (both inclusive)."""

    subject: str = ""
    actor: str = ""
    action: str = ""
    since: date | None = None
    until: date | None = None


@dataclass(frozen=True, slots=True)
class TrailRow:
    seq: int
    occurred_at: datetime
    actor: str
    actor_role: str | None  # a user's role, to show the actor as people know them
    action: str
    subject: str
    hash: str
    summary: dict[str, Any]  # what the event recorded (no personal data: the trail keeps none)


@dataclass(frozen=True, slots=True)
class TrailPage:
    rows: list[TrailRow]
    total: int
    page: int
    pages: int


@dataclass(frozen=True, slots=True)
class Verification:
    """A verification recorded in the chain: when, by whom, how many events, intact or where it broke."""

    at: datetime
    actor: str
    checked: int
    intact: bool
    broken_seq: int | None
    reason: str | None


@dataclass(frozen=True, slots=True)
class Checkpoint:
    at: datetime
    seq: int
    chain_hash: str


@dataclass(frozen=True, slots=True)
class ChainState:
    length: int
    last_verification: Verification | None
    last_checkpoint: Checkpoint | None


def require_reader(actor: Actor) -> None:
    """Only those who read every subject browse the whole trail (the API's rule for `/api/v1/audit`)."""
    if not audit.browses_everything(actor):
        raise Forbidden("The audit trail is for auditors and the province administrators.")


def check_filter(raw: dict[str, str]) -> TrailFilter:
    """A filter from text fields (a form's or a query's): bounded, dates as YYYY-MM-DD; 422 naming the field."""
    errors: dict[str, list[str]] = {}
    texts = {}
    for name, limit in MAX_TEXT.items():
        value = (raw.get(name) or "").strip()
        if len(value) > limit:
            errors[name] = [f"at most {limit} characters"]
        texts[name] = value
    days: dict[str, date | None] = {}
    for name in ("since", "until"):
        value = (raw.get(name) or "").strip()
        try:
            days[name] = date.fromisoformat(value) if value else None
        except ValueError:
            errors[name] = ["a date such as 2020-09-01"]
            days[name] = None
    if days["since"] and days["until"] and days["since"] > days["until"]:
        errors["until"] = ["must not be before the start date"]
    if errors:
        raise ValidationFailed(errors, "The audit filter has invalid fields; see errors.")
    return TrailFilter(texts["subject"], texts["actor"], texts["action"], days["since"], days["until"])


def _like_suffix(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%:{escaped}"


def _named(column: Any, value: str) -> ColumnElement[bool]:
    """`kind:key` exactly, or a bare key under any kind."""
    if ":" in value:
        return column == value
    return column.like(_like_suffix(value), escape="\\")


def _beijing_midnight(day: date) -> datetime:
    return datetime.combine(day, time(0), BEIJING).astimezone(UTC)


def conditions(filters: TrailFilter) -> list[ColumnElement[bool]]:
    """The SQL conditions of a filter (also what `audit.events_for` is: one subject)."""
    where: list[ColumnElement[bool]] = []
    if filters.subject:
        where.append(_named(AuditEvent.subject, filters.subject))
    if filters.actor:
        where.append(_named(AuditEvent.actor, filters.actor))
    if filters.action:
        where.append(AuditEvent.action == filters.action)
    if filters.since:
        where.append(AuditEvent.occurred_at >= _beijing_midnight(filters.since))
    if filters.until:
        where.append(AuditEvent.occurred_at < _beijing_midnight(filters.until + timedelta(days=1)))
    return where


def search(
    session: Session, *, actor: Actor, filters: TrailFilter, page: int = 1, page_size: int = PAGE_SIZE
) -> TrailPage:
    """One page of the events matching `filters`, newest first (by position in the chain)."""
    require_reader(actor)
    audit.append_pending(session)
    page = min(max(page, 1), MAX_PAGE)
    page_size = min(max(page_size, 1), 200)
    where = conditions(filters)
    if where:
        total = session.execute(select(func.count()).select_from(AuditEvent).where(*where)).scalar_one()
    else:  # the whole chain: its seqs run 1..n without gaps (verify checks it), so no count over every row
        total = session.execute(select(func.coalesce(func.max(AuditEvent.seq), 0))).scalar_one()
    events = session.execute(
        select(AuditEvent)
        .where(*where)
        .order_by(AuditEvent.seq.desc())
        .offset((page - 1) * page_size)
        .limit(page_size)
    ).scalars()
    rows = list(events)
    roles = _roles(session, rows)
    return TrailPage(
        rows=[
            TrailRow(
                e.seq,
                e.occurred_at,
                e.actor,
                roles.get(e.actor),
                e.action,
                e.subject,
                e.hash,
                e.summary or {},
            )
            for e in rows
        ],
        total=total,
        page=page,
        pages=max(1, -(-total // page_size)),
    )


def _roles(session: Session, events: Sequence[AuditEvent]) -> dict[str, str]:
    names = {e.actor.partition(":")[2] for e in events if e.actor.startswith("user:")}
    if not names:
        return {}
    found = session.execute(select(User.username, User.role).where(User.username.in_(names)))
    return {f"user:{username}": role for username, role in found}


def chain_state(session: Session, *, actor: Actor) -> ChainState:
    """How long the chain is, its last recorded verification and its last checkpoint."""
    require_reader(actor)
    audit.append_pending(session)
    length = session.execute(select(func.coalesce(func.max(AuditEvent.seq), 0))).scalar_one()
    verified = session.execute(
        select(AuditEvent)
        .where(AuditEvent.subject == CHAIN_SUBJECT, AuditEvent.action == VERIFIED)
        .order_by(AuditEvent.seq.desc())
        .limit(1)
    ).scalar_one_or_none()
    checkpoint = session.execute(
        select(AuditCheckpoint).order_by(AuditCheckpoint.id.desc()).limit(1)
    ).scalar_one_or_none()
    return ChainState(
        length=int(length),
        last_verification=_verification(verified) if verified is not None else None,
        last_checkpoint=(
            Checkpoint(checkpoint.created_at, checkpoint.seq, checkpoint.chain_hash)
            if checkpoint is not None
            else None
        ),
    )


def _verification(event: AuditEvent) -> Verification:
    summary = event.summary or {}
    broken = summary.get("broken_seq")
    return Verification(
        at=event.occurred_at,
        actor=event.actor,
        checked=int(summary.get("checked", 0)),
        intact=bool(summary.get("intact")),
        broken_seq=int(broken) if broken is not None else None,
        reason=summary.get("reason"),
    )


def verify_and_record(session: Session, *, actor: Actor, request_id: str | None = None) -> Verification:
    """Verify the chain against its checkpoints and record the outcome in it (appended at the caller's commit).

    `audit.verify` reads in pages and detaches what it read; the caller re-attaches objects it still needs.
    """
    checked, broken = audit.verify(session)
    broken_seq = broken.seq if broken is not None else None
    reason = broken.reason if broken is not None else None
    summary = {"checked": checked, "intact": broken is None, "broken_seq": broken_seq, "reason": reason}
    audit.record(
        session, actor=actor, action=VERIFIED, subject=CHAIN_SUBJECT, summary=summary, request_id=request_id
    )
    return Verification(datetime.now(UTC), actor.label, checked, broken is None, broken_seq, reason)


@dataclass(frozen=True, slots=True)
class Replayed:
    """A decision replayed from the auditor's page, and the application it belongs to (for the way back)."""

    view: ReplayView
    application_id: int


def replay_recorded(
    session: Session, *, actor: Actor, settings: Settings, decision_id: int, request_id: str | None = None
) -> Replayed:
    """Replay a decision (`decisions.replay`, scope-checked there: anyone who may read the decision may replay it)
    and record that it was replayed and the outcome, whether from the auditor's page or the API."""
    view = decisions.replay(session, actor=actor, settings=settings, decision_id=decision_id)
    decision = session.get(Decision, decision_id)
    assert decision is not None  # replay found it
    audit.record(
        session,
        actor=actor,
        action="decision.replayed",
        subject=f"decision:{decision_id}",
        summary={
            "identical": view["identical"],
            "fields": [d["field"] for d in view["differences"]],
            "content_hash_matches": view["content_hash_matches"],
        },
        request_id=request_id,
    )
    return Replayed(view, decision.application_id)
