"""The roster: schools and students, put one at a time or imported from a file, scoped to the caller and audited.

Every change re-evaluates the students it touches (`determinations.redetermine_students`) in the
same transaction, so a student's current determination never lags behind the roster. Imports of
many students at once: `roster_import` (files) and `roster_upsert` (the checks and writes).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates_schema
from sqlalchemy import Row, bindparam, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from aidservice.engine.numbers import INTEGER_LIMIT, MONEY_MAX, NumberRefused, bounded_decimal
from aidservice.engine.result import fen_to_yuan
from aidservice.identity import InvalidIdNumber, id_hmac, mask, normalise_id_number
from aidservice.models import Determination, Guardian, School, Student

from . import audit
from .actors import Actor
from .context import Settings
from .errors import Conflict, Forbidden, ValidationFailed
from .hidden import not_found
from .id_probes import IdNumberTaken
from .plaintext import Line, Text
from .regions import check_code, city_code_of, resolve_region
from .spreadsheets import id_number_problem

CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$")
CODE_MESSAGE = "1-32 letters, digits, - or _"
MAX_GUARDIANS = 6
IN_CHUNK = 2000  # bound parameters per IN list, well inside SQLite's and PostgreSQL's limits
BOOL_FIELDS = (
    "boarding",
    "rural_hukou",
    "agri_major",
    "arts_performance_major",
    "retired_soldier",
    "salaried",
)
STUDENT_FIELDS = ("id_number", "name", "school_code", "class_name", "stage", "grade", *BOOL_FIELDS)
ROW_FIELDS = STUDENT_FIELDS[1:]  # stored as plain columns; the number is sealed (aidservice.crypto)
SCHOOL_RULE_FIELDS = ("city_code", "inclusive_kindergarten", "tuition_fee", "central_university")
"""School fields the rules read: changing one re-evaluates the school's students."""


# ---------------------------------------------------------------------------------- payload schemas


class StrictBoolean(fields.Boolean):
    """JSON true/false only: 1, "yes" or "false" are type errors, not guesses (imports convert text first)."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> bool:
        if not isinstance(value, bool):
            raise self.make_error("invalid")
        return value


class StrictInteger(fields.Integer):
    """A JSON integer; booleans, floats and numeric strings are refused."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(strict=True, **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> int:
        if isinstance(value, bool):
            raise self.make_error("invalid")
        number = super()._deserialize(value, attr, data, **kwargs)
        if abs(number) >= INTEGER_LIMIT:
            raise ValidationError("is too large")
        return number


class IdNumber(fields.String):
    """A resident ID number (GB 11643): format, birth date and check character, normalised to upper-case X."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        problem = id_number_problem(value)
        if problem:
            raise ValidationError(problem)
        try:
            return normalise_id_number(value)
        except InvalidIdNumber as exc:
            raise ValidationError(str(exc)) from None


class Money(fields.Decimal):
    """Yuan as a string ("1250.00"), at most two decimal places, 0 to MONEY_MAX; bounded on its text first."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(as_string=True, validate=validate.Range(min=0, max=MONEY_MAX), **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Decimal:
        if isinstance(value, bool | float):
            raise ValidationError('must be a string of yuan with two decimal places, e.g. "1250.00"')
        try:
            amount = bounded_decimal(value)
        except NumberRefused as exc:
            raise ValidationError(str(exc)) from None
        if amount != amount.quantize(Decimal("0.01")):
            raise ValidationError("has more than two decimal places (fen)")
        return amount.quantize(Decimal("0.01"))


def _code(**kwargs: Any) -> Text:
    return Text(validate=validate.Regexp(CODE, error=CODE_MESSAGE), **kwargs)


class SchoolPayloadSchema(Schema):
    """A school as PUT /api/v1/schools/{code} takes it; `stages` come from the rules' `stage` values."""

    name = Line(required=True, validate=validate.Length(min=1, max=128))
    region_code = Text(
        required=True,
        validate=validate.Regexp(r"^\d{6}$", error="must be a 6-digit division code"),
        metadata={
            "example": "320102",
            "description": "county (or city) division code; a new county is added",
        },
    )
    stages = fields.List(
        Text(validate=validate.Length(min=1, max=16)),
        required=True,
        validate=validate.Length(min=1, max=8),
        metadata={"example": ["primary", "junior"]},
    )
    kind = Text(required=True, validate=validate.OneOf(["public", "private"]))
    inclusive_kindergarten = StrictBoolean(load_default=False)
    tuition_fee = Money(load_default=None, allow_none=True, metadata={"example": "1250.00"})
    central_university = StrictBoolean(load_default=False)


class GuardianSchema(Schema):
    """A parent or guardian; household statuses reach the student through this ID number."""

    id_number = IdNumber(required=True, metadata={"example": "320102198001010012"})
    name = Line(required=True, validate=validate.Length(min=1, max=64))
    relation = Line(required=True, validate=validate.Length(min=1, max=16), metadata={"example": "father"})


class StudentPayloadSchema(Schema):
    """A student as PUT /api/v1/students/{student_id} takes it (DESIGN.md student payload)."""

    id_number = IdNumber(required=True, metadata={"example": "320102200803010011"})
    name = Line(required=True, validate=validate.Length(min=1, max=64))
    school_code = _code(required=True)
    class_name = Line(load_default="", validate=validate.Length(max=64))
    stage = Text(required=True, validate=validate.Length(min=1, max=16), metadata={"example": "junior"})
    grade = StrictInteger(required=True, metadata={"example": 1})
    boarding = StrictBoolean(load_default=False)
    rural_hukou = StrictBoolean(load_default=False)
    agri_major = StrictBoolean(load_default=False)
    arts_performance_major = StrictBoolean(load_default=False)
    retired_soldier = StrictBoolean(load_default=False)
    salaried = StrictBoolean(load_default=False)
    guardians = fields.List(
        fields.Nested(GuardianSchema), load_default=list, validate=validate.Length(max=MAX_GUARDIANS)
    )

    @validates_schema
    def _distinct_people(self, data: dict[str, Any], **_kwargs: Any) -> None:
        """A guardian is someone other than the student, and listed once."""
        seen = {data.get("id_number")}
        errors: dict[int, dict[str, list[str]]] = {}
        for index, guardian in enumerate(data.get("guardians") or []):
            number = guardian["id_number"]
            if number == data.get("id_number"):
                errors[index] = {"id_number": ["is the student's own number"]}
            elif number in seen:
                errors[index] = {"id_number": ["is listed twice"]}
            seen.add(number)
        if errors:
            raise ValidationError({"guardians": errors})


class StudentRowSchema(StudentPayloadSchema):
    """One row of an import: the student payload with its `student_id`."""

    student_id = _code(required=True)


def load_payload(schema: Schema, payload: Mapping[str, Any]) -> dict[str, Any]:
    """Validate a payload; ValidationFailed names each bad field ("guardians.0.id_number")."""
    try:
        return schema.load(payload)
    except ValidationError as exc:
        raise ValidationFailed(_flatten(exc.messages)) from None


def _flatten(messages: Any, prefix: str = "") -> dict[str, list[str]]:
    """marshmallow's nested messages as {"guardians.0.id_number": [...]}; `_schema` belongs to its parent."""
    if isinstance(messages, Mapping):
        flat: dict[str, list[str]] = {}
        for key, value in messages.items():
            path = prefix if key == "_schema" else (f"{prefix}.{key}" if prefix else str(key))
            for name, texts in _flatten(value, path).items():
                flat.setdefault(name, []).extend(texts)
        return flat
    if isinstance(messages, str):
        return {prefix or "body": [messages]}
    flat = {}
    for item in messages:
        for name, texts in _flatten(item, prefix).items():
            flat.setdefault(name, []).extend(texts)
    return flat


# ---------------------------------------------------------------------------------------- helpers


def _chunks(items: Sequence[Any], size: int = IN_CHUNK) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def mask_name(name: str) -> str:
    """What the audit trail keeps of a name: the first character."""
    return name[:1] + "*" * max(len(name) - 1, 0)


def _yuan(fen: int | None) -> str | None:
    amount = fen_to_yuan(fen)
    return None if amount is None else f"{amount:.2f}"


def _fen(amount: Decimal | None) -> int | None:
    return None if amount is None else int(amount.scaleb(2))


def _redetermine(
    session: Session, *, actor: Actor, settings: Settings, student_pks: Sequence[int], request_id: str | None
) -> None:
    """Re-evaluate the students a roster change touched, in this transaction."""
    if not student_pks:
        return
    # imported here: the roster module loads without the evaluation machinery
    from aidservice.services.determinations.students import redetermine_students

    redetermine_students(
        session,
        actor=actor,
        settings=settings,
        student_pks=list(student_pks),
        cause="roster",
        request_id=request_id,
    )


def _concurrent_change() -> Conflict:
    return Conflict("Another request changed the same records at the same time; send this one again.")


def _flush_or_conflict(session: Session) -> None:
    """Flush; a unique key taken by a concurrent request (same school code or student id) is a 409, not a 500."""
    try:
        session.flush()
    except IntegrityError:
        raise _concurrent_change() from None


def _stage_errors(
    settings: Settings, stage: str, offered: Sequence[str] | None, path: str = "stage"
) -> list[str]:
    """The stage must be one the rules know and (for a student) one the school offers."""
    known = tuple(settings.rules.facts["stage"].values)
    if stage not in known:
        return [f"{stage!r} is not one of {', '.join(known)}"]
    if offered is not None and stage not in offered:
        return [f"the school does not offer {stage} (it offers {', '.join(offered)})"]
    return []


def _grade_errors(settings: Settings, grade: int) -> list[str]:
    spec = settings.rules.facts["grade"]
    low, high = spec.min, spec.max
    if (low is not None and grade < low) or (high is not None and grade > high):
        return [f"must be between {low} and {high}"]
    return []


# ---------------------------------------------------------------------------------------- schools


def school_view(school: School) -> dict[str, Any]:
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
        if (problems := _stage_errors(settings, s, None))
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
        _redetermine(session, actor=actor, settings=settings, student_pks=pks, request_id=request_id)
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


def audit_view(values: Mapping[str, Any], guardians: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """A student as the audit trail records it: ID numbers masked, names cut to their first character."""
    return {
        "id_number": mask(values["id_number"]),
        "name": mask_name(values["name"]),
        **{name: values[name] for name in STUDENT_FIELDS[2:]},
        "guardians": sorted(
            (
                {"id_number": mask(g["id_number"]), "name": mask_name(g["name"]), "relation": g["relation"]}
                for g in guardians
            ),
            key=lambda g: (g["id_number"], g["relation"]),
        ),
    }


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
    if problems := _stage_errors(settings, data["stage"], school.stages):
        errors["stage"] = problems
    if problems := _grade_errors(settings, data["grade"]):
        errors["grade"] = problems
    if errors:
        raise ValidationFailed(errors)
    hmac = id_hmac(settings.id_hmac_key, data["id_number"])
    other = session.execute(
        select(Student.student_id).where(Student.id_hmac == hmac, Student.student_id != student_id).limit(1)
    ).scalar_one_or_none()
    if other is not None:
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
    _redetermine(session, actor=actor, settings=settings, student_pks=[student.id], request_id=request_id)
    return Saved(student, created)


STUDENT_READ = (
    select(Student, School.region_code)
    .join(School, School.code == Student.school_code)
    .options(selectinload(Student.guardians))
    .where(Student.student_id == bindparam("student_id"))
)
"""A student with the region that scopes it, and its guardians; built once (statements are immutable)."""


def get_student(session: Session, *, actor: Actor, settings: Settings, student_id: str) -> dict[str, Any]:
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


def student_view(session: Session, student: Student, settings: Settings) -> dict[str, Any]:
    """A student as the API shows it: ID numbers masked, with the current determination (or None)."""
    current = session.execute(
        CURRENT_DETERMINATION, {"student_pk": student.id, "school_year": settings.school_year}
    ).one_or_none()
    return {
        "student_id": student.student_id,
        "id_number": student.id_mask,
        "name": student.name,
        "school_code": student.school_code,
        "class_name": student.class_name,
        "stage": student.stage,
        "grade": student.grade,
        **{name: getattr(student, name) for name in BOOL_FIELDS},
        "guardians": [
            {"id_number": g.id_mask, "name": g.name, "relation": g.relation} for g in student.guardians
        ],
        "created_at": student.created_at,
        "updated_at": student.updated_at,
        "determination": None if current is None else determination_view(current),
    }


def determination_view(determination: Determination | Row[Any]) -> dict[str, Any]:
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


def _award_view(award: Mapping[str, Any]) -> dict[str, Any]:
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
