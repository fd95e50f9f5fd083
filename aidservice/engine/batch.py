"""Batch evaluation of a file of students: read, validate (vectorised), evaluate (columnar), write atomically.

The steps, one module each: `batch_read` (input formats, reading, the column check, BatchInputError),
`batch_validate` (vectorised fact parsing), the columnar path (`columnar.compile_frame`), `batch_missing`
(what each row was missing) and `batch_write` (output rows, writers, the atomic rename). No Flask here (the CLI command is a thin
wrapper); polars, pyarrow and tqdm are imported inside the functions so that importing these modules
stays cheap.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

from .batch_missing import missing_plan
from .batch_read import ID, BatchInputError, check_columns, file_format, read_input
from .batch_validate import ROW, validate
from .batch_write import atomic, open_writer, shape_output, write_errors

if TYPE_CHECKING:
    import polars as pl

    from .ruleset import RuleSet

CHUNK_ROWS = 200_000


@dataclass(frozen=True, slots=True)
class BatchSummary:
    rows: int  # data rows read
    written: int  # students written to the output
    invalid: int  # rows skipped as invalid (only with skip_invalid)
    missing: int = 0  # students written with something missing (a fact or parameter without a value)


def evaluate_file(
    ruleset: RuleSet,
    input_path: str | Path,
    output_path: str | Path,
    *,
    as_of: date,
    skip_invalid: bool = False,
    errors_path: str | Path | None = None,
    progress: bool = True,
    chunk_rows: int = CHUNK_ROWS,
) -> BatchSummary:
    """Evaluate every student of `input_path` on `as_of` into `output_path`.

    Stops at the first invalid row with BatchInputError and writes nothing, unless `skip_invalid`:
    then valid rows are written and each problem goes to `errors_path` (default
    `<output>.errors.jsonl`) as `{row, student_id, field, message}`.
    """
    from tqdm import tqdm  # imported on use, like polars (see the module docstring)

    from .columnar import compile_frame  # polars: imported on use

    input_path, output_path = Path(input_path), Path(output_path)
    in_format, out_format = file_format(input_path, "input"), file_format(output_path, "output")
    raw = read_input(input_path, in_format)
    check_columns(raw.columns, ruleset)
    run = compile_frame(ruleset.rules, as_of)
    program_ids = [p.id for p in ruleset.rules.programs]
    rows = raw.height
    written = invalid = with_missing = 0
    missing_plans: dict[tuple[tuple[str, str], ...], Callable[[pl.DataFrame], pl.Series]] = {}
    errors_target = (
        Path(errors_path)
        if errors_path is not None
        else output_path.with_name(output_path.name + ".errors.jsonl")
    )
    with atomic(output_path) as out, atomic(errors_target) if skip_invalid else _nothing() as err:
        writer = open_writer(out_format, out)
        bar = tqdm(
            total=rows,
            unit="rows",
            unit_scale=True,
            file=sys.stderr,
            disable=not progress,
            delay=0.5,
            desc=f"evaluate {input_path.name}",
        )
        try:
            for start in range(0, max(rows, 1), chunk_rows):
                chunk = raw.slice(start, chunk_rows)
                facts, problems = validate(ruleset, chunk, first_row=start + 1)
                if problems.height:
                    if not skip_invalid:
                        raise _first_error(problems)
                    write_errors(err, problems)
                    bad = problems.get_column("row").unique()
                    facts = facts.filter(~facts.get_column(ROW).is_in(bad.implode(), nulls_equal=False))
                    invalid += bad.len()
                facts = facts.drop(ROW)
                result = run(facts)
                shape = tuple((n, str(t)) for n, t in facts.schema.items())
                if shape not in missing_plans:
                    missing_plans[shape] = missing_plan(ruleset.rules, as_of, dict(facts.schema))
                missing = missing_plans[shape](result)
                writer.write(shape_output(result, program_ids, out_format, missing))
                written += result.height
                with_missing += int((missing.list.len() > 0).sum())
                bar.update(chunk.height)
            writer.close()
        finally:
            bar.close()
    return BatchSummary(rows=rows, written=written, invalid=invalid, missing=with_missing)


def _first_error(problems: pl.DataFrame) -> BatchInputError:
    first = problems.row(0, named=True)
    who = f" (student_id {first[ID]})" if first[ID] else ""
    return BatchInputError(
        f"row {first['row']}{who}: {first['field']}: {first['message']}",
        row=first["row"],
        field=first["field"],
    )


@contextmanager
def _nothing() -> Iterator[None]:
    yield None


__all__ = ["BatchSummary", "evaluate_file"]
