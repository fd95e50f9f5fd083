"""The roster: schools and students, put one at a time or imported from a file, scoped to the caller and audited.

Every change re-evaluates the students it touches (`determinations.redetermine_students`) in the
same transaction, so a student's current determination never lags behind the roster. Imports of
many students at once: `roster_import` (files) and `roster_upsert` (the checks and writes). The payloads
both take are `roster_schema`; the checks and the re-evaluation they share are `roster_common`.

What the API shows of a school and a student are typed views (`SchoolView`, `StudentView` with its
`DeterminationView`): TypedDicts, so the routes serialise the plain dicts they are.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal, TypedDict, get_args

from sqlalchemy import Row, bindparam, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from aidservice.engine.result import fen_to_yuan
from aidservice.identity import id_hmac, mask
from aidservice.models import Determination, Guardian, School, Student
from aidservice.services import audit
from aidservice.services.accounts.id_probes import IdNumberTaken
from aidservice.services.actors import Actor
from aidservice.services.context import Settings
from aidservice.services.errors import Forbidden, ValidationFailed
from aidservice.services.hidden import not_found
from aidservice.services.regions import check_code, city_code_of, resolve_region
from aidservice.services.roster.roster_common import (
    audit_view,
    concurrent_change,
    grade_errors,
    on_roll,
    redetermine,
    seed_errors,
    stage_errors,
)
from aidservice.services.roster.roster_schema import (
    BOOL_FIELDS,
    CODE,
    CODE_MESSAGE,
    ROW_FIELDS,
    SchoolPayloadSchema,
    StudentPayloadSchema,
    load_payload,
)
from aidservice.services.standing.standing import StandingView, standing_of
from aidservice.services.vocabulary import ON_ROLL

SchoolRuleField = Literal["city_code", "inclusive_kindergarten", "tuition_fee", "central_university"]
SCHOOL_RULE_FIELDS: tuple[SchoolRuleField, ...] = get_args(SchoolRuleField)
"""School fields the rules read: changing one re-evaluates the school's students."""


def _yuan(fen: int | None) -> str | None:
    amount = fen_to_yuan(fen)
    return None if amount is None else f"{amount:.2f}"


def _fen(amount: Decimal | None) -> int | None:
    return None if amount is None else int(amount.scaleb(2))


def _flush_or_conflict(session: Session) -> None:
    """Flush; a unique key taken by a concurrent request (same school code or student id) is a 409, not a 500."""
    try:
        session.flush()
    except IntegrityError:
        raise concurrent_change() from None


# ---------------------------------------------------------------------------------------- views


class SchoolView(TypedDict):
    code: str
    name: str
    region_code: str
    city_code: str
    stages: list[str]
    kind: str
    inclusive_kindergarten: bool
    tuition_fee: str | None  # two-place yuan
    central_university: bool


class GuardianView(TypedDict):
    id_number: str  # masked
    name: str
    relation: str


class AwardView(TypedDict):
    """One stored award; the other fields are as the rules wrote them."""

    program: str | None
    name: str | None
    kind: str | None
    amount: str | None  # two-place yuan
    basis: str | None
    status: str | None


class DeterminationView(TypedDict):
    level: str
    awards: list[AwardView]
    total: str | None  # two-place yuan
    reasons: list[Any]  # the explanation's reasons, as stored (JSON)
    missing: list[str]
    rule_set_version: str
    as_of: date
    created_at: datetime


class StudentView(TypedDict):
    """A student with ID numbers masked; the boolean facts are `roster_schema.BOOL_FIELDS`."""

    student_id: str
    id_number: str  # masked
    name: str
    school_code: str
    class_name: str
    stage: str
    grade: int
    boarding: bool
    rural_hukou: bool
    agri_major: bool
    arts_performance_major: bool
    retired_soldier: bool
    salaried: bool
    east_west_cooperation: bool
    east_west_origin: str | None  # a value of the rules' `east_west_origin`
    enrolment_state: str  # a value of the rules' `enrolment_state`
    enrolment_date: date | None
    guardians: list[GuardianView]
    created_at: datetime
    updated_at: datetime
    determination: DeterminationView | None
    standing: StandingView | None  # the one answer: the approved decision, else the pre-assessment


# ---------------------------------------------------------------------------------------- schools


def school_view(school: School) -> SchoolView:
    """A school as the API shows it and the audit trail records it (no personal data in a school)."""
    return {
        "code": school.code,
        "name": school.name,
        "region_code": school.region_code,
        "city_code": school.city_code,
        "stages": list(school.stages),
        "kind": school.kind,
        "inclusive_kindergarten": school.inclusive_kindergarten,
        "tuition_fee": _yuan(school.tuition_fee_fen),
        "central_university": school.central_university,
    }


@dataclass(frozen=True, slots=True)
class Saved:
    """The record a PUT left behind and whether it was created."""

    record: Any
    created: bool


def put_school(
    session: Session,
    *,
    actor: Actor,
    settings: Settings,
    code: str,
    payload: Mapping[str, Any],
    request_id: str | None = None,
) -> Saved:
    """Create or replace a school in the caller's region; a county region not yet known is added.

    Administrators only, within their region, both for where the school is and where it goes.
    Changing a fact the rules read re-evaluates the school's students.
    """
    if not CODE.fullmatch(code or ""):
        raise ValidationFailed({"code": [CODE_MESSAGE]})
    data = load_payload(SchoolPayloadSchema(), payload)
    if actor.kind == "user" and not actor.is_admin:
        raise Forbidden("Only county, city and province administrators change schools.")
    errors = {
        f"stages.{i}": problems
        for i, s in enumerate(data["stages"])
        if (problems := stage_errors(settings, s, None))
    }
    if len(set(data["stages"])) != len(data["stages"]):
        errors.setdefault("stages", []).append("lists a stage twice")
    if errors:
        raise ValidationFailed(errors)
    check_code(data["region_code"])
    school = session.get(School, code)
    if school is not None and not actor.may_change_school(code, school.region_code):
        raise Forbidden(f"School {code} is outside your region.")
    if not actor.may_change_school(code, data["region_code"]):
        raise Forbidden(f"Region {data['region_code']} is outside your region.")
    region = resolve_region(session, data["region_code"], actor=actor, request_id=request_id)
    if region.level == "province":
        raise ValidationFailed({"region_code": ["place the school in its city or county"]})
    if school is not None:
        _refuse_dropping_taught_stages(session, school, data["stages"])
    before = None if school is None else school_view(school)
    if school is None:
        school = School(code=code)
        session.add(school)
    school.name = data["name"]
    school.region_code = region.code
    school.city_code = city_code_of(region.code)
    school.stages = list(data["stages"])
    school.kind = data["kind"]
    school.inclusive_kindergarten = data["inclusive_kindergarten"]
    school.tuition_fee_fen = _fen(data["tuition_fee"])
    school.central_university = data["central_university"]
    _flush_or_conflict(session)
    after = school_view(school)
    if before == after:
        return Saved(school, False)
    audit.record(
        session,
        actor=actor,
        action="school.create" if before is None else "school.update",
        subject=f"school:{code}",
        summary={"before": before, "after": after},
        request_id=request_id,
    )
    if before is not None and any(before[f] != after[f] for f in SCHOOL_RULE_FIELDS):
        pks = list(session.execute(select(Student.id).where(Student.school_code == code)).scalars())
        redetermine(session, actor=actor, settings=settings, student_pks=pks, request_id=request_id)
    return Saved(school, before is None)


def _refuse_dropping_taught_stages(session: Session, school: School, stages: Sequence[str]) -> None:
    """A stage its students are in cannot be removed from a school (move the students first)."""
    dropped = [s for s in school.stages if s not in stages]
    if not dropped:
        return
    counts = dict(
        session.execute(
            select(Student.stage, func.count())
            .where(Student.school_code == school.code, Student.stage.in_(dropped))
            .group_by(Student.stage)
        ).all()
    )
    if counts:
        taught = ", ".join(f"{stage} ({n} students)" for stage, n in sorted(counts.items()))
        raise ValidationFailed({"stages": [f"students are enrolled in stages it no longer lists: {taught}"]})


# --------------------------------------------------------------------------------------- students


def student_audit_view(student: Student) -> dict[str, Any]:
    """`audit_view` of a stored student (from the stored masks: nothing is decrypted)."""
    return audit_view(
        {"id_number": student.id_mask, **{name: getattr(student, name) for name in ROW_FIELDS}},
        [{"id_number": g.id_mask, "name": g.name, "relation": g.relation} for g in student.guardians],
    )


def _changes(before: Mapping[str, Any] | None, after: Mapping[str, Any]) -> dict[str, Any]:
    """Audit summary of a change: the fields that differ, before and after."""
    if before is None:
        return {"before": None, "after": dict(after)}
    changed = [k for k in after if before.get(k) != after[k]]
    return {
        "changed": changed,
        "before": {k: before.get(k) for k in changed},
        "after": {k: after[k] for k in changed},
    }


def _seal(row: Student | Guardian, columns: Mapping[str, Any]) -> None:
    for name, value in columns.items():
        setattr(row, name, value)


def _apply(student: Student, data: Mapping[str, Any], settings: Settings) -> bool:
    """Copy a validated payload onto a student (guardians matched by keyed hash); True when anything changed."""
    changed = False
    vault = settings.ids
    number = data["id_number"]
    if student.id_hmac != vault.hmac(number):
        _seal(student, vault.seal("student", number))
        changed = True
    for name in ROW_FIELDS:
        if getattr(student, name) != data[name]:
            setattr(student, name, data[name])
            changed = True
    wanted = {vault.hmac(g["id_number"]): g for g in data["guardians"]}
    for guardian in list(student.guardians):
        fresh = wanted.pop(guardian.id_hmac, None)
        if fresh is None:
            student.guardians.remove(guardian)
            changed = True
        elif (guardian.name, guardian.relation) != (fresh["name"], fresh["relation"]):
            guardian.name, guardian.relation = fresh["name"], fresh["relation"]
            changed = True
    for hmac, fresh in wanted.items():
        student.guardians.append(
            Guardian(
                **vault.seal("guardian", fresh["id_number"], hmac),
                name=fresh["name"],
                relation=fresh["relation"],
            )
        )
        changed = True
    return changed


def _new_student(student_id: str) -> Student:
    """An empty student for `_apply` to fill (the boolean columns start false, as the payload defaults)."""
    return Student(student_id=student_id, **dict.fromkeys(BOOL_FIELDS, False), guardians=[])


def _load_student(session: Session, student_id: str) -> Student | None:
    return session.execute(
        select(Student).options(selectinload(Student.guardians)).where(Student.student_id == student_id)
    ).scalar_one_or_none()


def put_student(
    session: Session,
    *,
    actor: Actor,
    settings: Settings,
    student_id: str,
    payload: Mapping[str, Any],
    request_id: str | None = None,
) -> Saved:
    """Create or replace one student; the caller must be able to change both its current and its new school.

    The student's eligibility is re-evaluated when anything changed. Audited with masked numbers.
    """
    if not CODE.fullmatch(student_id or ""):
        raise ValidationFailed({"student_id": [CODE_MESSAGE]})
    data = load_payload(StudentPayloadSchema(), payload)
    student = _load_student(session, student_id)
    if student is not None and not actor.may_change_school(student.school_code, student.school.region_code):
        raise Forbidden(f"Student {student_id} belongs to a school outside your scope.")
    school = session.get(School, data["school_code"])
    if school is None:
        raise ValidationFailed({"school_code": [f"unknown school {data['school_code']}"]})
    if not actor.may_change_school(school.code, school.region_code):
        raise Forbidden(f"School {school.code} is outside your scope.")
    errors = {}
    if problems := stage_errors(settings, data["stage"], school.stages):
        errors["stage"] = problems
    if problems := grade_errors(settings, data["grade"]):
        errors["grade"] = problems
    errors.update(seed_errors(settings, data))
    if errors:
        raise ValidationFailed(errors)
    hmac = id_hmac(settings.id_hmac_key, data["id_number"])
    other = session.execute(
        select(Student.student_id)
        .where(
            Student.id_hmac == hmac, Student.student_id != student_id, Student.enrolment_state.in_(ON_ROLL)
        )
        .limit(1)
    ).scalar_one_or_none()
    if other is not None and on_roll(data["enrolment_state"]):  # a transferred record keeps its number
        raise IdNumberTaken(mask(data["id_number"]))  # the caller audits and charges it (id_probes)
    before = None if student is None else student_audit_view(student)
    created = student is None
    if student is None:
        student = _new_student(student_id)
        session.add(student)
    if not _apply(student, data, settings) and not created:
        return Saved(student, False)
    _flush_or_conflict(session)
    audit.record(
        session,
        actor=actor,
        action="student.create" if created else "student.update",
        subject=f"student:{student_id}",
        summary=_changes(before, student_audit_view(student)),
        request_id=request_id,
    )
    redetermine(session, actor=actor, settings=settings, student_pks=[student.id], request_id=request_id)
    return Saved(student, created)


STUDENT_READ = (
    select(Student, School.region_code)
    .join(School, School.code == Student.school_code)
    .options(selectinload(Student.guardians))
    .where(Student.student_id == bindparam("student_id"))
)
"""A student with the region that scopes it, and its guardians; built once (statements are immutable)."""


def get_student(session: Session, *, actor: Actor, settings: Settings, student_id: str) -> StudentView:
    """A student with masked ID numbers and the current determination of the configured school year."""
    row = session.execute(STUDENT_READ, {"student_id": student_id}).one_or_none()
    if actor.kind != "user" or row is None or not actor.reaches_school(row[0].school_code, row[1]):
        raise not_found(
            "student"
        )  # outside the scope as if it did not exist (hidden); the route refuses clients
    student, _region_code = row
    return student_view(session, student, settings)


CURRENT_DETERMINATION = (
    select(
        *(
            getattr(Determination, name)
            for name in (
                "level",
                "awards",
                "total_fen",
                "explanation",
                "rule_set_version",
                "as_of",
                "created_at",
            )
        )
    )
    .where(
        Determination.student_pk == bindparam("student_pk"),
        Determination.school_year == bindparam("school_year"),
        Determination.current.is_(True),
    )
    .order_by(Determination.seq.desc())
    .limit(1)
)
"""What `determination_view` shows: the facts snapshot, the largest column, stays in the database."""


def student_view(session: Session, student: Student, settings: Settings) -> StudentView:
    """A student as the API shows it: ID numbers masked, with the current determination (or None)."""
    current = session.execute(
        CURRENT_DETERMINATION, {"student_pk": student.id, "school_year": settings.school_year}
    ).one_or_none()
    standing = standing_of(session, student.id, settings.school_year)
    return {
        "student_id": student.student_id,
        "id_number": student.id_mask,
        "name": student.name,
        "school_code": student.school_code,
        "class_name": student.class_name,
        "stage": student.stage,
        "grade": student.grade,
        "boarding": student.boarding,
        "rural_hukou": student.rural_hukou,
        "agri_major": student.agri_major,
        "arts_performance_major": student.arts_performance_major,
        "retired_soldier": student.retired_soldier,
        "salaried": student.salaried,
        "east_west_cooperation": student.east_west_cooperation,
        "east_west_origin": student.east_west_origin,
        "enrolment_state": student.enrolment_state,
        "enrolment_date": student.enrolment_date,
        "guardians": [
            {"id_number": g.id_mask, "name": g.name, "relation": g.relation} for g in student.guardians
        ],
        "created_at": student.created_at,
        "updated_at": student.updated_at,
        "determination": None if current is None else determination_view(current),
        "standing": None if standing is None else standing.view(),
    }


def determination_view(determination: Determination | Row[Any]) -> DeterminationView:
    """A stored determination as the API shows it; amounts as two-place yuan strings."""
    explanation = determination.explanation or {}
    return {
        "level": determination.level,
        "awards": [_award_view(a) for a in determination.awards or []],
        "total": _yuan(determination.total_fen),
        "reasons": list(explanation.get("reasons") or []),
        "missing": list(explanation.get("missing") or []),
        "rule_set_version": determination.rule_set_version,
        "as_of": determination.as_of,
        "created_at": determination.created_at,
    }


def _award_view(award: Mapping[str, Any]) -> AwardView:
    """One stored award; its amount is kept in fen (`amount_fen`) or as a yuan string (`amount`)."""
    if "amount_fen" in award:
        amount = _yuan(award["amount_fen"])
    else:
        raw = award.get("amount")
        amount = None if raw is None else f"{Decimal(str(raw)):.2f}"
    return {
        "program": award.get("program"),
        "name": award.get("name"),
        "kind": award.get("kind"),
        "amount": amount,
        "basis": award.get("basis"),
        "status": award.get("status"),
    }
