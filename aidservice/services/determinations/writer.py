"""Writing a chunk's new determinations in bulk (step 4 of a region run, and of `chunks.redetermine_set`).

With the change-log locks held (`store` explains their order): explain and check the rows
(`columnar.explain_distinct`), mark which change level or awards, number them, supersede the current
determinations in one statement and insert the new ones (COPY on PostgreSQL, executemany elsewhere);
one audit event for the batch unless the caller audits it.
"""

from __future__ import annotations

import io
import json
from collections.abc import Sequence
from datetime import UTC, datetime

import polars as pl
from sqlalchemy import Text, cast, select, text
from sqlalchemy.orm import Session

from aidservice.models import Determination
from aidservice.services import audit
from aidservice.services.bulk import where_in
from aidservice.services.determinations.columnar import check_paths_agree, explain_distinct, sha256_all
from aidservice.services.determinations.records import Renderer, Stored, award_key_of
from aidservice.services.determinations.runs import Context
from aidservice.services.determinations.store import audit_stored, insert_rows, retire, take_seqs

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


def store_todo(
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
    check_paths_agree(todo)
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
    hashes = sha256_all(todo.select(content).to_series())
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
