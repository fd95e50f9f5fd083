"""The columnar evaluation glue: a chunk's facts as a frame, evaluated at once, explained per distinct facts.

Roster and school facts come from one query (students joined with schools), agency facts from
`matches.agency_frame`; each row's facts snapshot and its outcome hash (level, awards, facts) are built as
vectorised string expressions equal to the per-record path's canonical JSON. The students whose outcome
differs are then evaluated once per *distinct* fact combination with the compiled per-record path, for the
explanation (reasons, missing, award bases), and both paths must agree before anything is stored.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from typing import Any

import polars as pl
from sqlalchemy import select

from aidservice.models import School, Student
from aidservice.services.determinations.facts_assembly import ROSTER_FACTS
from aidservice.services.determinations.matches import agency_frame
from aidservice.services.determinations.records import Renderer
from aidservice.services.determinations.runs import Context

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


SOURCES_OF = {
    "roster": (*ROSTER_FACTS,),
    "school": ("city_code", "inclusive_kindergarten", "tuition_fee", "central_university"),
}


ROSTER = select(*BULK_COLUMNS).join(School, School.code == Student.school_code)
"""Students with their schools' facts, as the columnar path reads them (narrowed by each caller)."""


# ------------------------------------------------------------------------------------------ facts frame


def facts_of_chunk(ctx: Context, roster: pl.DataFrame, matches: pl.DataFrame) -> tuple[pl.DataFrame, int]:
    """Roster + school + agency facts of the chunk (engine units), with each row's snapshot JSON; and skips."""
    catalogue = ctx.rules.facts
    usable = _usable(roster, catalogue)
    skipped = roster.height - usable.height
    agency = agency_frame(matches, catalogue, ctx.rules.vocabulary)
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
    return frame.with_columns(pl.Series("outcome_hash", sha256_all(frame.select(outcome).to_series())))


def sha256_all(texts: pl.Series) -> list[str]:
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


def check_paths_agree(frame: pl.DataFrame) -> None:
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
