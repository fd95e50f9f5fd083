"""Batch output: result rows as Arrow tables, written as JSONL, CSV or Parquet, atomically.

JSONL `{student_id, level, awards: [{program, amount}], total, missing}` with money as strings ("1250.00",
`null` when unknown) and `missing` the sorted names of the facts and parameters that had no value for the
row (`[]` when none; see `batch_missing`); CSV with `awards` as a JSON string column and `missing` the names
joined by `;` (empty when none); Parquet with `awards` a list of struct {program: Utf8, amount:
Decimal(12, 2)}, `total` Decimal(12, 2) and `missing` a list of Utf8. The output is written to
a temporary file in the same directory and renamed at the end, so it appears complete or not at all.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from .batch_missing import MISSING, nothing_missing
from .batch_read import ID, MONEY_INT_DIGITS, BatchInputError

if TYPE_CHECKING:
    import polars as pl

# polars and pyarrow are imported inside the functions: importing this module stays cheap (see `batch`).


def _money(fen: pl.Series, fmt: str) -> Any:
    """Integer fen → an Arrow array of Decimal(12, 2) yuan (Parquet) or "1250.00" strings (JSONL, CSV).

    Exact and cheap: the fen integers are the decimal's unscaled value, so the Decimal(38, 0) buffer
    is reinterpreted with scale 2 instead of dividing.
    """
    import polars as pl
    import pyarrow as pa

    too_big = (fen.abs() >= 10 ** (MONEY_INT_DIGITS + 2)).fill_null(False)
    if too_big.any():
        raise BatchInputError(
            f"an amount or total of {fen.filter(too_big)[0] / 100:.2f} does not fit Decimal(12, 2)"
        )
    raw = fen.cast(pl.Decimal(38, 0)).to_arrow()
    if isinstance(raw, pa.ChunkedArray):
        raw = raw.combine_chunks()
    money = pa.Array.from_buffers(
        pa.decimal128(12, 2), len(raw), raw.buffers(), null_count=raw.null_count, offset=raw.offset
    )
    if fmt == "parquet":
        return money
    return pl.Series(money).cast(pl.String).to_arrow()


def shape_output(
    result: pl.DataFrame, program_ids: list[str], fmt: str, missing: pl.Series | None = None
) -> Any:
    """The output rows as an Arrow table: student_id, level, awards, total (money per `fmt`), missing.

    `missing` (List(Utf8), one per row, from `batch_missing`) defaults to nothing missing.

    `awards` is built as an Arrow list array from offsets (awards per row) and the awarded
    (row, program) pairs in row-then-program order: far faster than a per-row list expression.
    """
    import polars as pl
    import pyarrow as pa

    n = result.height
    long = (
        pl.concat(
            [
                result.lazy()
                .with_row_index("_r")
                .filter(pl.col(f"has_{pid}"))
                .select("_r", pl.lit(i, dtype=pl.UInt32).alias("_p"), pl.col(f"fen_{pid}").alias("_fen"))
                for i, pid in enumerate(program_ids)
            ]
            or [pl.LazyFrame(schema={"_r": pl.UInt32, "_p": pl.UInt32, "_fen": pl.Int64})]
        )
        .sort("_r", maintain_order=True)
        .select("_p", "_fen")
        .collect()
    )
    counts = result.select(
        pl.sum_horizontal([pl.col(f"has_{pid}").cast(pl.Int32) for pid in program_ids])
        if program_ids
        else pl.repeat(0, n, dtype=pl.Int32)
    ).to_series()
    offsets = pa.array(
        pl.concat([pl.Series([0], dtype=pl.Int64), counts.cast(pl.Int64).cum_sum()]).cast(pl.Int32).to_arrow()
    )
    programs = pa.array(program_ids, pa.string()).take(long.get_column("_p").to_arrow())
    amounts = _money(long.get_column("_fen"), fmt)
    if fmt == "csv":
        entries = pl.Series(
            pa.array(
                pl.DataFrame({"program": pl.Series(programs), "amount": pl.Series(amounts)})
                .select(
                    pl.concat_str(
                        pl.lit('{"program":"'),
                        pl.col("program"),
                        pl.lit('","amount":'),
                        pl.when(pl.col("amount").is_null())
                        .then(pl.lit("null"))
                        .otherwise(pl.concat_str(pl.lit('"'), pl.col("amount"), pl.lit('"'))),
                        pl.lit("}"),
                    )
                )
                .to_series()
                .to_arrow()
            )
        )
        awards_list = pa.ListArray.from_arrays(offsets, entries.to_arrow())
        awards = pl.Series("awards", awards_list).list.join(",")
        awards = pl.select(pl.concat_str(pl.lit("["), pl.lit(awards), pl.lit("]"))).to_series().to_arrow()
    else:
        values = pa.StructArray.from_arrays([programs, amounts], names=["program", "amount"])
        awards = pa.ListArray.from_arrays(offsets, values)
    head = result.select(ID, "level").to_arrow()
    total = _money(result.get_column("total_fen"), fmt)
    if missing is None:
        missing = nothing_missing(n)
    names = missing.list.join(";") if fmt == "csv" else missing
    return pa.table(
        {
            ID: head.column(ID),
            "level": head.column("level"),
            "awards": awards,
            "total": total,
            MISSING: names.to_arrow(),
        }
    )


class _Writer:
    def __init__(self, fmt: str, path: Path) -> None:
        self.fmt = fmt
        self.path = path
        self.handle: IO[bytes] | None = None
        self.parts: list[pl.DataFrame] = []
        self.header = True

    def write(self, table: Any) -> None:
        import polars as pl

        frame = pl.from_arrow(table)
        assert isinstance(frame, pl.DataFrame)  # an Arrow table (from shape_output) gives a frame
        if self.fmt == "parquet":  # written at close, in one go by polars (multi-threaded)
            self.parts.append(frame)
            return
        if self.handle is None:
            self.handle = self.path.open("wb")
        if self.fmt == "jsonl":
            if frame.height:
                frame.write_ndjson(self.handle)
        else:
            frame.write_csv(self.handle, include_header=self.header)
            self.header = False

    def close(self) -> None:
        if self.fmt == "parquet":
            import polars as pl

            if self.parts:
                frame = pl.concat(self.parts, rechunk=False)
            else:
                frame = pl.DataFrame(
                    schema={
                        ID: pl.String,
                        "level": pl.String,
                        "awards": pl.List(pl.Struct({"program": pl.String, "amount": pl.Decimal(12, 2)})),
                        "total": pl.Decimal(12, 2),
                        MISSING: pl.List(pl.Utf8),
                    }
                )
            with self.path.open("wb") as handle:
                frame.write_parquet(handle, compression="zstd", compression_level=1)
                handle.flush()
                os.fsync(handle.fileno())
            return
        if self.handle is None:
            self.handle = self.path.open("wb")
        self.handle.flush()
        os.fsync(self.handle.fileno())
        self.handle.close()


def open_writer(fmt: str, path: Path) -> _Writer:
    return _Writer(fmt, path)


def write_errors(path: Path | None, problems: pl.DataFrame) -> None:
    if path is not None and problems.height:
        with path.open("ab") as handle:
            problems.write_ndjson(handle)


@contextmanager
def atomic(target: Path) -> Iterator[Path]:
    """Yield a temporary path beside `target`; it replaces `target` only when the block succeeds.

    On any exception, KeyboardInterrupt included, the temporary file is removed and `target` is
    left as it was (absent, or the previous complete file).
    """
    tmp = target.with_name(f".{target.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    tmp.open("xb").close()
    try:
        yield tmp
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
