"""Set-based database helpers for the feed and determination services: IN lists and bulk inserts per backend.

On PostgreSQL a list goes as one array parameter (`= ANY(%s)`: constant SQL text whatever the
length, so neither the driver nor the server parses a query per list size) and rows go in with
COPY; elsewhere lists are IN chunks within SQLite's parameter limit and rows go in with executemany.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

from sqlalchemy import ColumnElement, bindparam, func, insert, select, text, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session

IN_CHUNK = 5000  # bound parameters per IN list (SQLite allows 32766)


def backend(session: Session) -> str:
    """'postgresql', 'sqlite', ...: the dialect the session talks to."""
    return session.get_bind().dialect.name


def chunks(items: Sequence[Any], size: int = IN_CHUNK) -> Iterator[Sequence[Any]]:
    """Slices of at most `size`."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


def where_in(session: Session, column: Any, values: Iterable[Any]) -> Iterator[ColumnElement[bool]]:
    """Conditions `column IN values`, one per query to run: a single array on PostgreSQL, IN chunks elsewhere."""
    items = list(values)
    if not items:
        return
    if backend(session) == "postgresql":
        yield in_array(column, items)
        return
    for part in chunks(items):
        yield column.in_(part)


def in_array(column: Any, items: Sequence[Any]) -> ColumnElement[bool]:
    """PostgreSQL: `column IN (SELECT unnest(:array))`, a semi-join.

    Never `= ANY(:array)`: with a bound array the server tests each row against the whole list, so
    a plan that scans (stale statistics, a table just loaded) becomes rows x keys comparisons; the
    semi-join is an index nested loop or a hash join whatever the statistics say.
    """
    return column.in_(
        select(func.unnest(bindparam(None, list(items), type_=ARRAY(column.type)))).scalar_subquery()
    )


def copy_rows(session: Session, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    """PostgreSQL COPY in the session's transaction (JSON columns as text)."""
    raw = session.connection().connection.driver_connection
    with (
        raw.cursor() as cursor,
        cursor.copy(  # type: ignore[union-attr]
            f"COPY {table} ({', '.join(columns)}) FROM STDIN"
        ) as copy,
    ):
        for row in rows:
            copy.write_row(row)


NULL = "\\N"
"""NULL in COPY's text format."""
_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t"})


def copy_escape(value: str) -> str:
    """A text value as COPY's text format needs it (backslash, newline, carriage return and tab escaped)."""
    return value.translate(_COPY_ESCAPES)


def copy_text(session: Session, table: str, columns: Sequence[str], data: str) -> None:
    """PostgreSQL COPY of rows already in COPY's text format (tab-separated, escaped, one line each), in one
    write: for large batches, cheaper than formatting each value through the driver."""
    raw = session.connection().connection.driver_connection
    with (
        raw.cursor() as cursor,
        cursor.copy(  # type: ignore[union-attr]
            f"COPY {table} ({', '.join(columns)}) FROM STDIN"
        ) as copy,
    ):
        copy.write(data)


def _copy_value(value: Any) -> Any:
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    return value


def insert_many(session: Session, model: Any, rows: Sequence[dict[str, Any]]) -> None:
    """Bulk insert: COPY on PostgreSQL, executemany through the model elsewhere."""
    if not rows:
        return
    if backend(session) == "postgresql":
        columns = list(rows[0])
        copy_rows(
            session, model.__tablename__, columns, ([_copy_value(row[c]) for c in columns] for row in rows)
        )
    else:
        session.execute(insert(model), list(rows))


def read_frame(session: Session, query: Any, schema: Mapping[str, Any]) -> Any:
    """A SELECT (or, on PostgreSQL, its SQL text) as a polars frame with `schema` (column names in select order):
    COPY ... TO STDOUT as CSV on PostgreSQL (no per-row Python objects), fetched rows elsewhere."""
    import polars as pl

    if backend(session) != "postgresql":
        return pl.DataFrame(session.execute(query).all(), schema=dict(schema), orient="row")
    if isinstance(query, str):  # SQL text with its values already inlined
        sql = query
    else:
        sql = str(query.compile(dialect=session.get_bind().dialect, compile_kwargs={"literal_binds": True}))
    buffer = io.BytesIO()
    raw = session.connection().connection.driver_connection
    with raw.cursor() as cursor, cursor.copy(f"COPY ({sql}) TO STDOUT WITH (FORMAT csv)") as copy:  # type: ignore[union-attr]
        for block in copy:
            buffer.write(block)
    if buffer.tell() == 0:
        return pl.DataFrame(schema=dict(schema))
    bools = [name for name, dtype in schema.items() if dtype == pl.Boolean]
    text_schema = {name: (pl.Utf8 if name in bools else dtype) for name, dtype in schema.items()}
    frame = pl.read_csv(buffer.getvalue(), has_header=False, schema=text_schema)
    return frame.with_columns([(pl.col(name) == "t").alias(name) for name in bools])


def set_many(session: Session, table: Any, column: str, pairs: Sequence[tuple[int, Any]]) -> None:
    """`UPDATE table SET column = value WHERE id = key` for every (key, value): one statement on PostgreSQL."""
    if backend(session) == "postgresql":
        keys, values = [k for k, _ in pairs], [v for _, v in pairs]
        session.execute(
            text(
                f"UPDATE {table.name} SET {column} = v.value FROM unnest(:keys, :values) AS v(key, value) "
                f"WHERE {table.name}.id = v.key"
            ),
            {"keys": keys, "values": values},
        )
        return
    session.execute(
        update(table).where(table.c.id == bindparam("key")).values({column: bindparam("value")}),
        [{"key": k, "value": v} for k, v in pairs],
    )


__all__ = [
    "NULL",
    "backend",
    "chunks",
    "copy_escape",
    "copy_rows",
    "copy_text",
    "in_array",
    "insert_many",
    "read_frame",
    "set_many",
    "where_in",
]
