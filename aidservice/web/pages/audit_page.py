"""What the auditor's page shows of the trail and of a replay: actions, actors and replayed values as people
read them (labels from i18n; levels, kinds and statuses by their labels), times in Beijing time."""

from __future__ import annotations

from typing import Any, TypedDict

from flask import url_for

from aidservice import i18n
from aidservice.i18n_audit import BROKEN_REASONS, SUBJECT_KINDS
from aidservice.services.audit_trail import ChainState, TrailRow
from aidservice.web.ui import _, language, source_label

HASH_SHOWN = 12


class EventView(TypedDict):
    seq: int
    time: str
    actor: str
    action: str
    subject: str  # as recorded (kind:key), for the filter
    subject_label: str  # the kind by its label, then the key: 学生 S1-001, 部门数据批次 民政部门/b-17
    subject_url: str | None  # the subject's page (a student, an application, a school's roster, a region)
    detail: str  # what the event recorded, as people read it (a reason, places before and after, states)
    application_id: int | None  # the application the event concerns: its page has the decisions to replay
    hash: str
    short_hash: str


class DifferenceView(TypedDict):
    field: str
    recorded: str
    replayed: str


def action_label(action: str) -> str:
    """An action by its Chinese label (`application.<step>` by the step's); unknown actions as recorded."""
    lang = language()
    if action in i18n.AUDIT_ACTIONS:
        return i18n.label(i18n.AUDIT_ACTIONS, action, lang)
    kind, _sep, step = action.partition(".")
    if kind == "application" and step in i18n.ACTIONS:
        return _("申请：{step}", step=i18n.label(i18n.ACTIONS, step, lang))
    return action


def actor_label(actor: str, role: str | None) -> str:
    """`user:alice` as alice（审计人员）, an agency client by name, the system as 系统."""
    kind, _sep, name = actor.partition(":")
    if kind == "user":
        return f"{name}（{i18n.label(i18n.ROLES, role, language())}）" if role else name
    if kind == "client":
        return _("{name}（部门接口）", name=name)
    if kind == "system":
        return _("系统") if name in ("", "system") else _("系统（{name}）", name=name)
    return actor


def reason_label(reason: str | None) -> str:
    """Why the chain broke, in the page's language (the service's reasons are the CLI's English)."""
    for fragment, label in BROKEN_REASONS:
        if reason and fragment in reason:
            return _(label)
    return reason or ""


SUBJECT_PAGES = {  # a subject's kind: the page that shows it, and the name of its URL variable
    "student": ("web.student", "student_id"),
    "school": ("web.students", "school"),
    "region": ("web.region_page", "code"),
}


def subject_label(subject: str) -> str:
    """A subject as people read it: the kind's label and the key; a batch's source and a report's kind by their
    labels (`batch:civil_affairs/b-17` -> 部门数据批次 民政部门/b-17); a bulk determination by its kind alone (its
    cause is the service's own words, kept in the title); an unknown kind as recorded."""
    kind, sep, key = subject.partition(":")
    if not sep or kind not in SUBJECT_KINDS:
        return subject
    if kind == "determinations":  # the key is the run's cause as the service wrote it; the details name it
        return _(SUBJECT_KINDS[kind])
    head, slash, rest = key.partition("/")
    if kind == "batch" and slash:
        key = f"{source_label(head)}/{rest}"
    elif kind == "report" and slash:
        key = f"{i18n.label(i18n.REPORT_KINDS, head, language())}/{rest}"
    return f"{_(SUBJECT_KINDS[kind])} {key}"


def subject_url(subject: str) -> str | None:
    kind, _sep, key = subject.partition(":")
    if kind == "application" and key.isdigit():
        return url_for("web.application", application_id=int(key))
    if kind in SUBJECT_PAGES and key:
        endpoint, name = SUBJECT_PAGES[kind]
        values: dict[str, Any] = {name: key}
        return url_for(endpoint, **values)
    return None


def event_detail(summary: dict[str, Any]) -> str:
    """The parts of an event's summary people look for: a reason, places set, a state change."""
    lang, parts = language(), []
    places = summary.get("places")
    if isinstance(places, dict):
        before = places.get("before")
        parts.append(
            _("名额 {before} → {after}", before="—" if before is None else before, after=places.get("after"))
        )
    if summary.get("from_state") and summary.get("to_state") and summary["from_state"] != summary["to_state"]:
        parts.append(
            f"{i18n.label(i18n.STATES, summary['from_state'], lang)} → {i18n.label(i18n.STATES, summary['to_state'], lang)}"
        )
    for key in ("reason", "note"):
        if isinstance(summary.get(key), str) and summary[key].strip():
            parts.append(_("理由：{reason}", reason=summary[key].strip()))
    return "；".join(parts)


def event_view(row: TrailRow, names: dict[str, str]) -> EventView:
    """An event as the page lists it; `names`: services.people.actor_names of the page's actors (people by name
    and role, an agency's client by its source's label, the service as 系统)."""
    named = names.get(row.actor)
    summary = row.summary
    application_id = summary.get("application_id")
    return {
        "seq": row.seq,
        "time": i18n.format_datetime(row.occurred_at, language()),
        "actor": i18n.translate(named, language()) if named else actor_label(row.actor, row.actor_role),
        "action": action_label(row.action),
        "subject": row.subject,
        "subject_label": subject_label(row.subject),
        "subject_url": subject_url(row.subject),
        "detail": event_detail(summary),
        "application_id": application_id if isinstance(application_id, int) else None,
        "hash": row.hash,
        "short_hash": row.hash[:HASH_SHOWN],
    }


def chain_view(state: ChainState) -> dict[str, Any]:
    """The chain's length, its last verification and checkpoint as sentences."""
    lang = language()
    verified, checkpoint = state.last_verification, state.last_checkpoint
    verification = None
    if verified is not None:
        outcome = (
            _("完整（已校验 {checked} 条）", checked=verified.checked)
            if verified.intact
            else _(
                "已损坏：第 {seq} 条（{reason}）",
                seq=verified.broken_seq,
                reason=reason_label(verified.reason),
            )
        )
        verification = {
            "time": i18n.format_datetime(verified.at, lang),
            "outcome": outcome,
            "intact": verified.intact,
        }
    return {
        "length": state.length,
        "verification": verification,
        "checkpoint": (
            {
                "time": i18n.format_datetime(checkpoint.at, lang),
                "seq": _("第 {seq} 条", seq=checkpoint.seq),
                "hash": checkpoint.chain_hash,
                "short_hash": checkpoint.chain_hash[:HASH_SHOWN],
            }
            if checkpoint is not None
            else None
        ),
    }


def replay_value(field: str, value: object) -> str:
    """A replayed or recorded value as people read it."""
    lang = language()
    if value is None or value == "" or value == []:
        return "—"
    if isinstance(value, bool):
        return _("是") if value else _("否")
    if isinstance(value, list):
        return "、".join(str(v) for v in value)
    if field in ("level", "level_override"):
        return i18n.label(i18n.LEVELS, value, lang)
    if field == "kind":
        return i18n.label(i18n.KINDS, value, lang)
    if field == "rule_status":
        return i18n.label(i18n.STATUSES, value, lang)
    if field == "as_of":
        return i18n.format_date(value, lang)
    if field == "amount":
        return i18n.format_money(value)
    return str(value)


def differences(found: list[dict[str, Any]]) -> list[DifferenceView]:
    lang = language()
    return [
        {
            "field": i18n.label(i18n.REPLAY_FIELDS, d["field"], lang),
            "recorded": replay_value(d["field"], d["recorded"]),
            "replayed": replay_value(d["field"], d["replayed"]),
        }
        for d in found
    ]


def action_choices() -> list[tuple[str, str]]:
    """The filter's actions: every labelled one (and each application step), by label."""
    steps = [f"application.{step}" for step in i18n.ACTIONS]
    return sorted(((a, action_label(a)) for a in [*i18n.AUDIT_ACTIONS, *steps]), key=lambda c: c[1])
