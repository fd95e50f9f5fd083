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

from aidservice.models import AgencyRecord, Determination, Guardian, Student
from aidservice.services.bulk import chunks, read_frame, where_in
from aidservice.services.determinations.facts_assembly import (
    GUARDIAN_STATUSES,
    HOUSEHOLD_STATUSES,
    SOURCE_STATUSES,
    current_record,
    in_force,
    valid_on,
)
from aidservice.services.determinations.runs import Scope

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
