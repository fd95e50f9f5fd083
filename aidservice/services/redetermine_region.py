"""Bulk re-determination of a region (or the province) with the columnar path, resumable, with a dry-run diff.

Once per run, without locks: the change-log head, then the current agency records valid on the date
that reach the run's students through their own or a guardian's number (one hash join per way).
Then per chunk of students (by primary key):

1. read set-based: students joined with schools (one query) and their current determinations;
2. evaluate the whole chunk with the columnar path; build each student's facts snapshot and the
   outcome hash (level, awards, facts) as vectorised string expressions; compare with the current
   determination's outcome hash;
3. for the students whose outcome differs, evaluate each *distinct* fact combination once with the
   compiled per-record path for the explanation (reasons, missing, award bases), and check that
   it agrees with the columnar result;
4. under the change-log locks: students someone else re-determined since the run read the change-log
   head are done again with the per-student path (fresh facts); the rest are stored in bulk (COPY on PostgreSQL) superseding their
   current determinations; one audit event per chunk; the job's cursor moves to the chunk's last
   student; the caller's `checkpoint` commits.

A rerun with the same job key resumes after the cursor; `dry_run` writes nothing and returns who
gains and loses what, and the money delta by program. `redetermine_set` runs steps 1-4 for a list of
students (large feed batches), under locks its caller already holds.
"""

from __future__ import annotations

import hashlib
import io
import json
from collections import Counter as Tally
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import polars as pl
from sqlalchemy import Text, and_, case, cast, func, literal, or_, select, text
from sqlalchemy.orm import Session

from aidservice.engine import LEVELS, RuleSet
from aidservice.models import AgencyRecord, Counter, Determination, Guardian, Job, School, Student
from aidservice.services import audit
from aidservice.services.actors import Actor, in_region, region_prefix
from aidservice.services.bulk import chunks, in_array, read_frame, where_in
from aidservice.services.context import Settings
from aidservice.services.determinations import (
    Batch,
    Candidate,
    Previous,
    Renderer,
    Stored,
    audit_stored,
    award_key_of,
    current_previous,
    insert_rows,
    lock_changes,
    publish,
    retire,
    store,
    take_seqs,
    to_store,
    with_award_keys,
)
from aidservice.services.errors import Conflict, ValidationFailed
from aidservice.services.facts_assembly import (
    GUARDIAN_STATUSES,
    HOUSEHOLD_STATUSES,
    ROSTER_FACTS,
    SOURCE_STATUSES,
    assemble,
    current_record,
    in_force,
    valid_on,
)

EXAMPLES = 20
JOB_KIND = "redetermine"
COPY_COLUMNS = (
    "seq",
    "student_pk",
    "school_year",
    "as_of",
    "rule_set_version",
    "level",
    "awards",
    "total_fen",
    "facts",
    "explanation",
    "changed",
    "current",
    "supersedes",
    "cause",
    "created_at",
    "content_hash",
    "outcome_hash",
)
BULK_COLUMNS = (
    Student.id.label("pk"),
    Student.student_id,
    Student.school_code,
    *(getattr(Student, name) for name in ROSTER_FACTS),
    School.city_code,
    School.inclusive_kindergarten,
    School.tuition_fee_fen.label("tuition_fee"),
    School.central_university,
)
BULK_SCHEMA: dict[str, Any] = {
    "pk": pl.Int64,
    "student_id": pl.Utf8,
    "school_code": pl.Utf8,
    "stage": pl.Utf8,
    "grade": pl.Int64,
    **{name: pl.Boolean for name in ROSTER_FACTS[2:]},
    "city_code": pl.Utf8,
    "inclusive_kindergarten": pl.Boolean,
    "tuition_fee": pl.Int64,
    "central_university": pl.Boolean,
}
AGENCY_FACTS = frozenset(
    {
        "registered_poor",
        "poverty_monitored",
        "subsistence_allowance",
        "extreme_poverty_support",
        "orphan",
        "de_facto_orphan",
        "martyr_child",
        "disabled",
        "disability_grade",
        "disabled_parent",
    }
)
FACT_SOURCE = {status: source for source, statuses in SOURCE_STATUSES.items() for status in statuses} | {
    "disabled_parent": "disabled_persons_federation"
}
SOURCES_OF = {
    "roster": (*ROSTER_FACTS,),
    "school": ("city_code", "inclusive_kindergarten", "tuition_fee", "central_university"),
}


# ------------------------------------------------------------------------------------------ results


@dataclass(slots=True)
class Diff:
    """What a run would change: level moves, programs gained and lost, money delta by program (fen)."""

    students: int = 0  # students whose level or awards would change
    facts_only: int = 0  # new facts (e.g. a newer agency record), same level and awards
    level_moves: Tally[tuple[str, str]] = field(default_factory=Tally)
    gained: Tally[str] = field(default_factory=Tally)
    lost: Tally[str] = field(default_factory=Tally)
    delta_fen: Tally[str] = field(default_factory=Tally)
    examples: list[dict[str, Any]] = field(default_factory=list)

    @property
    def up(self) -> int:
        return sum(n for (a, b), n in self.level_moves.items() if LEVELS.index(b) > LEVELS.index(a))

    @property
    def down(self) -> int:
        return sum(n for (a, b), n in self.level_moves.items() if LEVELS.index(b) < LEVELS.index(a))

    def as_json(self) -> dict[str, Any]:
        """JSON-ready: counts, moves as 'from->to', money in yuan strings."""
        return {
            "students_changing": self.students,
            "facts_only": self.facts_only,
            "level_up": self.up,
            "level_down": self.down,
            "level_moves": {f"{a}->{b}": n for (a, b), n in sorted(self.level_moves.items())},
            "programs_gained": dict(sorted(self.gained.items())),
            "programs_lost": dict(sorted(self.lost.items())),
            "money_delta": {p: _yuan(v) for p, v in sorted(self.delta_fen.items())},
            "examples": self.examples,
        }


@dataclass(slots=True)
class RegionResult:
    """The run's counts; `diff` for a dry run."""

    job_key: str | None
    region: str | None
    as_of: date
    rule_set_version: str
    dry_run: bool
    students: int = 0
    stored: int = 0
    changed: int = 0
    skipped: int = 0  # roster rows the rules cannot read (unknown stage, grade out of range)
    resumed_after: int = 0
    already_done: bool = False
    diff: Diff | None = None

    def counts(self) -> dict[str, int]:
        return {
            "students": self.students,
            "stored": self.stored,
            "changed": self.changed,
            "skipped": self.skipped,
        }


@dataclass(frozen=True, slots=True)
class Context:
    """Everything constant during a run."""

    rules: RuleSet
    batch: Batch
    prefix: str | None
    dry_run: bool
    actor: Actor
    backend: str


@dataclass(frozen=True, slots=True)
class Scope:
    """Which students a chunk covers: a primary-key range (region runs) or a list (feed batches)."""

    lo: int = 0
    hi: int | None = 0  # None: every student from `lo` on
    pks: tuple[int, ...] | None = None
    array: bool = False  # PostgreSQL: the list as one array (SQLite: an IN list, within its parameter limit)

    def on(self, column: Any) -> Any:
        """SQL condition on a student primary key column."""
        if self.pks is None:
            return column >= self.lo if self.hi is None else column.between(self.lo, self.hi)
        if self.array:
            return in_array(column, self.pks)
        return column.in_(self.pks)


# ------------------------------------------------------------------------------------------ entry point


def count_students(session: Session, region: str | None = None) -> int:
    """Students a run over `region` covers (for a progress bar)."""
    query = select(func.count()).select_from(Student).join(School, School.code == Student.school_code)
    if region:
        query = query.where(in_region(School.region_code, region))
    return session.execute(query).scalar_one()


def run(
    session: Session,
    *,
    actor: Actor,
    settings: Settings,
    region: str | None = None,
    as_of: date | None = None,
    rules: RuleSet | None = None,
    dry_run: bool = False,
    job_key: str | None = None,
    chunk: int = 50_000,
    progress: Callable[[int], None] | None = None,
    checkpoint: Callable[[], None] | None = None,
) -> RegionResult:
    """Re-determine a region chunk by chunk; `checkpoint` (the command's commit) runs after every chunk."""
    ruleset = rules or settings.rules
    ctx = _context(session, actor, settings, ruleset, region, as_of, dry_run, job_key)
    result = RegionResult(
        job_key, region, ctx.batch.as_of, ruleset.version, dry_run, diff=Diff() if dry_run else None
    )
    job = None if dry_run else _job(session, ctx, job_key, region, result)
    if result.already_done:
        return result
    if not dry_run:
        publish(session, ruleset)
    after = result.resumed_after
    seen_seq = 0 if dry_run else change_log_head(session)
    matches = chunk_matches(session, ctx.batch.as_of, Scope(after + 1, None))  # one hash join for the run
    while True:
        frame = read_chunk(session, ctx, after, chunk)
        if frame.is_empty():
            break
        _chunk(session, ctx, frame, matches, seen_seq, result)
        after = int(frame["pk"][-1])
        _advance(job, after, result)
        if checkpoint is not None:
            checkpoint()
        if progress is not None:
            progress(frame.height)
    _finish(session, ctx, job, result, checkpoint)
    return result


def _context(
    session: Session,
    actor: Actor,
    settings: Settings,
    rules: RuleSet,
    region: str | None,
    as_of: date | None,
    dry_run: bool,
    job_key: str | None,
) -> Context:
    if region is not None and not (len(region) == 6 and region.isdigit()):
        raise ValidationFailed({"region": ["must be a 6-digit division code"]})
    day = as_of or settings.default_as_of()
    cause = f"redetermine:{job_key}" if job_key else "redetermine"
    return Context(
        rules,
        Batch(settings.school_year, day, rules.version, cause[:160]),
        region_prefix(region) if region else None,
        dry_run,
        actor,
        session.get_bind().dialect.name,
    )


def _job(session: Session, ctx: Context, key: str | None, region: str | None, result: RegionResult) -> Job:
    """The job row: resumed when the key exists with the same parameters, refused when they differ."""
    params = {
        "region": region,
        "as_of": ctx.batch.as_of.isoformat(),
        "rule_set_version": ctx.rules.version,
        "school_year": ctx.batch.school_year,
    }
    key = key or f"{JOB_KIND}:{datetime.now(UTC):%Y%m%dT%H%M%S.%f}"
    result.job_key = key
    job = session.execute(select(Job).where(Job.key == key)).scalar_one_or_none()
    if job is None:
        job = Job(key=key, kind=JOB_KIND, params=params, state="running", cursor=0, counts={})
        session.add(job)
        session.flush()
        audit.record(
            session, actor=ctx.actor, action="redetermine.started", subject=f"job:{key}"[:160], summary=params
        )
        return job
    if job.kind != JOB_KIND or job.params != params:
        raise Conflict(
            f"Job '{key}' was started with other parameters ({job.params}); use another --job-key."
        )
    result.resumed_after = job.cursor
    for name, value in (job.counts or {}).items():
        setattr(result, name, value)
    result.already_done = job.state == "done"
    job.state = "done" if result.already_done else "running"
    return job


def _advance(job: Job | None, cursor: int, result: RegionResult) -> None:
    if job is not None:
        job.cursor, job.counts = cursor, result.counts()


def _finish(
    session: Session,
    ctx: Context,
    job: Job | None,
    result: RegionResult,
    checkpoint: Callable[[], None] | None,
) -> None:
    if job is None:
        return
    job.state = "done"
    audit.record(
        session,
        actor=ctx.actor,
        action="redetermine.done",
        subject=f"job:{job.key}"[:160],
        summary={**result.counts(), "cursor": job.cursor},
    )
    session.flush()
    if checkpoint is not None:
        checkpoint()


# ------------------------------------------------------------------------------------------ reading


ROSTER = select(*BULK_COLUMNS).join(School, School.code == Student.school_code)
"""Students with their schools' facts, as the columnar path reads them (narrowed by each caller)."""


def read_chunk(session: Session, ctx: Context, after: int, limit: int) -> pl.DataFrame:
    """The next `limit` students after `after` (by primary key) with their schools, as a frame."""
    query = ROSTER.where(Student.id > after)
    if ctx.prefix:
        query = query.where(in_region(School.region_code, ctx.prefix))  # a prefix is its own region_prefix
    return read_frame(session, query.order_by(Student.id).limit(limit), BULK_SCHEMA)


MATCH_SCHEMA: dict[str, Any] = {
    "pk": pl.Int64,
    "record_id": pl.Int64,
    "status": pl.Utf8,
    "grade": pl.Int64,
    "via": pl.Boolean,
}


def chunk_matches(session: Session, day: date, scope: Scope) -> pl.DataFrame:
    """Current, valid agency records reaching the scope's students: own numbers (via false), and guardians'."""
    if scope.array and scope.pks is not None:
        return read_frame(session, list_matches_sql(scope.pks, day), MATCH_SCHEMA)
    return read_frame(session, _matches_query(day, scope, valid_on(day)), MATCH_SCHEMA)


def _matches_query(day: date, scope: Scope, condition: Any, *extra: Any) -> Any:
    """Agency records meeting `condition` that reach the scope's students, both ways, as one UNION ALL."""
    grade = case(
        (AgencyRecord.status == "disabled", AgencyRecord.attributes["disability_grade"].as_integer()),
        else_=None,
    )
    columns = (AgencyRecord.id, AgencyRecord.status, grade)
    own = (
        select(Student.id, *columns, literal(False), *extra)
        .join(AgencyRecord, AgencyRecord.person_hmac == Student.id_hmac)
        .where(scope.on(Student.id), condition)
    )
    guardian = (
        select(Guardian.student_pk, *columns, literal(True), *extra)
        .join(AgencyRecord, AgencyRecord.person_hmac == Guardian.id_hmac)
        .where(scope.on(Guardian.student_pk), AgencyRecord.status.in_(sorted(GUARDIAN_STATUSES)), condition)
    )
    return own.union_all(guardian)


def list_matches_sql(pks: Sequence[int], day: date, first_new: int | None = None) -> str:
    """PostgreSQL: the matches of a list of students, one index probe per student, guardian and person.

    Lateral subqueries with OFFSET 0 fix the join order (list -> students/guardians -> records by
    person), so the plan stays linear in the list whatever the statistics of tables that just grew.
    With `first_new`, records superseded by one with an id from `first_new` on come too (and
    `superseded_by`): what the students' facts were before a batch.
    """
    keys = "{" + ",".join(str(int(pk)) for pk in pks) + "}"
    current = "coalesce(a.superseded_by, 0) = 0"
    if first_new is not None:
        current = f"({current} OR a.superseded_by >= {int(first_new)})"
    valid = (
        f"{current} AND (a.valid_from IS NULL OR a.valid_from <= DATE '{day.isoformat()}') "
        f"AND (a.valid_to IS NULL OR a.valid_to > DATE '{day.isoformat()}')"
    )
    columns = (
        "a.id, a.status, CASE WHEN a.status = 'disabled' THEN CAST((a.attributes ->> 'disability_grade') "
        "AS INTEGER) END AS grade" + (", a.superseded_by" if first_new is not None else "")
    )
    statuses = ", ".join(f"'{s}'" for s in sorted(GUARDIAN_STATUSES))
    people = (
        ("false", "SELECT students.id_hmac AS person FROM students WHERE students.id = k.pk", ""),
        (
            "true",
            "SELECT guardians.id_hmac AS person FROM guardians WHERE guardians.student_pk = k.pk",
            f" AND a.status IN ({statuses})",
        ),
    )
    return " UNION ALL ".join(
        f"SELECT k.pk, r.id, r.status, r.grade, {via}{', r.superseded_by' if first_new is not None else ''} "
        f"FROM unnest(CAST('{keys}' AS bigint[])) AS k(pk) "
        f"CROSS JOIN LATERAL ({who} OFFSET 0) AS p "
        f"CROSS JOIN LATERAL (SELECT {columns} FROM agency_records AS a "
        f"WHERE a.person_hmac = p.person AND {valid}{only} OFFSET 0) AS r"
        for via, who, only in people
    )


CHANGE_SCHEMA: dict[str, Any] = {**MATCH_SCHEMA, "superseded_by": pl.Int64}


def facts_changed(
    session: Session,
    day: date,
    catalogue: Mapping[str, Any],
    student_pks: Sequence[int],
    new_ids: Sequence[int],
    include: Iterable[int] = (),
) -> tuple[list[int], pl.DataFrame]:
    """The students whose agency facts on `day` differ before and after the records `new_ids` (just inserted,
    superseding others), with those of `include`: only they need re-determining; and their matches now (as
    `chunk_matches` reads them).

    Read under the change-log locks (the caller holds them), like every read a determination is made from.
    """
    if not student_pks or not new_ids:
        return [], pl.DataFrame(schema=MATCH_SCHEMA)
    first, new = min(new_ids), sorted(new_ids)
    if session.get_bind().dialect.name == "postgresql":
        rows = read_frame(session, list_matches_sql(student_pks, day, first), CHANGE_SCHEMA)
    else:
        changed_since = or_(current_record(AgencyRecord.superseded_by), AgencyRecord.superseded_by >= first)
        condition = and_(changed_since, in_force(day))
        rows = pl.concat(
            [
                read_frame(
                    session,
                    _matches_query(day, Scope(pks=tuple(part)), condition, AgencyRecord.superseded_by),
                    CHANGE_SCHEMA,
                )
                for part in chunks(list(student_pks))
            ]
        )
    superseded = pl.col("superseded_by")
    now = rows.filter(superseded.is_null())
    before = rows.filter(~pl.col("record_id").is_in(new) & (superseded.is_null() | superseded.is_in(new)))
    both = pl.DataFrame({"pk": sorted(set(student_pks))}, schema={"pk": pl.Int64})
    both = both.join(agency_values(before, catalogue), on="pk", how="left")
    both = both.join(agency_values(now, catalogue), on="pk", how="left", suffix="_now")
    differ = pl.col("values").ne_missing(pl.col("values_now")) | pl.col("pk").is_in(sorted(set(include)))
    changed = both.filter(differ)["pk"].to_list()
    return changed, now.filter(pl.col("pk").is_in(changed)).select(list(MATCH_SCHEMA))


UNDETERMINED = text("""
SELECT k.pk FROM unnest(string_to_array(:pks, ',')::integer[]) AS k(pk)
WHERE NOT EXISTS (
    SELECT 1 FROM determinations
    WHERE determinations.student_pk = k.pk AND determinations.school_year = :year AND determinations.current
    OFFSET 0
)
""")


def undetermined(session: Session, student_pks: Sequence[int], school_year: str) -> list[int]:
    """Students of the list with no current determination for the school year (one index probe each)."""
    if not student_pks:
        return []
    if session.get_bind().dialect.name == "postgresql":
        rows = session.execute(UNDETERMINED, {"pks": ",".join(map(str, student_pks)), "year": school_year})
        return sorted(rows.scalars())
    found: set[int] = set()
    for condition in where_in(session, Determination.student_pk, student_pks):
        found.update(
            session.execute(
                select(Determination.student_pk).where(
                    condition, Determination.school_year == school_year, Determination.current.is_(True)
                )
            ).scalars()
        )
    return sorted(set(student_pks) - found)


def agency_frame(matches: pl.DataFrame, catalogue: Mapping[str, Any]) -> pl.DataFrame:
    """Per matched student: each agency fact's value and its snapshot fragment (`"fact":{...}`).

    The matching rules of `facts_assembly.agency_facts`, vectorised (a test holds both paths equal).
    """
    names = sorted(AGENCY_FACTS & set(catalogue))
    via, status = pl.col("via"), pl.col("status")
    found = matches.with_columns(_fact_expr().alias("fact")).filter(pl.col("fact").is_in(names))
    flags = found.group_by("pk", "fact").agg(
        pl.col("record_id").sort().cast(pl.Utf8).str.join(",").alias("ids")
    )
    flags = flags.with_columns(
        pl.concat_str(
            [
                pl.lit('"'),
                pl.col("fact"),
                pl.lit('":{"record_ids":['),
                pl.col("ids"),
                pl.lit('],"source":"'),
                pl.col("fact").replace_strict(FACT_SOURCE, default=None),
                pl.lit('","value":true}'),
            ]
        ).alias("frag")
    )
    grades = (
        found.filter(~via & (status == "disabled") & pl.col("grade").is_between(1, 4))
        .sort("pk", "grade", "record_id")
        .group_by("pk", maintain_order=True)
        .first()
        .select(
            "pk",
            pl.lit("disability_grade").alias("fact"),
            pl.concat_str(
                [
                    pl.lit('"disability_grade":{"record_ids":['),
                    pl.col("record_id").cast(pl.Utf8),
                    pl.lit('],"source":"disabled_persons_federation","value":'),
                    pl.col("grade").cast(pl.Utf8),
                    pl.lit("}"),
                ]
            ).alias("frag"),
            pl.col("grade"),
        )
    )
    long = pl.concat([flags.select("pk", "fact", "frag"), grades.select("pk", "fact", "frag")])
    wide = long.pivot(on="fact", index="pk", values="frag") if long.height else pl.DataFrame({"pk": []})
    wide = wide.with_columns(pl.col("pk").cast(pl.Int64))
    out = [pl.col("pk")]
    for name in names:
        frag = pl.col(name) if name in wide.columns else pl.lit(None, dtype=pl.Utf8)
        out.append(frag.cast(pl.Utf8).alias(f"__frag_{name}"))
        if catalogue[name].type == "bool":
            out.append(frag.is_not_null().alias(name))
    wide = wide.select(out)
    if "disability_grade" in names:
        wide = wide.join(grades.select("pk", pl.col("grade").alias("disability_grade")), on="pk", how="left")
    return wide


def _fact_expr() -> pl.Expr:
    """The fact a matched record gives: its status, `disabled_parent` for a guardian's disability, none for a
    guardian's personal status."""
    via, status = pl.col("via"), pl.col("status")
    return (
        pl.when(via & (status == "disabled"))
        .then(pl.lit("disabled_parent"))
        .when(via & ~status.is_in(sorted(HOUSEHOLD_STATUSES)))
        .then(pl.lit(None, dtype=pl.Utf8))
        .otherwise(status)
    )


def agency_values(matches: pl.DataFrame, catalogue: Mapping[str, Any]) -> pl.DataFrame:
    """Per matched student, the agency facts' values as one text (`fact,fact|grade`): what the rules read,
    without the record ids that only say where a value came from."""
    names = sorted(AGENCY_FACTS & set(catalogue))
    found = matches.with_columns(_fact_expr().alias("fact")).filter(pl.col("fact").is_in(names))
    flags = found.group_by("pk").agg(pl.col("fact").unique().sort().str.join(",").alias("flags"))
    if "disability_grade" not in names:
        return flags.select("pk", pl.col("flags").alias("values"))
    grades = (
        found.filter(~pl.col("via") & (pl.col("status") == "disabled") & pl.col("grade").is_between(1, 4))
        .group_by("pk")
        .agg(pl.col("grade").min())
    )
    return flags.join(grades, on="pk", how="left").select(
        "pk",
        pl.concat_str([pl.col("flags"), pl.col("grade").cast(pl.Utf8).fill_null("")], separator="|").alias(
            "values"
        ),
    )


# ------------------------------------------------------------------------------------------ facts frame


def facts_of_chunk(ctx: Context, roster: pl.DataFrame, matches: pl.DataFrame) -> tuple[pl.DataFrame, int]:
    """Roster + school + agency facts of the chunk (engine units), with each row's snapshot JSON; and skips."""
    catalogue = ctx.rules.facts
    usable = _usable(roster, catalogue)
    skipped = roster.height - usable.height
    agency = agency_frame(matches, catalogue)
    frame = usable.join(agency, on="pk", how="left").sort("pk")
    bools = [
        n for n in agency.columns if not n.startswith("__frag_") and n != "pk" and catalogue[n].type == "bool"
    ]
    frame = frame.with_columns([pl.col(n).fill_null(False) for n in bools])
    return frame.with_columns(_snapshot_expr(catalogue, agency.columns).alias("facts_text")), skipped


def _usable(roster: pl.DataFrame, catalogue: Mapping[str, Any]) -> pl.DataFrame:
    """Rows the rules can read: a known stage, a grade in range; a city code outside the catalogue is unknown."""
    stage, grade = catalogue["stage"], catalogue["grade"]
    keep = pl.col("stage").is_in(list(stage.values)) & pl.col("grade").is_not_null()
    if grade.min is not None:
        keep &= pl.col("grade") >= int(grade.min)
    if grade.max is not None:
        keep &= pl.col("grade") <= int(grade.max)
    cities = list(catalogue["city_code"].values) if "city_code" in catalogue else []
    return roster.filter(keep).with_columns(
        pl.when(pl.col("city_code").is_in(cities))
        .then(pl.col("city_code"))
        .otherwise(None)
        .alias("city_code")
    )


def _snapshot_expr(catalogue: Mapping[str, Any], agency_columns: Sequence[str]) -> pl.Expr:
    """The canonical snapshot JSON per row, fact by fact in name order (equal to `snapshot_json`)."""
    parts: dict[str, pl.Expr] = {}
    for source, names in SOURCES_OF.items():
        for name in names:
            if name in catalogue:
                parts[name] = _fragment(name, source, catalogue[name])
    for column in agency_columns:
        if column.startswith("__frag_"):
            parts[column.removeprefix("__frag_")] = pl.col(column)
    ordered = [parts[name] for name in sorted(parts)]
    return pl.concat_str([pl.lit("{"), pl.concat_str(ordered, separator=",", ignore_nulls=True), pl.lit("}")])


def _fragment(name: str, source: str, spec: Any) -> pl.Expr:
    """A roster or school fact's snapshot entry; a false boolean is the default and is left out (null)."""
    if spec.type == "bool":
        return pl.when(pl.col(name)).then(
            pl.lit(f'"{name}":{{"record_ids":[],"source":"{source}","value":true}}')
        )
    value = _value_expr(name, spec)
    return pl.concat_str(
        [pl.lit(f'"{name}":{{"record_ids":[],"source":"{source}","value":'), value, pl.lit("}")]
    )


def _value_expr(name: str, spec: Any) -> pl.Expr:
    """A fact column rendered as canonical JSON (null -> null, money -> "1250.00")."""
    column = pl.col(name)
    if spec.type == "bool":
        rendered = pl.when(column).then(pl.lit("true")).otherwise(pl.lit("false"))
    elif spec.type == "int":
        rendered = column.cast(pl.Utf8)
    elif spec.type == "money" and spec.decimals == 2:
        fen = column.cast(pl.Int64)
        rendered = pl.concat_str(
            [
                pl.lit('"'),
                (fen // 100).cast(pl.Utf8),
                pl.lit("."),
                (fen % 100).cast(pl.Utf8).str.zfill(2),
                pl.lit('"'),
            ]
        )
    else:
        rendered = pl.concat_str([pl.lit('"'), column.cast(pl.Utf8), pl.lit('"')])
    return pl.when(column.is_null()).then(pl.lit("null")).otherwise(rendered)


# ------------------------------------------------------------------------------------------ evaluating


def evaluate_chunk(ctx: Context, facts: pl.DataFrame) -> pl.DataFrame:
    """Columnar evaluation, then the award key and outcome hash per row (what decides whether to store)."""
    catalogue = ctx.rules.facts
    inputs = [c for c in facts.columns if c in catalogue]
    out = ctx.rules.evaluate_frame(facts.select(["pk", *inputs]), ctx.batch.as_of)
    programs = sorted(p.id for p in ctx.rules.rules.programs)
    key_parts = [
        pl.when(pl.col(f"has_{p}")).then(
            pl.concat_str(
                [
                    pl.lit(f'["{p}",'),
                    pl.when(pl.col(f"fen_{p}").is_null())
                    .then(pl.lit("null"))
                    .otherwise(
                        pl.concat_str(
                            [
                                pl.lit('"'),
                                (pl.col(f"fen_{p}") // 100).cast(pl.Utf8),
                                pl.lit("."),
                                (pl.col(f"fen_{p}") % 100).cast(pl.Utf8).str.zfill(2),
                                pl.lit('"'),
                            ]
                        )
                    ),
                    pl.lit("]"),
                ]
            )
        )
        for p in programs
    ]
    award_key = pl.concat_str(
        [pl.lit("["), pl.concat_str(key_parts, separator=",", ignore_nulls=True), pl.lit("]")]
    )
    out = out.select(
        [
            "pk",
            pl.col("level").cast(pl.Utf8),
            "total_fen",
            award_key.alias("award_key"),
            *(f"has_{p}" for p in programs),
            *(f"fen_{p}" for p in programs),
        ]
    )
    frame = facts.join(out, on="pk", how="left").sort("pk")
    outcome = pl.concat_str(
        [
            pl.lit('{"awards":'),
            pl.col("award_key"),
            pl.lit(',"facts":'),
            pl.col("facts_text"),
            pl.lit(',"level":"'),
            pl.col("level"),
            pl.lit('"}'),
        ]
    )
    return frame.with_columns(pl.Series("outcome_hash", _sha256_all(frame.select(outcome).to_series())))


def _sha256_all(texts: pl.Series) -> list[str]:
    return [hashlib.sha256(t.encode("utf-8")).hexdigest() for t in texts.to_list()]


def explain_distinct(ctx: Context, todo: pl.DataFrame, renderer: Renderer) -> pl.DataFrame:
    """Per-record evaluation once per distinct fact combination: awards, explanation and their texts."""
    catalogue = ctx.rules.facts
    inputs = [c for c in todo.columns if c in catalogue]
    evaluate = ctx.rules.compiled(ctx.batch.as_of)
    combos = todo.select(inputs).unique()
    columns: dict[str, list[Any]] = {
        k: [] for k in ("awards_text", "explanation_text", "key_text", "level_pr", "total_pr")
    }
    for row in combos.rows():
        result = evaluate(dict(zip(inputs, row, strict=True)))
        _awards, awards_text, _key, key_text = renderer.awards(result.awards)
        _expl, expl_text = renderer.explanation(result.reasons, result.missing)
        for name, value in zip(
            columns, (awards_text, expl_text, key_text, result.level, result.total_fen), strict=True
        ):
            columns[name].append(value)
    combos = combos.with_columns(
        [
            pl.Series(name, values, dtype=pl.Int64 if name == "total_pr" else pl.Utf8)
            for name, values in columns.items()
        ]
    )
    return todo.join(combos, on=inputs, how="left", nulls_equal=True).sort("pk")


def _check_paths_agree(frame: pl.DataFrame) -> None:
    """The columnar and per-record paths must agree; storing either side of a disagreement would be wrong."""
    bad = frame.filter(
        (pl.col("level") != pl.col("level_pr"))
        | (pl.col("total_fen") != pl.col("total_pr"))
        | (pl.col("award_key") != pl.col("key_text"))
    )
    if bad.height:
        raise RuntimeError(
            f"columnar and per-record evaluation disagree for {bad.height} student(s), e.g. student "
            f"{bad['student_id'][0]}: columnar {bad['level'][0]} {bad['award_key'][0]}, "
            f"per-record {bad['level_pr'][0]} {bad['key_text'][0]}; nothing stored"
        )


# ------------------------------------------------------------------------------------------ one chunk


def _chunk(
    session: Session,
    ctx: Context,
    roster: pl.DataFrame,
    matches: pl.DataFrame,
    seen_seq: int,
    result: RegionResult,
) -> None:
    """Evaluate and compare one chunk, then store (or, in a dry run, diff) what differs.

    `matches` and `seen_seq` were read once for the run (the change-log head first): a student
    re-determined since then by anyone else is redone under the lock with fresh facts.
    """
    lo, hi = int(roster["pk"][0]), int(roster["pk"][-1])
    mine = matches.filter(pl.col("pk").is_between(lo, hi))
    todo, evaluated, skipped = _compare(session, ctx, roster, Scope(lo, hi), mine)
    result.students += evaluated
    result.skipped += skipped
    if ctx.dry_run:
        _diff(session, ctx, todo, result.diff)  # type: ignore[arg-type]
        return
    _store_chunk(session, ctx, todo, seen_seq, result)


def _compare(
    session: Session, ctx: Context, roster: pl.DataFrame, scope: Scope, matches: pl.DataFrame
) -> tuple[pl.DataFrame, int, int]:
    """Facts, columnar evaluation and the current determinations: (students whose outcome differs, evaluated,
    skipped)."""
    facts, skipped = facts_of_chunk(ctx, roster, matches)
    frame = evaluate_chunk(ctx, facts)
    frame = frame.join(_previous_frame(session, ctx, scope), on="pk", how="left").sort("pk")
    todo = frame.filter(pl.col("prev_hash").is_null() | (pl.col("prev_hash") != pl.col("outcome_hash")))
    return todo, frame.height, skipped


def redetermine_set(
    session: Session,
    *,
    actor: Actor,
    rules: RuleSet,
    batch: Batch,
    student_pks: Sequence[int],
    request_id: str | None = None,
    matches: pl.DataFrame | None = None,
    seen_seq: int | None = None,
    audited: bool = True,
) -> tuple[int, Stored]:
    """The vectorised path for a set of students (a large feed batch).

    Without `seen_seq` the caller holds the change-log locks, and `matches` are the students' agency matches if
    it read them under those locks (`facts_changed`). With `seen_seq` (the change log's head before the caller
    read anything) the facts are read and evaluated without the locks, so concurrent batches overlap there; the
    locks are taken to store, and the students someone re-determined meanwhile are read and evaluated again
    under them (optimistic: the change log says who, as for a region run's chunks). `audited`: False leaves the
    audit event to the caller (`determinations.redetermine_students` audits its chunks once).
    """
    ctx = Context(rules, batch, None, False, actor, session.get_bind().dialect.name)
    scope = Scope(pks=tuple(sorted(set(student_pks))), array=ctx.backend == "postgresql")
    roster = _roster_frame(session, scope)
    if roster.is_empty():
        return 0, Stored()
    if matches is None:
        matches = chunk_matches(session, batch.as_of, scope)
    todo, evaluated, _skipped = _compare(session, ctx, roster, scope, matches)
    if seen_seq is not None:
        lock_changes(session)
        stale = _changed_since(session, seen_seq, scope.pks, batch.school_year)
        if stale:
            again = Scope(pks=tuple(stale), array=scope.array)
            redone, _evaluated, _skipped = _compare(
                session, ctx, _roster_frame(session, again), again, chunk_matches(session, batch.as_of, again)
            )
            todo = pl.concat([todo.filter(~pl.col("pk").is_in(stale)), redone], how="vertical_relaxed").sort(
                "pk"
            )
    return evaluated, _store_todo(session, ctx, todo, evaluated, request_id, audited)


def _roster_frame(session: Session, scope: Scope) -> pl.DataFrame:
    return read_frame(session, ROSTER.where(scope.on(Student.id)).order_by(Student.id), BULK_SCHEMA)


def _changed_since(session: Session, seen_seq: int, pks: Sequence[int], school_year: str) -> list[int]:
    """Students of the set that got a determination after `seen_seq`, read by seq: only the newer changes.

    Not `_redetermined_since`: a batch's students are scattered over the whole key range, which that query
    (made for a region run's contiguous chunks) would read in full.
    """
    newer = session.execute(
        select(Determination.student_pk).where(
            Determination.seq > seen_seq, Determination.school_year == school_year
        )
    ).scalars()
    return sorted(set(newer) & set(pks))


def change_log_head(session: Session) -> int:
    """The last seq handed out and committed (as this transaction sees it): a watermark for optimistic work."""
    return session.execute(select(Counter.value).where(Counter.name == "changes")).scalar_one_or_none() or 0


def _previous_frame(session: Session, ctx: Context, scope: Scope) -> pl.DataFrame:
    """Current determinations of the scope's students: id, level, outcome hash."""
    query = select(
        Determination.student_pk, Determination.id, Determination.level, Determination.outcome_hash
    ).where(
        scope.on(Determination.student_pk),
        Determination.school_year == ctx.batch.school_year,
        Determination.current.is_(True),
    )
    schema = {"pk": pl.Int64, "prev_id": pl.Int64, "prev_level": pl.Utf8, "prev_hash": pl.Utf8}
    return read_frame(session, query, schema)


def _previous_awards(session: Session, prev_ids: Sequence[int]) -> dict[int, list[dict[str, Any]]]:
    """Stored awards of the determinations about to be superseded (only those: JSON is costly to read)."""
    found: dict[int, list[dict[str, Any]]] = {}
    for condition in where_in(session, Determination.id, prev_ids):
        rows = session.execute(select(Determination.id, Determination.awards).where(condition))
        found.update((det_id, awards) for det_id, awards in rows)
    return found


def _previous_award_keys(session: Session, prev_ids: Sequence[int]) -> dict[int, str]:
    """The award keys (canonical text) of the determinations about to be superseded.

    Read as the stored text and decoded once per distinct text: thousands of determinations share a
    handful of award lists, and decoding each one's JSON cost more than the rest of the comparison.
    """
    found: dict[int, str] = {}
    keys: dict[str, str] = {}
    stored = cast(Determination.awards, Text)
    for condition in where_in(session, Determination.id, prev_ids):
        for det_id, awards in session.execute(select(Determination.id, stored).where(condition)):
            key = keys.get(awards)
            if key is None:
                key = keys[awards] = audit.canonical([list(k) for k in award_key_of(json.loads(awards))])
            found[det_id] = key
    return found


def _store_chunk(
    session: Session, ctx: Context, todo: pl.DataFrame, seen_seq: int, result: RegionResult
) -> None:
    """Under the locks: redo students someone else re-determined meanwhile, then store the rest in bulk."""
    lock_changes(session)
    stale = (
        _redetermined_since(session, seen_seq, todo["pk"].to_list(), ctx.batch.school_year)
        if todo.height
        else set()
    )
    if stale:
        _redo_stale(session, ctx, sorted(stale), result)
        todo = todo.filter(~pl.col("pk").is_in(sorted(stale)))
    stored = _store_todo(session, ctx, todo, todo.height, None)
    result.stored += len(stored.seqs)
    result.changed += stored.changed


def _store_todo(
    session: Session,
    ctx: Context,
    todo: pl.DataFrame,
    evaluated: int,
    request_id: str | None,
    audited: bool = True,
) -> Stored:
    """Explain, check, number, write and audit the determinations that differ (locks held)."""
    if todo.height == 0:
        return Stored()
    todo = explain_distinct(ctx, todo, Renderer())
    _check_paths_agree(todo)
    todo = _with_changed(session, todo)
    stored = _write(session, ctx, todo)
    if audited:
        audit_stored(
            session,
            actor=ctx.actor,
            batch=ctx.batch,
            stored=stored,
            evaluated=evaluated,
            request_id=request_id,
        )
    return stored


def _redetermined_since(session: Session, seen_seq: int, pks: Sequence[int], school_year: str) -> set[int]:
    """Students of this chunk that got a determination after the run read their facts.

    Grouped over the chunk's key range (the student index), never a scan of every newer change:
    the run's own earlier chunks add many of those.
    """
    if not pks:
        return set()
    rows = (
        session.execute(
            select(Determination.student_pk)
            .where(
                Determination.student_pk.between(min(pks), max(pks)), Determination.school_year == school_year
            )
            .group_by(Determination.student_pk)
            .having(func.max(Determination.seq) > seen_seq)
        )
        .scalars()
        .all()
    )
    wanted = set(pks)
    return {pk for pk in rows if pk in wanted}


def _redo_stale(session: Session, ctx: Context, pks: Sequence[int], result: RegionResult) -> None:
    """The per-student path, under the locks already held, for students whose facts changed meanwhile."""
    students = assemble(session, pks, ctx.batch.as_of, ctx.rules.facts)
    renderer, evaluate = Renderer(), ctx.rules.compiled(ctx.batch.as_of)
    candidates: list[Candidate] = [renderer.candidate(s, evaluate(s.values)) for s in students]
    previous: dict[int, Previous] = current_previous(session, pks, ctx.batch.school_year)
    todo = to_store(candidates, previous)
    previous = with_award_keys(session, previous, [c.student.pk for c in todo])
    stored = store(session, todo, previous, ctx.batch)
    result.stored += len(stored.seqs)
    result.changed += stored.changed
    audit_stored(
        session, actor=ctx.actor, batch=ctx.batch, stored=stored, evaluated=len(students), request_id=None
    )


def _with_changed(session: Session, todo: pl.DataFrame) -> pl.DataFrame:
    """`changed`: level or awards differ from the superseded determination (or there is none)."""
    prev_ids = [int(i) for i in todo["prev_id"].drop_nulls().to_list()]
    prev_keys = _previous_award_keys(session, prev_ids)
    keys = pl.DataFrame(
        {"prev_id": list(prev_keys), "prev_key": list(prev_keys.values())},
        schema={"prev_id": pl.Int64, "prev_key": pl.Utf8},
    )
    todo = todo.join(keys, on="prev_id", how="left").sort("pk")
    changed = (
        pl.col("prev_id").is_null()
        | (pl.col("prev_level") != pl.col("level_pr"))
        | (pl.col("prev_key") != pl.col("key_text"))
    )
    return todo.with_columns(changed.alias("changed"))


def _write(session: Session, ctx: Context, todo: pl.DataFrame) -> Stored:
    """Number the rows under the change-log lock, supersede the current ones, insert the new ones in bulk."""
    stored = Stored()
    first = take_seqs(session, todo.height)
    batch = ctx.batch
    content = pl.concat_str(
        [
            pl.lit(f'{{"as_of":"{batch.as_of.isoformat()}","awards":'),
            pl.col("awards_text"),
            pl.lit(',"explanation":'),
            pl.col("explanation_text"),
            pl.lit(',"facts":'),
            pl.col("facts_text"),
            pl.lit(',"level":"'),
            pl.col("level_pr"),
            pl.lit(
                f'","rule_set_version":{json.dumps(batch.rule_set_version)},'
                f'"school_year":{json.dumps(batch.school_year)},"student_pk":'
            ),
            pl.col("pk").cast(pl.Utf8),
            pl.lit(',"total_fen":'),
            pl.col("total_pr").cast(pl.Utf8),
            pl.lit("}"),
        ]
    )
    todo = todo.with_columns(pl.int_range(first, first + todo.height, dtype=pl.Int64).alias("seq"))
    hashes = _sha256_all(todo.select(content).to_series())
    todo = todo.with_columns(pl.Series("content_hash", hashes))
    stored.seqs, stored.hashes = todo["seq"].to_list(), hashes
    stored.changed = int(todo["changed"].sum())
    retire_many(session, ctx.backend, [int(i) for i in todo["prev_id"].drop_nulls().to_list()])
    rows = todo.select(
        "seq",
        pl.col("pk").alias("student_pk"),
        pl.lit(batch.school_year).alias("school_year"),
        pl.lit(batch.as_of).alias("as_of"),
        pl.lit(batch.rule_set_version).alias("rule_set_version"),
        pl.col("level_pr").alias("level"),
        pl.col("awards_text").alias("awards"),
        pl.col("total_pr").alias("total_fen"),
        pl.col("facts_text").alias("facts"),
        pl.col("explanation_text").alias("explanation"),
        "changed",
        pl.lit(True).alias("current"),
        pl.col("prev_id").alias("supersedes"),
        pl.lit(batch.cause).alias("cause"),
        pl.lit(datetime.now(UTC)).alias("created_at"),
        "content_hash",
        "outcome_hash",
    )
    if ctx.backend == "postgresql":
        _copy(session, rows)
    else:
        _executemany(session, rows)
    return stored


def retire_many(session: Session, backend: str, ids: Sequence[int]) -> None:
    """Superseded determinations are no longer current: one statement per chunk."""
    if not ids:
        return
    if backend == "postgresql":
        session.execute(
            text(
                "UPDATE determinations SET current = false WHERE id IN (SELECT unnest(CAST(:ids AS bigint[])))"
            ),
            {"ids": list(ids)},
        )
    else:
        retire(session, ids)


def _copy(session: Session, rows: pl.DataFrame) -> None:
    """PostgreSQL: COPY the rows as CSV in the session's transaction (JSON columns travel as text)."""
    buffer = io.BytesIO()
    moment = rows["created_at"][0].isoformat()
    rows.with_columns(pl.lit(moment).alias("created_at")).write_csv(
        buffer, include_header=False, date_format="%Y-%m-%d"
    )
    raw = session.connection().connection.driver_connection
    with (
        raw.cursor() as cursor,
        cursor.copy(  # type: ignore[union-attr]
            f"COPY determinations ({', '.join(COPY_COLUMNS)}) FROM STDIN WITH (FORMAT csv)"
        ) as copy,
    ):
        copy.write(buffer.getvalue())


def _executemany(session: Session, rows: pl.DataFrame, size: int = 1000) -> None:
    """Other databases: a bulk insert through the model (JSON columns as objects, `size` rows decoded at a time)."""
    for start in range(0, rows.height, size):
        insert_rows(
            session,
            [
                {
                    **row,
                    "awards": json.loads(row["awards"]),
                    "facts": json.loads(row["facts"]),
                    "explanation": json.loads(row["explanation"]),
                }
                for row in rows.slice(start, size).iter_rows(named=True)
            ],
        )


# ------------------------------------------------------------------------------------------ dry run


def _diff(session: Session, ctx: Context, todo: pl.DataFrame, diff: Diff) -> None:
    """Who would gain and lose what: level moves, programs, money by program (the current one vs the new)."""
    if todo.height == 0:
        return
    programs = sorted(p.id for p in ctx.rules.rules.programs)
    prev_ids = [int(i) for i in todo["prev_id"].drop_nulls().to_list()]
    before = _previous_awards(session, prev_ids)
    for row in todo.iter_rows(named=True):
        old = {a["program"]: _fen(a["amount"]) for a in before.get(row["prev_id"], [])}
        new = {p: row[f"fen_{p}"] for p in programs if row[f"has_{p}"]}
        old_level = row["prev_level"] or "none"
        if old_level == row["level"] and old.keys() == new.keys() and all(old[p] == new[p] for p in new):
            diff.facts_only += 1
            continue
        _tally(diff, row, old_level, old, new, ctx.rules.rules.programs)


def _tally(
    diff: Diff,
    row: Mapping[str, Any],
    old_level: str,
    old: Mapping[str, int | None],
    new: Mapping[str, int | None],
    programs: Iterable[Any],
) -> None:
    counted = {p.id for p in programs if p.kind != "loan"}
    diff.students += 1
    if old_level != row["level"]:
        diff.level_moves[(old_level, row["level"])] += 1
    gained, lost = sorted(new.keys() - old.keys()), sorted(old.keys() - new.keys())
    diff.gained.update(gained)
    diff.lost.update(lost)
    delta = 0
    for program in new.keys() | old.keys():
        change = (new.get(program) or 0) - (old.get(program) or 0)
        if change:
            diff.delta_fen[program] += change
            delta += change if program in counted else 0
    if len(diff.examples) < EXAMPLES:
        diff.examples.append(
            {
                "student_id": row["student_id"],
                "pk": row["pk"],
                "level": [old_level, row["level"]],
                "gained": gained,
                "lost": lost,
                "total_delta": _yuan(delta),
            }
        )


def masked_numbers(session: Session, pks: Sequence[int]) -> dict[int, str]:
    """Masked ID numbers of the example students, for the dry-run report."""
    if not pks:
        return {}
    found = {}
    for condition in where_in(session, Student.id, pks):
        found.update(
            {
                pk: masked
                for pk, masked in session.execute(select(Student.id, Student.id_mask).where(condition))
            }
        )
    return found


def _fen(amount: str | None) -> int | None:
    if amount is None:
        return None
    whole, _, cents = amount.partition(".")
    sign = -1 if whole.startswith("-") else 1
    return sign * (abs(int(whole)) * 100 + int((cents + "00")[:2]))


def _yuan(fen: int) -> str:
    sign, fen = ("-", -fen) if fen < 0 else ("", fen)
    return f"{sign}{fen // 100}.{fen % 100:02d}"


__all__ = ["Diff", "RegionResult", "count_students", "masked_numbers", "run"]
