"""The agency records reaching a set of students, read set-based, and the agency facts they give (vectorised).

Current records valid on the date reach a student through the student's own number or a guardian's (one
hash join per way, or one index probe per student on PostgreSQL for a list); `agency_frame` turns the
matches into each fact's value and snapshot fragment by the matching rules of `facts_assembly.agency_facts`.
`facts_changed` and `undetermined` tell a feed batch which students it has to re-determine.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import date
from typing import Any

import polars as pl
from sqlalchemy import and_, case, literal, or_, select, text
from sqlalchemy.orm import Session

from aidservice.engine import RuleSet
from aidservice.engine.vocabulary import Vocabulary
from aidservice.models import AgencyRecord, Determination, Guardian, Student
from aidservice.services.bulk import chunks, read_frame, where_in
from aidservice.services.determinations.facts_assembly import current_record, in_force, valid_on
from aidservice.services.determinations.runs import Scope

MATCH_SCHEMA: dict[str, Any] = {
    "pk": pl.Int64,
    "record_id": pl.Int64,
    "status": pl.Utf8,
    "grade": pl.Int64,  # the value of the attribute the record's status binds to a fact (disability_grade)
    "via": pl.Boolean,
}
"""A match: the record reaching a student (`via` a guardian or not); the vocabulary says what it gives."""


def guardian_statuses(vocabularies: Sequence[Vocabulary]) -> list[str]:
    """Statuses that reach a student through a guardian under any of these vocabularies (what-if reads both)."""
    return sorted(set().union(*(v.guardian_statuses for v in vocabularies)))


def bound_attributes(vocabularies: Sequence[Vocabulary]) -> dict[str, str]:
    """Status -> the attribute its records carry for a fact (`disabled` -> `disability_grade`); the columnar
    path reads one attribute per status, the first the rules bind."""
    bound: dict[str, str] = {}
    for vocabulary in vocabularies:
        for status in vocabulary.statuses.values():
            if status.attributes:
                bound.setdefault(status.name, status.attributes[0].name)
    return bound


def chunk_matches(session: Session, day: date, scope: Scope, *vocabularies: Vocabulary) -> pl.DataFrame:
    """Current, valid agency records reaching the scope's students: own numbers (via false), and guardians'
    (statuses that reach through a guardian under any of the `vocabularies`)."""
    if scope.array and scope.pks is not None:
        return read_frame(session, list_matches_sql(scope.pks, day, vocabularies), MATCH_SCHEMA)
    return read_frame(session, _matches_query(day, scope, vocabularies, valid_on(day)), MATCH_SCHEMA)


def _matches_query(
    day: date, scope: Scope, vocabularies: Sequence[Vocabulary], condition: Any, *extra: Any
) -> Any:
    """Agency records meeting `condition` that reach the scope's students, both ways, as one UNION ALL."""
    bound = bound_attributes(vocabularies)
    whens = [
        (AgencyRecord.status == st, AgencyRecord.attributes[name].as_integer()) for st, name in bound.items()
    ]
    grade = case(*whens, else_=None) if whens else literal(None, type_=AgencyRecord.id.type)
    columns = (AgencyRecord.id, AgencyRecord.status, grade)
    own = (
        select(Student.id, *columns, literal(False), *extra)
        .join(AgencyRecord, AgencyRecord.person_hmac == Student.id_hmac)
        .where(scope.on(Student.id), condition)
    )
    guardian = (
        select(Guardian.student_pk, *columns, literal(True), *extra)
        .join(AgencyRecord, AgencyRecord.person_hmac == Guardian.id_hmac)
        .where(
            scope.on(Guardian.student_pk), AgencyRecord.status.in_(guardian_statuses(vocabularies)), condition
        )
    )
    return own.union_all(guardian)


def list_matches_sql(
    pks: Sequence[int], day: date, vocabularies: Sequence[Vocabulary], first_new: int | None = None
) -> str:
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
    whens = " ".join(
        f"WHEN a.status = {_quoted(st)} THEN CAST((a.attributes ->> {_quoted(name)}) AS INTEGER)"
        for st, name in bound_attributes(vocabularies).items()
    )
    grade = f"CASE {whens} END" if whens else "CAST(NULL AS INTEGER)"
    columns = f"a.id, a.status, {grade} AS grade" + (", a.superseded_by" if first_new is not None else "")
    statuses = ", ".join(_quoted(s) for s in guardian_statuses(vocabularies)) or "NULL"
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


def _quoted(name: str) -> str:
    """A rule-set name as an SQL string literal (names are identifiers the loader checked; quotes doubled)."""
    return "'" + name.replace("'", "''") + "'"


CHANGE_SCHEMA: dict[str, Any] = {**MATCH_SCHEMA, "superseded_by": pl.Int64}


def facts_changed(
    session: Session,
    day: date,
    rules: RuleSet,
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
    vocabulary = rules.vocabulary
    if session.get_bind().dialect.name == "postgresql":
        rows = read_frame(session, list_matches_sql(student_pks, day, [vocabulary], first), CHANGE_SCHEMA)
    else:
        changed_since = or_(current_record(AgencyRecord.superseded_by), AgencyRecord.superseded_by >= first)
        condition = and_(changed_since, in_force(day))
        rows = pl.concat(
            [
                read_frame(
                    session,
                    _matches_query(
                        day, Scope(pks=tuple(part)), [vocabulary], condition, AgencyRecord.superseded_by
                    ),
                    CHANGE_SCHEMA,
                )
                for part in chunks(list(student_pks))
            ]
        )
    superseded = pl.col("superseded_by")
    now = rows.filter(superseded.is_null())
    before = rows.filter(~pl.col("record_id").is_in(new) & (superseded.is_null() | superseded.is_in(new)))
    both = pl.DataFrame({"pk": sorted(set(student_pks))}, schema={"pk": pl.Int64})
    both = both.join(agency_values(before, rules.facts, vocabulary), on="pk", how="left")
    both = both.join(agency_values(now, rules.facts, vocabulary), on="pk", how="left", suffix="_now")
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


def agency_frame(matches: pl.DataFrame, catalogue: Mapping[str, Any], vocabulary: Vocabulary) -> pl.DataFrame:
    """Per matched student: each agency fact's value and its snapshot fragment (`"fact":{...}`).

    The matching rules of `facts_assembly.agency_facts`, vectorised (a test holds both paths equal).
    """
    names = sorted(set(vocabulary.fact_sources) & set(catalogue))
    found = matches.with_columns(_fact_expr(vocabulary).alias("fact")).filter(pl.col("fact").is_in(names))
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
                pl.col("fact").replace_strict(vocabulary.fact_sources, default=None),
                pl.lit('","value":true}'),
            ]
        ).alias("frag")
    )
    measured = _measured(found, catalogue, vocabulary)
    grades = (
        measured.sort("pk", "fact", "grade", "record_id")
        .group_by("pk", "fact", maintain_order=True)
        .first()
        .select(
            "pk",
            "fact",
            pl.concat_str(
                [
                    pl.lit('"'),
                    pl.col("fact"),
                    pl.lit('":{"record_ids":['),
                    pl.col("record_id").cast(pl.Utf8),
                    pl.lit('],"source":"'),
                    pl.col("fact").replace_strict(vocabulary.fact_sources, default=None),
                    pl.lit('","value":'),
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
    for fact in sorted({fact for _status, fact in _attribute_facts(vocabulary)} & set(names)):
        values = grades.filter(pl.col("fact") == fact).select("pk", pl.col("grade").alias(fact))
        wide = wide.join(values, on="pk", how="left")
    return wide


def _attribute_facts(vocabulary: Vocabulary) -> list[tuple[str, str]]:
    """(status, the fact its first bound attribute gives): (`disabled`, `disability_grade`)."""
    return [(st.name, st.attributes[0].fact) for st in vocabulary.statuses.values() if st.attributes]


def _measured(found: pl.DataFrame, catalogue: Mapping[str, Any], vocabulary: Vocabulary) -> pl.DataFrame:
    """The student's own records whose bound attribute holds a value within its fact's bounds, with the fact
    it gives (`fact`): `facts_assembly.attribute_value`, vectorised."""
    parts = []
    for status, fact in _attribute_facts(vocabulary):
        spec = catalogue.get(fact)
        if spec is None:
            continue
        keep = ~pl.col("via") & (pl.col("status") == status) & pl.col("grade").is_not_null()
        if spec.min is not None:
            keep &= pl.col("grade") >= int(spec.min)
        if spec.max is not None:
            keep &= pl.col("grade") <= int(spec.max)
        parts.append(found.filter(keep).with_columns(pl.lit(fact).alias("fact")))
    if not parts:
        return found.clear().with_columns(pl.lit(None, dtype=pl.Utf8).alias("fact"))
    return pl.concat(parts)


def _fact_expr(vocabulary: Vocabulary) -> pl.Expr:
    """The fact a matched record gives: its status; through a guardian, the status's guardian fact
    (`disabled_parent`), the status itself when it is a household one, or none."""
    via, status = pl.col("via"), pl.col("status")
    guardian_facts = {n: st.guardian_fact for n, st in vocabulary.statuses.items() if st.guardian_fact}
    household = sorted(vocabulary.household_statuses)
    expr: Any = pl.when(~via).then(status)
    for name, fact in guardian_facts.items():
        expr = expr.when(status == name).then(pl.lit(fact))
    return expr.when(status.is_in(household)).then(status).otherwise(pl.lit(None, dtype=pl.Utf8))


def agency_values(
    matches: pl.DataFrame, catalogue: Mapping[str, Any], vocabulary: Vocabulary
) -> pl.DataFrame:
    """Per matched student, the agency facts' values as one text (`fact,fact|fact=value`): what the rules
    read, without the record ids that only say where a value came from."""
    names = sorted(set(vocabulary.fact_sources) & set(catalogue))
    found = matches.with_columns(_fact_expr(vocabulary).alias("fact")).filter(pl.col("fact").is_in(names))
    flags = found.group_by("pk").agg(pl.col("fact").unique().sort().str.join(",").alias("flags"))
    measured = _measured(found, catalogue, vocabulary)
    if measured.is_empty() and not _attribute_facts(vocabulary):
        return flags.select("pk", pl.col("flags").alias("values"))
    grades = (
        measured.group_by("pk", "fact")
        .agg(pl.col("grade").min())
        .sort("pk", "fact")
        .group_by("pk", maintain_order=True)
        .agg(pl.concat_str([pl.col("fact"), pl.col("grade").cast(pl.Utf8)], separator="=").str.join(";"))
        .rename({"fact": "grades"})
    )
    return flags.join(grades, on="pk", how="left").select(
        "pk",
        pl.concat_str([pl.col("flags"), pl.col("grades").fill_null("")], separator="|").alias("values"),
    )
