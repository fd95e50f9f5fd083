"""Applications and their procedure (教财〔2018〕16号): application with the written commitment, class review,
public notice (公示), objection and its review (复核), approval or rejection.

Scopes: a school officer creates and acts on the applications of their own school only. Administrators
read the applications of their region and auditors all of them, but neither acts: identification is
the school's procedure (its review group and aid office), administrators set quotas and oversee.
Agency clients never reach applications.

Lock order, as in every writer: the writers' mutex first where an action changes shared rows (a notice,
decisions and quotas: `audit.lock_writers`), then rows, and the audit chain head last, at commit. Taking
an application and the steps that change only the application (review, objection, its resolution,
rejection) take no mutex: the application itself is guarded optimistically (`Application.version`,
SQLAlchemy's version_id_col) and a second open application by the unique index, so officers of
different schools never wait for each other.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Row, Select, bindparam, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, contains_eager
from sqlalchemy.orm.exc import StaleDataError

from aidservice.engine.facts import convert, to_json
from aidservice.engine.result import LEVELS, Result, TraceEntry, fen_to_yuan
from aidservice.models import Application, ApplicationAction, Decision, School, Student
from aidservice.models.application import ACTIVE_STATES
from aidservice.procedure import (
    REASON_REQUIRED,
    TRANSITIONS,
    IllegalTransition,
    add_working_days,
    allowed_actions,
    next_state,
)
from aidservice.schoolyear import parse_school_year

from . import audit
from .actors import ADMIN_ROLES, Actor, in_region
from .context import Settings
from .determinations.facts_assembly import SOURCE_STATUSES, assemble
from .errors import Conflict, Forbidden, NotFound, ValidationFailed
from .hidden import check_visible, may_read, not_found
from .plaintext import note_problem
from .rule_sets import publish_current

AGENCY_SOURCES = frozenset(SOURCE_STATUSES)
DECLARABLE_SOURCE = "application"
EXTRA_ACTIONS: dict[str, tuple[str, ...]] = {"reassess": ("approved",)}
"""Actions outside the identification procedure's state machine: an approved application is reassessed
(spring re-identification, a new agency record) and stays approved; its decisions are superseded."""
ACTIONS = (*TRANSITIONS, *EXTRA_ACTIONS)
NEEDS_REASON = frozenset(REASON_REQUIRED | set(EXTRA_ACTIONS))
RESOLUTIONS = ("upheld", "dismissed")
NOTE_MAX = 2000
LIST_MAX = 1000


# ------------------------------------------------------------------------------------------ helpers


def now() -> datetime:
    return datetime.now(UTC)


def aware(moment: datetime) -> datetime:
    """SQLite hands back naive datetimes; everything stored is UTC."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def yuan(fen: int | None) -> str | None:
    amount = fen_to_yuan(fen)
    return None if amount is None else f"{amount:.2f}"


def fen(amount: str | None) -> int | None:
    return None if amount is None else int(Decimal(str(amount)).scaleb(2))


def sha256_text(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def actions_allowed(state: str) -> list[str]:
    """What can be done next: the procedure's actions, and reassessment once approved."""
    return allowed_actions(state) + [a for a, states in EXTRA_ACTIONS.items() if state in states]


def may_act(actor: Actor, school: School) -> bool:
    """Only the school's own officer (or the system, for CLI jobs) acts on its applications."""
    if actor.kind == "system":
        return True
    return actor.kind == "user" and actor.role == "school_officer" and actor.school_code == school.code


def check_read(actor: Actor, school: School | Row[Any], what: str) -> None:
    if not may_read(actor, school):
        raise Forbidden(f"{what} belongs to a school outside your scope.")


def check_act(actor: Actor, school: School, what: str, kind: str) -> None:
    """The school's officer acts; a reader of the school is told why not (403); anyone else is told the `kind`
    of record does not exist in their scope (404, see hidden)."""
    if may_act(actor, school):
        return
    if actor.kind == "user" and actor.role in (*ADMIN_ROLES, "auditor") and may_read(actor, school):
        raise Forbidden(f"Only the school's aid officer acts on {what}; your role ({actor.role}) reads it.")
    raise not_found(kind)


def school_year_errors(school_year: object) -> list[str]:
    try:
        parse_school_year(str(school_year))
    except ValueError as exc:
        return [str(exc)]
    return []


# --------------------------------------------------------------------------------- declared facts


def split_declared(rules: Any, raw: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(declared facts, claimed agency statuses), each checked with the catalogue and normalised to JSON form.

    Facts the application carries (source `application`) are declared; agency statuses the family
    claims are kept as claims and only compared with the agency records (the record wins); roster and
    school facts cannot be declared. Errors are named `declared.<fact>`.
    """
    declared: dict[str, Any] = {}
    claims: dict[str, Any] = {}
    errors: dict[str, list[str]] = {}
    for name, value in raw.items():
        key = f"declared.{name}"
        spec = rules.facts.get(name)
        if spec is None:
            errors[key] = ["unknown fact"]
            continue
        if spec.source == DECLARABLE_SOURCE:
            target = declared
        elif spec.source in AGENCY_SOURCES:
            target = claims
        else:
            errors[key] = [f"cannot be declared: it comes from the {spec.source} record"]
            continue
        if value is None:
            continue
        try:
            target[name] = to_json(spec, convert(spec, value))
        except ValueError as exc:
            errors[key] = [str(exc)]
    if errors:
        raise ValidationFailed(errors, "The declared facts are invalid; see errors.")
    return declared, claims


def conflicts_of(
    rules: Any, claims: Mapping[str, Any], snapshot: Mapping[str, Mapping[str, Any]]
) -> list[dict[str, Any]]:
    """Claimed statuses that the agency records contradict or do not support: the agency record wins."""
    out = []
    for name in sorted(claims):
        spec = rules.facts[name]
        entry = snapshot.get(name)
        agency = entry["value"] if entry is not None else spec.default
        if claims[name] == agency:
            continue
        out.append(
            {
                "fact": name,
                "label": spec.label,
                "declared": claims[name],
                "agency": agency,
                "source": entry["source"] if entry is not None else spec.source,
                "record_ids": list(entry["record_ids"]) if entry is not None else [],
                "resolution": "agency record wins",
            }
        )
    return out


# ------------------------------------------------------------------------------------- evaluation


@dataclass(frozen=True, slots=True)
class Evaluation:
    """An application's facts (with sources) and what the rules made of them on `as_of`."""

    as_of: date
    rule_set_version: str
    facts: dict[str, dict[str, Any]]
    conflicts: list[dict[str, Any]]
    evaluated_level: str
    level: str
    result: dict[str, Any]


def engine_facts(rules: Any, snapshot: Mapping[str, Mapping[str, Any]]) -> dict[str, object]:
    """Engine values from a facts snapshot: the one way both evaluation and replay read recorded facts."""
    return rules.validate_facts({name: entry["value"] for name, entry in snapshot.items()})


def evaluate_snapshot(
    rules: Any, snapshot: Mapping[str, Mapping[str, Any]], as_of: date, override: str | None
) -> tuple[str, Result]:
    """(level the rules identify, the result with the override applied and its full trace)."""
    values = engine_facts(rules, snapshot)
    result = rules.explain(values, as_of, level=override)
    evaluated = result.level if override is None else rules.evaluate(values, as_of).level
    return evaluated, result


def evaluate_student(
    session: Session,
    *,
    settings: Settings,
    student_pk: int,
    declared: Mapping[str, Any],
    claims: Mapping[str, Any],
    as_of: date,
    override: str | None,
) -> Evaluation:
    """Assemble the student's facts (roster, school, agency records valid on `as_of`, declared) and evaluate."""
    rules = settings.rules
    (found,) = assemble(session, [student_pk], as_of, rules.facts, {student_pk: dict(declared)})
    return _evaluation(rules, found.snapshot, claims, as_of, override)


def reevaluate(settings: Settings, application: Application, override: str | None) -> Evaluation:
    """The application's recorded facts evaluated again (a level adjustment), on its recorded date."""
    claims = {
        k: v for k, v in application.declared.items() if settings.rules.facts[k].source in AGENCY_SOURCES
    }
    return _evaluation(settings.rules, application.facts, claims, application.as_of, override)


def _evaluation(
    rules: Any,
    snapshot: Mapping[str, Mapping[str, Any]],
    claims: Mapping[str, Any],
    as_of: date,
    override: str | None,
) -> Evaluation:
    evaluated, result = evaluate_snapshot(rules, snapshot, as_of, override)
    return Evaluation(
        as_of=as_of,
        rule_set_version=rules.version,
        facts={name: dict(entry) for name, entry in snapshot.items()},
        conflicts=conflicts_of(rules, claims, snapshot),
        evaluated_level=evaluated,
        level=result.level,
        result=result_json(rules, result),
    )


def result_json(rules: Any, result: Result) -> dict[str, Any]:
    """What an application stores of its evaluation: level, reasons, awards (with how each is paid), the
    missing facts and a summary of the trace (the items that decided)."""
    payments = {p.id: p.payment for p in rules.rules.programs}
    return {
        "rule_set_version": result.rule_set_version,
        "as_of": result.as_of.isoformat(),
        "level": result.level,
        "reasons": [
            {"clause": r.clause, "level": r.level, "label": r.label, "status": r.status, "basis": r.basis}
            for r in result.reasons
        ],
        "awards": [
            {
                "program": a.program,
                "name": a.name,
                "kind": a.kind,
                "amount": yuan(a.amount_fen),
                "basis": a.basis,
                "status": a.status,
                "missing": list(a.missing),
                "payment": payments.get(a.program, "semesters"),
            }
            for a in result.awards
        ],
        "total": yuan(result.total_fen),
        "missing": list(result.missing),
        "trace": [_trace_item(e) for e in result.trace or () if _decisive(e)],
    }


def _decisive(entry: TraceEntry) -> bool:
    """Trace items worth keeping with a decision: clauses that fired, programs that applied or were
    unknown, the amounts chosen, and combinations that dropped a program."""
    kind = entry.item.partition(":")[0]
    if kind == "clause":
        return entry.result is True
    if kind == "program":
        return entry.result is not False
    if kind == "amount":
        return True
    if kind == "combination":
        return bool(isinstance(entry.result, dict) and entry.result.get("dropped"))
    return False


def _trace_item(entry: TraceEntry) -> dict[str, Any]:
    result: Any = entry.result
    if entry.item.startswith("amount:") and type(result) is int:
        result = yuan(result)
    return {
        "item": entry.item,
        "label": entry.label,
        "result": _jsonable(result),
        "missing": list(entry.missing),
        "status": entry.status,
        "basis": entry.basis,
    }


def _jsonable(value: object) -> object:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if value is None or isinstance(value, bool | int | str):
        return value
    return str(value)


def apply_evaluation(application: Application, evaluation: Evaluation) -> None:
    application.as_of = evaluation.as_of
    application.rule_set_version = evaluation.rule_set_version
    application.facts = evaluation.facts
    application.conflicts = evaluation.conflicts
    application.evaluated_level = evaluation.evaluated_level
    application.level = evaluation.level
    application.result = evaluation.result


def override_of(application: Application) -> str | None:
    """The level a review or an upheld objection set, if any: evaluations of this application keep it."""
    adjustment = application.level_adjustment
    return None if not adjustment else adjustment.get("to")


def outcome_summary(application: Application) -> dict[str, Any]:
    """What the audit trail records of an evaluation: no personal data, a hash over the facts."""
    return {
        "level": application.level,
        "evaluated_level": application.evaluated_level,
        "awards": [[a["program"], a["amount"]] for a in application.result.get("awards", [])],
        "rule_set_version": application.rule_set_version,
        "as_of": application.as_of.isoformat(),
        "facts_sha256": sha256_text(audit.canonical(application.facts)),
        "conflicts": [c["fact"] for c in application.conflicts],
    }


# ---------------------------------------------------------------------------------------- reading


def load(session: Session, application_id: int) -> Application:
    """The application, with its school and student in the same query: every caller checks the school's scope
    and shows the student, and `session.get` then finds both in the identity map instead of asking again."""
    application = session.execute(
        select(Application)
        .join(Application.school)
        .join(Application.student)
        .options(contains_eager(Application.school), contains_eager(Application.student))
        .where(Application.id == application_id)
    ).scalar_one_or_none()
    if application is None:
        raise not_found("application")
    return application


BRIEF_COLUMNS = (
    Student.student_id,
    Student.name,
    Student.id_mask,
    Student.class_name,
    Student.stage,
    Student.grade,
)
"""What `_student_brief` shows of a student."""


HISTORY_FIELDS = ("action", "from_state", "to_state", "version", "note", "details", "actor", "at")
"""One history entry as the view shows it."""
HISTORY_READ = (
    select(*(getattr(ApplicationAction, name) for name in HISTORY_FIELDS))
    .where(ApplicationAction.application_id == bindparam("application_id"))
    .order_by(ApplicationAction.id)
)
"""The history as plain columns rather than ORM entities (a view of an application already loaded)."""
APPLICATION_READ = (
    select(
        Application,
        School.code,
        School.region_code,
        *BRIEF_COLUMNS,
        *(getattr(ApplicationAction, name).label(f"history_{name}") for name in HISTORY_FIELDS),
    )
    .join(School, School.code == Application.school_code)
    .join(Student, Student.id == Application.student_pk)
    .outerjoin(ApplicationAction, ApplicationAction.application_id == Application.id)
    .where(Application.id == bindparam("application_id"))
    .order_by(ApplicationAction.id)
)
"""The application, its school's scope, its student's brief and its history, one row per history entry: one round
trip on the most frequent route (each is also a wait for the worker's event loop), and no more columns than the
view shows (every column read costs CPU in the driver and the ORM); built once, as statements are immutable."""
DECISIONS_READ = (
    select(Decision).where(Decision.application_id == bindparam("application_id")).order_by(Decision.id)
)


def get_application(
    session: Session, *, actor: Actor, settings: Settings, application_id: int
) -> dict[str, Any]:
    rows = session.execute(APPLICATION_READ, {"application_id": application_id}).all()
    if not rows:
        raise not_found("application")
    row = rows[0]
    check_visible(actor, row, "application")
    history = [
        {name: getattr(r, f"history_{name}") for name in HISTORY_FIELDS}
        for r in rows
        if r.history_action is not None
    ]
    return application_view(session, row[0], settings, student=row, history=history)


def application_view(
    session: Session,
    application: Application,
    settings: Settings,
    student: Student | Row[Any] | None = None,
    history: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """An application for the officer's screen: student (ID masked), state, what may be done next, the
    evaluation with every fact's source, the conflicts, the history, its notice and its decisions.
    `student`: the student, or a row of BRIEF_COLUMNS, and `history`, when the caller has read them already."""
    from .decisions import decision_view  # decisions import this module

    if student is None:
        student = application.student
    if history is None:
        history = [
            dict(h) for h in session.execute(HISTORY_READ, {"application_id": application.id}).mappings()
        ]
    # decisions are made at approval (and by reassessment, quotas and semester checks of approved ones), and an
    # approved application stays approved: before that there is nothing to read
    decisions = (
        session.execute(DECISIONS_READ, {"application_id": application.id}).scalars()
        if application.state == "approved"
        else ()
    )
    result = application.result
    notice = None
    if application.notice_id is not None:
        today = settings.current_date()
        closes = application.notice_closes_on
        notice = {
            "id": application.notice_id,
            "published_on": application.notice_published_on,
            "closes_on": closes,
            "open": closes is not None and today <= closes,
        }
    return {
        "id": application.id,
        "student": _student_brief(student),
        "school_code": application.school_code,
        "school_year": application.school_year,
        "state": application.state,
        "version": application.version,
        "allowed_actions": actions_allowed(application.state),
        "commitment_signed_at": application.commitment_signed_at,
        "declared": application.declared,
        "as_of": application.as_of,
        "rule_set_version": application.rule_set_version,
        "level": application.level,
        "evaluated_level": application.evaluated_level,
        "level_adjustment": application.level_adjustment,
        "reasons": result.get("reasons", []),
        "awards": [{k: v for k, v in a.items() if k != "payment"} for a in result.get("awards", [])],
        "total": result.get("total"),
        "missing": result.get("missing", []),
        "facts": application.facts,
        "conflicts": application.conflicts,
        "notice": notice,
        "history": history,
        "decisions": [decision_view(d, student) for d in decisions],
        "submitted_at": application.submitted_at,
        "created_by": application.created_by,
        "updated_at": application.updated_at,
    }


def _student_brief(student: Student | Row[Any]) -> dict[str, Any]:
    return {
        "student_id": student.student_id,
        "name": student.name,
        "id_number": student.id_mask,
        "class_name": student.class_name,
        "stage": student.stage,
        "grade": student.grade,
    }


def list_applications(
    session: Session,
    *,
    actor: Actor,
    settings: Settings,
    school: str | None = None,
    state: str | None = None,
    school_year: str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> dict[str, Any]:
    """Applications in the caller's scope (officer: their school; administrators: their region), newest first."""
    if actor.kind != "user" and actor.kind != "system":
        raise Forbidden("Applications are for signed-in users.")
    conditions = []
    region_filter = None
    if school is not None:
        row = session.execute(select(School.code, School.region_code).where(School.code == school)).first()
        if row is None:
            raise NotFound(f"No school {school}.")
        check_read(actor, row, f"School {school}")
        conditions.append(Application.school_code == school)
    elif actor.role == "school_officer":
        conditions.append(Application.school_code == actor.school_code)
    elif actor.is_admin:
        region_filter = in_region(School.region_code, actor.region_code or "")
    elif not (actor.kind == "system" or actor.is_auditor):
        raise Forbidden("Your role does not reach applications.")
    if state is not None:
        conditions.append(Application.state == state)
    if school_year is not None:
        conditions.append(Application.school_year == school_year)

    def scoped(query: Select[Any]) -> Select[Any]:
        if region_filter is not None:
            query = query.join(School, School.code == Application.school_code).where(region_filter)
        return query.where(*conditions)

    # every application has its student (a non-null foreign key), so counting needs no join to students
    total = session.scalar(scoped(select(func.count()).select_from(Application))) or 0  # count(*): index-only
    rows = session.execute(
        scoped(select(*LIST_COLUMNS).join(Student, Student.id == Application.student_pk))
        .order_by(Application.id.desc())
        .limit(min(limit, LIST_MAX))
        .offset(offset)
    ).all()
    return {
        "items": [
            {
                "id": r.id,
                "student": _student_brief(r),
                "school_code": r.school_code,
                "school_year": r.school_year,
                "state": r.state,
                "version": r.version,
                "level": r.level,
                "conflicts": len(r.conflicts or []),
                "notice_closes_on": r.notice_closes_on,
                "submitted_at": r.submitted_at,
            }
            for r in rows
        ],
        "total": total,
    }


LIST_COLUMNS = (
    Application.id,
    Application.school_code,
    Application.school_year,
    Application.state,
    Application.version,
    Application.level,
    Application.conflicts,
    Application.notice_closes_on,
    Application.submitted_at,
    Student.student_id,
    Student.name,
    Student.id_mask,
    Student.class_name,
    Student.stage,
    Student.grade,
)
"""What a list item shows: the large JSON columns (facts, result, declared) stay in the database."""


# ---------------------------------------------------------------------------------------- writing


def create_application(
    session: Session,
    *,
    actor: Actor,
    settings: Settings,
    payload: Mapping[str, Any],
    request_id: str | None = None,
) -> Application:
    """Take an application under the signed commitment; evaluate it at once and keep every fact's source.

    422: commitment not signed, a bad school year, declared facts of the wrong type or not declarable.
    404/403: unknown student / another school's. 409: the student already has an application for the
    year that is open or approved.
    """
    errors: dict[str, list[str]] = {}
    if payload.get("commitment_signed") is not True:
        errors["commitment_signed"] = ["the written commitment (承诺书) must be signed: send true"]
    school_year = payload.get("school_year")
    if problems := school_year_errors(school_year):
        errors["school_year"] = problems
    elif school_year != settings.school_year:
        errors["school_year"] = [f"applications are taken for the current school year {settings.school_year}"]
    raw = payload.get("declared") or {}
    if not isinstance(raw, Mapping):
        errors["declared"] = ["must be an object of facts"]
    if errors:
        raise ValidationFailed(errors)
    declared, claims = split_declared(settings.rules, raw)
    student_id = str(payload.get("student_id") or "")
    found = session.execute(
        select(Student, School)
        .join(School, School.code == Student.school_code)
        .where(Student.student_id == student_id)
    ).first()
    if found is None:
        raise not_found("student")
    student, school = found
    check_act(actor, school, f"Student {student_id}", "student")

    _refuse_second_application(session, student.id, settings.school_year)
    publish_current(session, settings.rules, settings.rules.rules.files)
    as_of = settings.default_as_of()
    evaluation = evaluate_student(
        session,
        settings=settings,
        student_pk=student.id,
        declared=declared,
        claims=claims,
        as_of=as_of,
        override=None,
    )
    application = Application(
        student_pk=student.id,
        school_code=school.code,
        school_year=settings.school_year,
        state="submitted",
        declared={**declared, **claims},
        commitment_signed_at=now(),
        level_adjustment=None,
        submitted_at=now(),
        created_by=actor.label,
    )
    apply_evaluation(application, evaluation)
    session.add(application)
    try:
        session.flush()
    except IntegrityError:
        # another request took one for this student since the check above (the unique index holds the rule);
        # this request's transaction is lost either way, so no savepoint is paid for on every application
        raise Conflict(
            f"Student {student_id} already has an open or approved application for {settings.school_year}."
        ) from None
    _record(
        session,
        application,
        actor=actor,
        action="submit",
        from_state="",
        note="",
        details={"conflicts": [c["fact"] for c in application.conflicts]},
        request_id=request_id,
        summary={
            "application_id": application.id,
            "school_year": application.school_year,
            **outcome_summary(application),
        },
    )
    return application


def _refuse_second_application(session: Session, student_pk: int, school_year: str) -> None:
    existing = session.execute(
        select(Application.id, Application.state).where(
            Application.student_pk == student_pk,
            Application.school_year == school_year,
            Application.state.in_(ACTIVE_STATES),
        )
    ).first()
    if existing is not None:
        raise Conflict(
            f"This student already has application {existing.id} ({existing.state}) for {school_year}; "
            "one open or approved application per student and school year.",
            {"student_id": [f"application {existing.id} is {existing.state}"]},
        )


def _record(
    session: Session,
    application: Application,
    *,
    actor: Actor,
    action: str,
    from_state: str,
    note: str,
    details: Mapping[str, Any],
    summary: Mapping[str, Any],
    request_id: str | None,
) -> None:
    """The history row and the audit event of one action, in the caller's transaction.

    The audit trail keeps a hash of the officer's note, not its text (it may describe the family).
    """
    session.add(
        ApplicationAction(
            application_id=application.id,
            action=action,
            from_state=from_state,
            to_state=application.state,
            version=application.version,
            note=note,
            details=dict(details),
            actor=actor.label,
            at=now(),
        )
    )
    student_id = application.student.student_id  # loaded with the application or by the caller: no query
    audit.record(
        session,
        actor=actor,
        action=f"application.{action}",
        subject=f"student:{student_id}",
        summary={
            "application_id": application.id,
            "from_state": from_state,
            "to_state": application.state,
            "version": application.version,
            "note_sha256": sha256_text(note) if note else None,
            **summary,
        },
        request_id=request_id,
    )
    session.flush()


@dataclass(frozen=True, slots=True)
class ActionRequest:
    action: str
    version: int
    note: str = ""
    level: str | None = None
    outcome: str | None = None


def act(
    session: Session,
    *,
    actor: Actor,
    settings: Settings,
    application_id: int,
    request: ActionRequest,
    request_id: str | None = None,
) -> Application:
    """Take one step of the procedure on an application, naming the version it saw.

    409: a stale version (also when another officer's update wins the race: the optimistic lock), an
    action the state does not allow (naming those it does), approval while the notice is open.
    422: a reason missing where one is required, a resolution or level missing.
    """
    application = load(session, application_id)
    check_act(actor, application.school, f"Application {application_id}", "application")
    if request.action in SHARED_ROW_ACTIONS:
        audit.lock_writers(session)  # lock order: the writers' mutex first, then rows
    note = (request.note or "").strip()
    _check_request(application, request, note)
    before = application.state
    handler = _HANDLERS[request.action]
    try:
        details, summary = handler(
            session,
            application,
            actor=actor,
            settings=settings,
            request=request,
            note=note,
            request_id=request_id,
        )
        application.updated_at = now()  # every action bumps the version, even one that changes no column
        session.flush()
    except StaleDataError:
        raise Conflict(
            f"Application {application_id} was changed by someone else meanwhile; reload it and try again.",
            {"version": ["stale: the application has changed since you loaded it"]},
        ) from None
    _record(
        session,
        application,
        actor=actor,
        action=request.action,
        from_state=before,
        note=note,
        details=details,
        summary=summary,
        request_id=request_id,
    )
    if request.action in ("approve", "reassess"):
        from .decisions import decide

        decide(
            session,
            actor=actor,
            settings=settings,
            application=application,
            cause=request.action,
            request_id=request_id,
        )  # never the note: decisions and audit go region-wide
    return application


SHARED_ROW_ACTIONS = frozenset({"publish_notice", "approve", "reassess"})
"""Steps that change rows other applications share (the school's notice; decisions against quotas)."""


def _check_request(application: Application, request: ActionRequest, note: str) -> None:
    if request.action not in ACTIONS:
        raise ValidationFailed({"action": [f"must be one of {', '.join(ACTIONS)}"]})
    if request.version != application.version:
        raise Conflict(
            f"Stale version {request.version}: application {application.id} is at version "
            f"{application.version}; reload it and try again.",
            {"version": [f"stale: current version is {application.version}"]},
        )
    allowed = actions_allowed(application.state)
    if request.action not in allowed:
        if request.action in EXTRA_ACTIONS:
            detail = (
                f"'{request.action}' is not allowed while the application is {application.state}; "
                f"allowed: {', '.join(allowed) or 'none'}"
            )
        else:
            try:
                next_state(application.state, request.action)
            except IllegalTransition as exc:
                detail = str(exc)
        raise Conflict(detail, {"action": [f"allowed: {', '.join(allowed) or 'none'}"]})
    if request.action in NEEDS_REASON and not note:
        raise ValidationFailed({"note": [f"a reason is required for '{request.action}'"]})
    if (problem := note_problem(note, NOTE_MAX)) is not None:
        raise ValidationFailed({"note": [problem]})
    if request.level is not None and request.level not in LEVELS:
        raise ValidationFailed({"level": [f"must be one of {', '.join(LEVELS)}"]})


Handled = tuple[dict[str, Any], dict[str, Any]]


def _adjust(
    application: Application, settings: Settings, *, level: str, note: str, actor: Actor, via: str
) -> dict[str, Any]:
    """Re-evaluate the recorded facts with a level set by people (review group, objection review)."""
    adjustment = {
        "from": application.level,
        "to": level,
        "evaluated": application.evaluated_level,
        "reason": note,
        "by": actor.label,
        "at": now().isoformat(),
        "via": via,
    }
    evaluation = reevaluate(settings, application, level)
    apply_evaluation(application, evaluation)
    application.level_adjustment = adjustment
    return {"from": adjustment["from"], "to": level, "via": via}


def _review(
    session: Session,
    application: Application,
    *,
    actor: Actor,
    settings: Settings,
    request: ActionRequest,
    note: str,
    request_id: str | None,
) -> Handled:
    details: dict[str, Any] = {}
    if request.level is not None and request.level != application.level:
        if not note:
            raise ValidationFailed({"note": ["a reason is required to adjust the level"]})
        details["level_adjustment"] = _adjust(
            application, settings, level=request.level, note=note, actor=actor, via="review"
        )
    application.state = next_state(application.state, "review")
    return details, {"level": application.level, **details}


def _publish_notice(
    session: Session,
    application: Application,
    *,
    actor: Actor,
    settings: Settings,
    request: ActionRequest,
    note: str,
    request_id: str | None,
) -> Handled:
    from .notices import place_on_notice

    if application.level == "none":
        raise Conflict(
            "The public notice lists students identified as in economic difficulty; this application's level "
            "is none. Reject it, or adjust the level in review with a reason.",
            {"action": ["level none has nothing to publish"]},
        )
    notice = place_on_notice(session, application, actor=actor, settings=settings, request_id=request_id)
    application.state = next_state(application.state, "publish_notice")
    details = {
        "notice_id": notice.id,
        "published_on": application.notice_published_on.isoformat(),  # type: ignore[union-attr]
        "closes_on": application.notice_closes_on.isoformat(),
    }  # type: ignore[union-attr]
    return details, details


def _object(
    session: Session,
    application: Application,
    *,
    actor: Actor,
    settings: Settings,
    request: ActionRequest,
    note: str,
    request_id: str | None,
) -> Handled:
    today = settings.current_date()
    closes = application.notice_closes_on
    if closes is None or today > closes:
        raise Conflict(
            f"The notice period closed on {closes}; objections are taken during the notice period.",
            {"action": ["the notice period is over"]},
        )
    application.state = next_state(application.state, "object")
    return {}, {}


def _resolve(
    session: Session,
    application: Application,
    *,
    actor: Actor,
    settings: Settings,
    request: ActionRequest,
    note: str,
    request_id: str | None,
) -> Handled:
    if request.outcome not in RESOLUTIONS:
        raise ValidationFailed({"outcome": [f"must be one of {', '.join(RESOLUTIONS)}"]})
    details: dict[str, Any] = {"outcome": request.outcome}
    if request.outcome == "upheld":
        if request.level is None:
            raise ValidationFailed({"level": ["an upheld objection sets the new level"]})
        details["level_adjustment"] = _adjust(
            application, settings, level=request.level, note=note, actor=actor, via="objection"
        )
    elif request.level is not None:
        raise ValidationFailed({"level": ["a dismissed objection keeps the level; leave level out"]})
    application.state = next_state(application.state, "resolve")
    return details, {"level": application.level, **details}


def _approve(
    session: Session,
    application: Application,
    *,
    actor: Actor,
    settings: Settings,
    request: ActionRequest,
    note: str,
    request_id: str | None,
) -> Handled:
    today = settings.current_date()
    closes = application.notice_closes_on
    if closes is None or today <= closes:
        raise Conflict(
            f"The public notice period runs until {closes}; approve after it closes.",
            {"action": [f"notice period open until {closes}"]},
        )
    application.state = next_state(application.state, "approve")
    return {}, {"level": application.level}


def _reject(
    session: Session,
    application: Application,
    *,
    actor: Actor,
    settings: Settings,
    request: ActionRequest,
    note: str,
    request_id: str | None,
) -> Handled:
    application.state = next_state(application.state, "reject")
    return {}, {}


def _reassess(
    session: Session,
    application: Application,
    *,
    actor: Actor,
    settings: Settings,
    request: ActionRequest,
    note: str,
    request_id: str | None,
) -> Handled:
    """Identify again with the current data as of the current semester's first day; decisions follow."""
    details: dict[str, Any] = {"before": {"level": application.level, "as_of": application.as_of.isoformat()}}
    if request.level is not None and request.level != override_of(application):
        application.level_adjustment = {
            "from": application.level,
            "to": request.level,
            "evaluated": application.evaluated_level,
            "reason": note,
            "by": actor.label,
            "at": now().isoformat(),
            "via": "reassess",
        }
    publish_current(session, settings.rules, settings.rules.rules.files)
    declared = {
        k: v for k, v in application.declared.items() if settings.rules.facts[k].source == DECLARABLE_SOURCE
    }
    claims = {
        k: v for k, v in application.declared.items() if settings.rules.facts[k].source in AGENCY_SOURCES
    }
    evaluation = evaluate_student(
        session,
        settings=settings,
        student_pk=application.student_pk,
        declared=declared,
        claims=claims,
        as_of=settings.default_as_of(),
        override=override_of(application),
    )
    apply_evaluation(application, evaluation)
    details["after"] = {"level": application.level, "as_of": application.as_of.isoformat()}
    return details, {**details, **outcome_summary(application)}


_HANDLERS = {
    "review": _review,
    "publish_notice": _publish_notice,
    "object": _object,
    "resolve": _resolve,
    "approve": _approve,
    "reject": _reject,
    "reassess": _reassess,
}


def notice_period_end(settings: Settings, start: date) -> date:
    """Last day of a notice period of `settings.notice_working_days` working days starting on `start`."""
    return add_working_days(start, settings.notice_working_days, settings.holidays)
