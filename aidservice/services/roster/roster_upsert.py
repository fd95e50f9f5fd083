"""Creating and updating many students at once (an import), in bounded memory, all or nothing.

Two passes over the rows, both chunk by chunk (`CHUNK` rows), inside the caller's one transaction:

1. Check: every chunk of rows goes through the payload schema and the repeat checks (a student id or
   ID number seen earlier in the set), then the checks that need the database (stored student in
   scope, school known and in scope, stage offered, grade, ID number held by another record). Nothing
   is written in this pass, so every row is checked against the roster as it was before the import.
   The accepted rows of a chunk are kept as one compressed blob (`pack`: about 100 bytes a row, not
   the kilobytes of their dicts), each with the stored student it was checked against (or none); the
   rows themselves are dropped. Across chunks only the student ids
   and ID numbers seen (for the repeat checks) and the row problems are kept.
2. Write: when no row was refused (or `partial`), each blob is opened, compared with the stored
   students pass 1 read (a student someone else creates meanwhile is a unique key taken: 409, as a
   concurrent change always was) and written with executemany statements (no ORM objects, nothing left in the
   identity map), then dropped. What the audit event needs (its digest lines, the ids created and
   updated) and the written students' keys are collected as it goes.

Then one `student.import` event for the whole set, and the re-determination of every student written
(`determinations.redetermine_students`: larger sets in columnar chunks, one audit event). A failure
anywhere raises; the caller rolls the transaction back and nothing is left. A row refused in pass 1
means pass 2 never runs (unless `partial`).
"""

from __future__ import annotations

import hashlib
import pickle
import zlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import islice
from typing import Any

from marshmallow import ValidationError
from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from aidservice.identity import id_hmac
from aidservice.models import Guardian, School, Student
from aidservice.models.rule_set import utcnow
from aidservice.services import audit
from aidservice.services.actors import Actor
from aidservice.services.context import Settings
from aidservice.services.errors import ValidationFailed
from aidservice.services.roster.roster_common import (
    audit_view,
    chunks,
    concurrent_change,
    enum_values,
    grade_errors,
    on_roll,
    redetermine,
    seed_errors,
    stage_errors,
)
from aidservice.services.roster.roster_schema import ROW_FIELDS, StudentRowSchema, flatten
from aidservice.services.vocabulary import ON_ROLL

CHUNK = 2000  # rows checked, then written, together; also the IN lists' length
RawRow = tuple[int, Mapping[str, Any], Sequence[int]]
"""(row number, payload with `student_id`, guardian column numbers) as the file reader makes them."""


@dataclass(frozen=True, slots=True)
class RowError:
    """One problem in one row of an import; `row` counts the header as row 1, as spreadsheets do."""

    row: int
    field: str
    message: str


@dataclass(slots=True)
class ImportResult:
    """What an import did: counts, the rejected rows, and the students written (for re-evaluation)."""

    created: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: list[RowError] = field(default_factory=list)
    student_pks: list[int] = field(default_factory=list)


@dataclass(slots=True)
class _Row:
    """A row that passed the payload schema, with what the checks against the database need."""

    number: int
    data: dict[str, Any]
    guardian_columns: list[int]  # guardian list index -> the N of its guardianN_* columns
    hmac: str = ""


def row_messages(errors: Sequence[RowError]) -> dict[str, list[str]]:
    """Row problems as problem+json `errors`: {"rows.<row>.<column>": [messages]}."""
    messages: dict[str, list[str]] = {}
    for error in errors:
        messages.setdefault(f"rows.{error.row}.{error.field}", []).append(error.message)
    return messages


def reject_all(errors: Sequence[RowError], total: int) -> ValidationFailed:
    """The all-or-nothing answer: every row problem, nothing written."""
    rows = len({e.row for e in errors})
    return ValidationFailed(
        row_messages(errors),
        f"{rows} of {total} rows are invalid and nothing was written; fix them, or send ?partial=true "
        "to write the valid rows and get the invalid ones back.",
    )


def upsert_students(
    session: Session,
    *,
    actor: Actor,
    settings: Settings,
    rows: Iterable[RawRow],
    partial: bool = False,
    request_id: str | None = None,
    audit_extra: Mapping[str, Any] | None = None,
) -> ImportResult:
    """Create or update many students set-based: a few statements per `CHUNK` rows, however many rows there are.

    `rows` are (row number, payload with `student_id`, guardian column numbers), read as they are used.
    Every invalid row is reported; without `partial` any invalid row rejects the whole set
    (ValidationFailed) and nothing is written. Writes are executemany INSERT/UPDATE/DELETE statements,
    not one ORM flush per object (SQLite cannot batch ORM inserts that need their new keys back).

    Audit: one event for the whole set, not one per student. Per-student events would append
    thousands of links to the hash chain one by one under its lock, holding every other writer
    for the length of the import. The one event carries the counts, the student ids created and
    updated, and a SHA-256 digest of every written row's audit view (masked), so the chain still
    commits to exactly what the import changed; `audit_extra` adds the file's name and hash.
    """
    checked = check_rows(session, actor=actor, settings=settings, rows=rows)
    return write_checked(
        session,
        actor=actor,
        settings=settings,
        checked=checked,
        partial=partial,
        request_id=request_id,
        audit_extra=audit_extra,
    )


# ---------------------------------------------------------------------------------------- pass 1: check


@dataclass(slots=True)
class Checked:
    """Pass 1's outcome: the accepted rows (compressed, a blob per chunk), the problems, the rows seen."""

    blobs: list[bytes] = field(default_factory=list)
    rejected: list[RowError] = field(default_factory=list)
    total: int = 0


@dataclass(slots=True)
class _Seen:
    """What the repeat checks remember across chunks: the first row of each student id and ID number."""

    by_id: dict[str, int] = field(default_factory=dict)
    by_number: dict[str, int] = field(default_factory=dict)
    schools: dict[str, School | None] = field(default_factory=dict)


def check_rows(session: Session, *, actor: Actor, settings: Settings, rows: Iterable[RawRow]) -> Checked:
    """Pass 1: check every row, chunk by chunk, against the roster as it is (nothing is written)."""
    checked, seen = Checked(), _Seen()
    rows = ((n, enum_values(settings.rules.facts, payload), c) for n, payload, c in rows)  # 在读 -> enrolled
    for part in _batches(rows, CHUNK):
        checked.total += len(part)
        valid = _validate_rows(part, checked.rejected, settings.id_hmac_key, seen)
        del part
        if not valid:
            continue
        existing = _existing_students(session, [r.data["student_id"] for r in valid])
        schools = _schools(
            session,
            {r.data["school_code"] for r in valid} | {e.values["school_code"] for e in existing.values()},
            seen.schools,
        )
        owners = _id_owners(session, [r.hmac for r in valid])
        accepted = [
            row
            for row in valid
            if _check_row(row, actor, settings, existing, schools, owners, checked.rejected)
        ]
        if accepted:
            checked.blobs.append(
                pack(
                    [
                        (r.number, r.hmac, r.data, _as_tuple(existing.get(r.data["student_id"])))
                        for r in accepted
                    ]
                )
            )
    checked.rejected.sort(key=lambda e: e.row)
    return checked


def _batches(rows: Iterable[RawRow], size: int) -> Iterator[list[RawRow]]:
    iterator = iter(rows)
    while part := list(islice(iterator, size)):
        yield part


def pack(items: Sequence[Any]) -> bytes:
    """Rows kept between the passes, pickled and compressed: a tenth of what their objects take.

    Only values this process made go in (rows read from a file, validated payloads), and only this
    process reads them back, within the same call: never a blob from anywhere else.
    """
    return zlib.compress(pickle.dumps(list(items), protocol=pickle.HIGHEST_PROTOCOL), 1)


def unpack(blob: bytes) -> list[Any]:
    """The rows `pack` kept."""
    return pickle.loads(zlib.decompress(blob))  # our own blob, made by `pack` in this call


def _as_tuple(stored: _Stored | None) -> tuple[int, dict[str, Any], dict[str, tuple[int, str, str]]] | None:
    return None if stored is None else (stored.pk, stored.values, stored.guardians)


def _validate_rows(
    rows: Sequence[RawRow], rejected: list[RowError], hmac_key: str, seen: _Seen
) -> list[_Row]:
    """Rows through the payload schema; duplicates within the set are refused after their first row."""
    schema = StudentRowSchema()
    valid: list[_Row] = []
    for number, payload, guardian_columns in rows:
        try:
            data = schema.load(payload)
        except ValidationError as exc:
            for path, messages in flatten(exc.messages).items():
                column = _column(path, guardian_columns)
                rejected.extend(RowError(number, column, m) for m in messages)
            continue
        student_id, id_number = data["student_id"], data["id_number"]
        if student_id in seen.by_id:
            rejected.append(RowError(number, "student_id", f"repeats row {seen.by_id[student_id]}"))
            continue
        seen.by_id[student_id] = number
        if on_roll(data["enrolment_state"]):  # one off the roll may share it (a transfer, the new school)
            if id_number in seen.by_number:
                rejected.append(
                    RowError(number, "id_number", f"repeats the number on row {seen.by_number[id_number]}")
                )
                continue
            seen.by_number[id_number] = number
        valid.append(_Row(number, data, list(guardian_columns), id_hmac(hmac_key, id_number)))
    return valid


def _column(path: str, guardian_columns: Sequence[int]) -> str:
    """A schema path as the import's column name: guardians.0.name -> guardian1_name."""
    parts = path.split(".")
    if parts[0] == "guardians" and len(parts) >= 2 and parts[1].isdigit():
        index = int(parts[1])
        n = guardian_columns[index] if index < len(guardian_columns) else index + 1
        return f"guardian{n}_{parts[2] if len(parts) > 2 else 'id_number'}"
    return path


@dataclass(slots=True)
class _Stored:
    """An existing student as the import compares it: column values and guardians by keyed hash."""

    pk: int
    values: dict[str, Any]  # ROW_FIELDS and id_hmac
    guardians: dict[str, tuple[int, str, str]]  # id_hmac -> (guardian pk, name, relation)


def _existing_students(session: Session, student_ids: Sequence[str]) -> dict[str, _Stored]:
    """The stored students among these ids, with their guardians: two queries per chunk, no ORM objects."""
    found: dict[str, _Stored] = {}
    columns = [getattr(Student, name) for name in ROW_FIELDS]
    for part in chunks(student_ids):
        query = select(Student.id, Student.student_id, Student.id_hmac, *columns).where(
            Student.student_id.in_(part)
        )
        for row in session.execute(query):
            values = {name: getattr(row, name) for name in ROW_FIELDS} | {"id_hmac": row.id_hmac}
            found[row.student_id] = _Stored(row.id, values, {})
    by_pk = {stored.pk: stored for stored in found.values()}
    for part in chunks(list(by_pk)):
        query = select(
            Guardian.id, Guardian.student_pk, Guardian.id_hmac, Guardian.name, Guardian.relation
        ).where(Guardian.student_pk.in_(part))
        for guardian_pk, student_pk, hmac, name, relation in session.execute(query):
            by_pk[student_pk].guardians[hmac] = (guardian_pk, name, relation)
    return found


def _schools(session: Session, codes: set[str], known: dict[str, School | None]) -> dict[str, School | None]:
    """The schools of these codes (None: no such school), read once per import."""
    wanted = sorted(codes - known.keys())
    for part in chunks(wanted):
        known.update(
            (s.code, s) for s in session.execute(select(School).where(School.code.in_(part))).scalars()
        )
    known.update((code, None) for code in wanted if code not in known)
    return known


def _id_owners(session: Session, hmacs: Sequence[str]) -> dict[str, set[str]]:
    """Which student records on a school's roll already hold each ID number (by keyed hash); a transferred,
    dropped-out or graduated record does not hold it (the same person may enrol elsewhere)."""
    owners: dict[str, set[str]] = {}
    for part in chunks(hmacs):
        for hmac, student_id in session.execute(
            select(Student.id_hmac, Student.student_id).where(
                Student.id_hmac.in_(part), Student.enrolment_state.in_(ON_ROLL)
            )
        ):
            owners.setdefault(hmac, set()).add(student_id)
    return owners


def _check_row(
    row: _Row,
    actor: Actor,
    settings: Settings,
    existing: Mapping[str, _Stored],
    schools: Mapping[str, School | None],
    owners: Mapping[str, set[str]],
    rejected: list[RowError],
) -> bool:
    """The checks that need the database: scope, school, stage offered, grade, ID number held elsewhere."""
    data, before = row.data, len(rejected)
    stored = existing.get(data["student_id"])
    if stored is not None:
        current = schools.get(stored.values["school_code"])
        if current is None or not actor.may_change_school(current.code, current.region_code):
            rejected.append(RowError(row.number, "student_id", "belongs to a school outside your scope"))
            return False
    school = schools.get(data["school_code"])
    if school is None:
        rejected.append(RowError(row.number, "school_code", f"unknown school {data['school_code']}"))
        return False
    if not actor.may_change_school(school.code, school.region_code):
        rejected.append(RowError(row.number, "school_code", f"school {school.code} is outside your scope"))
        return False
    rejected.extend(
        RowError(row.number, "stage", m) for m in stage_errors(settings, data["stage"], school.stages)
    )
    rejected.extend(RowError(row.number, "grade", m) for m in grade_errors(settings, data["grade"]))
    for name, messages in seed_errors(settings, data).items():
        rejected.extend(RowError(row.number, name, m) for m in messages)
    if on_roll(data["enrolment_state"]) and owners.get(row.hmac, set()) - {data["student_id"]}:
        rejected.append(RowError(row.number, "id_number", "another student record has this identity number"))
    return len(rejected) == before


# ---------------------------------------------------------------------------------------- pass 2: write


def write_checked(
    session: Session,
    *,
    actor: Actor,
    settings: Settings,
    checked: Checked,
    partial: bool = False,
    request_id: str | None = None,
    audit_extra: Mapping[str, Any] | None = None,
) -> ImportResult:
    """Pass 2: refuse the set if any row was refused (unless `partial`), else write it chunk by chunk and audit."""
    result = ImportResult(rejected=checked.rejected)
    if result.rejected and not partial:
        raise reject_all(result.rejected, checked.total)
    trail = ImportTrail()
    while checked.blobs:
        rows: list[_Row] = []
        existing: dict[str, _Stored] = {}
        for number, hmac, data, stored in unpack(checked.blobs.pop(0)):
            rows.append(_Row(number, data, [], hmac))
            if stored is not None:
                existing[data["student_id"]] = _Stored(*stored)
        plan = _plan_writes(rows, existing, settings)
        del rows, existing
        result.unchanged += plan.unchanged
        try:
            result.student_pks.extend(_execute(session, plan))
        except IntegrityError:
            raise concurrent_change() from None
        for kind, data in plan.written:
            trail.add(kind, data)
        trail.end_chunk()
    result.created, result.updated = len(trail.created), len(trail.updated)
    if trail.created or trail.updated:
        trail.record(session, actor, result, request_id, audit_extra)
        redetermine(
            session, actor=actor, settings=settings, student_pks=result.student_pks, request_id=request_id
        )
    return result


@dataclass(slots=True)
class _Plan:
    """The statements one chunk will run, as parameter lists."""

    new_students: list[dict[str, Any]] = field(default_factory=list)
    new_guardians: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # student_id -> rows
    student_updates: list[dict[str, Any]] = field(default_factory=list)
    guardian_inserts: list[dict[str, Any]] = field(default_factory=list)
    guardian_updates: list[dict[str, Any]] = field(default_factory=list)
    guardian_deletes: list[int] = field(default_factory=list)
    updated_pks: list[int] = field(default_factory=list)
    written: list[tuple[str, dict[str, Any]]] = field(default_factory=list)  # (created|updated, payload)
    unchanged: int = 0


def _plan_writes(accepted: Sequence[_Row], existing: Mapping[str, _Stored], settings: Settings) -> _Plan:
    """Compare each accepted row with the stored student and collect only the changes."""
    plan = _Plan()
    stamp = utcnow()
    vault = settings.ids
    for row in accepted:
        data = row.data
        values = {name: data[name] for name in ROW_FIELDS} | {"id_hmac": row.hmac}
        wanted = {vault.hmac(g["id_number"]): g for g in data["guardians"]}
        stored = existing.get(data["student_id"])
        if stored is None:
            plan.new_students.append(
                {
                    "student_id": data["student_id"],
                    **values,
                    **vault.seal("student", data["id_number"], row.hmac),
                }
            )
            plan.new_guardians[data["student_id"]] = [
                {**vault.seal("guardian", g["id_number"], h), "name": g["name"], "relation": g["relation"]}
                for h, g in wanted.items()
            ]
            plan.written.append(("created", data))
            continue
        changed = values != stored.values
        for hmac, (guardian_pk, name, relation) in stored.guardians.items():
            fresh = wanted.get(hmac)
            if fresh is None:
                plan.guardian_deletes.append(guardian_pk)
                changed = True
            elif (name, relation) != (fresh["name"], fresh["relation"]):
                plan.guardian_updates.append(
                    {"id": guardian_pk, "name": fresh["name"], "relation": fresh["relation"]}
                )
                changed = True
        for hmac, fresh in wanted.items():
            if hmac not in stored.guardians:
                plan.guardian_inserts.append(
                    {
                        "student_pk": stored.pk,
                        **vault.seal("guardian", fresh["id_number"], hmac),
                        "name": fresh["name"],
                        "relation": fresh["relation"],
                    }
                )
                changed = True
        if changed:
            sealed = vault.seal("student", data["id_number"], row.hmac)  # every update row has the same keys
            plan.student_updates.append({"id": stored.pk, **values, **sealed, "updated_at": stamp})
            plan.updated_pks.append(stored.pk)
            plan.written.append(("updated", data))
        else:
            plan.unchanged += 1
    return plan


def _execute(session: Session, plan: _Plan) -> list[int]:
    """Run the plan as executemany statements; returns the pks of every student written."""
    for part in chunks(plan.new_students):
        session.execute(insert(Student), list(part))
    new_pks: dict[str, int] = {}
    for part in chunks(list(plan.new_guardians)):
        new_pks.update(
            (student_id, pk)
            for pk, student_id in session.execute(
                select(Student.id, Student.student_id).where(Student.student_id.in_(part))
            )
        )
    inserts = plan.guardian_inserts + [
        {"student_pk": new_pks[student_id], **guardian}
        for student_id, guardians in plan.new_guardians.items()
        for guardian in guardians
    ]
    for part in chunks(plan.guardian_deletes):
        session.execute(delete(Guardian).where(Guardian.id.in_(part)))
    if plan.student_updates:
        session.execute(update(Student), plan.student_updates)
    if plan.guardian_updates:
        session.execute(update(Guardian), plan.guardian_updates)
    for part in chunks(inserts):
        session.execute(insert(Guardian), list(part))
    for obj in list(session.identity_map.values()):  # bulk statements bypass loaded objects: reload them
        if isinstance(obj, Student | Guardian):
            session.expire(obj)
    return [*new_pks.values(), *plan.updated_pks]


# ---------------------------------------------------------------------------------------- the audit event


@dataclass(slots=True)
class ImportTrail:
    """The import's one audit event, collected row by row as rows are written (never the rows themselves).

    Each written row leaves its digest line (the masked audit view as canonical JSON) and its student id;
    the digest is taken over the lines in student-id order when the event is recorded. The lines of each
    written chunk are sorted and packed (`end_chunk`); when every chunk's ids come after the previous
    chunk's (a file sorted by student id), the digest reads the chunks one at a time, else all at once.
    """

    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    schools: set[str] = field(default_factory=set)
    chunk: list[tuple[str, bytes]] = field(default_factory=list)  # (student_id, digest line) not packed yet
    packed: list[bytes] = field(default_factory=list)
    last: str | None = None  # the largest student id packed so far, while the chunks are in order
    in_order: bool = True

    def add(self, kind: str, data: Mapping[str, Any]) -> None:
        view = audit_view(data, data["guardians"])
        self.chunk.append(
            (data["student_id"], audit.canonical([kind, data["student_id"], view]).encode("utf-8"))
        )
        (self.created if kind == "created" else self.updated).append(data["student_id"])
        self.schools.add(data["school_code"])

    def end_chunk(self) -> None:
        if not self.chunk:
            return
        self.chunk.sort(key=lambda line: line[0])
        self.in_order = self.in_order and (self.last is None or self.chunk[0][0] > self.last)
        self.last = self.chunk[-1][0]
        self.packed.append(pack(self.chunk))
        self.chunk = []

    def digest(self) -> str:
        self.end_chunk()
        lines: Iterable[tuple[str, bytes]] = (line for blob in self.packed for line in unpack(blob))
        if not self.in_order:
            lines = sorted(lines, key=lambda line: line[0])
        digest = hashlib.sha256()
        for _student_id, line in lines:
            digest.update(line + b"\n")
        return digest.hexdigest()

    def record(
        self,
        session: Session,
        actor: Actor,
        result: ImportResult,
        request_id: str | None,
        extra: Mapping[str, Any] | None,
    ) -> None:
        """One event for the import; its subject is the school when there is one."""
        digest = self.digest()
        schools = sorted(self.schools)
        subject = f"school:{schools[0]}" if len(schools) == 1 else f"import:{request_id or digest[:16]}"
        audit.record(
            session,
            actor=actor,
            action="student.import",
            subject=subject,
            summary={
                **dict(extra or {}),
                "created": result.created,
                "updated": result.updated,
                "unchanged": result.unchanged,
                "rejected_rows": len({e.row for e in result.rejected}),
                "schools": schools,
                "students": {"created": sorted(self.created), "updated": sorted(self.updated)},
                "digest": digest,
            },
            request_id=request_id,
        )


def audit_import(
    session: Session,
    actor: Actor,
    written: Sequence[tuple[str, dict[str, Any]]],
    result: ImportResult,
    request_id: str | None,
    extra: Mapping[str, Any] | None,
) -> None:
    """One event for rows already written (see `upsert_students`): (created|updated, payload) each."""
    trail = ImportTrail()
    for kind, data in written:
        trail.add(kind, data)
    trail.record(session, actor, result, request_id, extra)
