"""An import read as what it also is, a batch of identity-number guesses, and charged as one.

A row refused with "another student record has this identity number" tells the importer that the number is
enrolled somewhere. A file of 50,000 guessed numbers would answer 50,000 guesses at once, so an import spends the
account's lookup budget (services.id_probes: ten misses or conflicts an hour, then locked until midnight in
Beijing) and never answers more guesses than the budget has left:

1. Refused while the account is locked (429), before the file is read.
2. The file is imported inside a savepoint: all-or-nothing, or partially, as asked.
3. Its rows whose number is taken elsewhere are counted. When there are fewer than the budget has left, each
   is charged, one audit event records the count, and the import answers as usual, with one exception: a file
   refused as a whole (nothing written) does not name those rows, it counts them (`file`: "N rows hold ...";
   import it partially to see them listed). Otherwise a file of 50,000 candidates for one student, refused
   because of the one that is taken, would name the right number for the price of one charge; a partial
   import names them, but only after writing every other row as a student of the officer's school (loud,
   audited, and bounded by the file's row limit).
4. When there are as many as the budget has left or more, the import answers none of them: the savepoint is rolled back (nothing of the file is written, a
   partial import's good rows neither), the rest of the budget is charged (the account locks), the event is
   audited with the count and `refused`, and LookupsLocked is raised: 429, no row listed.

The same holds for the synchronous import (API and web) and the background one (jobs.kinds). The audit event
and the charges are in the caller's session (the database counter's too): the caller commits them after a
refusal (ValidationFailed or LookupsLocked) as well as after success. When the counter cannot be read (Redis
down) the import goes on and its conflicts are audited but not charged, as a single save's are. Two imports
racing on one account are each checked against what was left before either charged: together they may answer
what both files hold, no more.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from sqlalchemy.orm import Session

from aidservice.services.accounts import id_probes
from aidservice.services.accounts.id_probes import Budget, LookupsLocked
from aidservice.services.actors import Actor
from aidservice.services.context import Settings
from aidservice.services.errors import ValidationFailed
from aidservice.services.roster.import_messages import CONFLICT
from aidservice.services.roster.roster_import import ImportResult, import_student_file, row_messages


def import_charged(
    session: Session,
    *,
    actor: Actor,
    settings: Settings,
    budget: Budget,
    channel: str,
    filename: str,
    data: bytes,
    partial: bool,
    max_rows: int,
    request_id: str | None = None,
) -> ImportResult:
    """Import the file and charge its taken rows (see the module docstring); the caller commits, refused or not."""
    id_probes.check_not_locked(actor, budget, fail_open=True)
    savepoint = session.begin_nested()
    try:
        result = import_student_file(
            session,
            actor=actor,
            settings=settings,
            filename=filename,
            data=data,
            partial=partial,
            max_rows=max_rows,
            request_id=request_id,
        )
    except ValidationFailed as exc:
        savepoint.rollback()
        taken = _taken(exc.errors)
        _settle(session, actor, budget, taken, channel, request_id, written=False)
        if taken:
            raise _rows_not_named(exc, taken) from None
        raise
    except BaseException:
        savepoint.rollback()
        raise
    taken = _taken(row_messages(result.rejected))
    left = id_probes.budget_left(actor, budget) if taken else None
    if left is not None and taken >= left:
        savepoint.rollback()
    else:
        savepoint.commit()
    _settle(session, actor, budget, taken, channel, request_id, written=True, left=left)
    return result


def _is_conflict(key: str, message: str) -> bool:
    return key.endswith(".id_number") and message in (id_probes.CONFLICT_MESSAGE, CONFLICT)


def _taken(errors: Mapping[str, Sequence[str]]) -> int:
    """How many rows of an import's `errors` ({"rows.<n>.id_number": [...]}) hold a number taken elsewhere."""
    return sum(1 for key, messages in errors.items() if any(_is_conflict(key, m) for m in messages))


def _rows_not_named(refused: ValidationFailed, taken: int) -> ValidationFailed:
    """The refusal without the rows whose number is held elsewhere: their count instead, under `file`."""
    errors: dict[str, list[str]] = {}
    for key, messages in refused.errors.items():
        kept = [m for m in messages if not _is_conflict(key, m)]
        if kept:
            errors[key] = kept
    errors.setdefault("file", []).append(
        f"有 {taken} 行的身份证号已被另一条学生记录使用；未写入任何数据时不列出这些行："
        "请勾选“只导入有效行”（partial=true）导入其他行后查看"
    )
    answer = ValidationFailed(errors, refused.detail)
    rows = refused.extra.get("rows")
    if isinstance(rows, list):
        kept_rows = [r for r in rows if not _is_conflict(f".{r['field']}", r["message"])]
        answer.extra = {**refused.extra, "rows": kept_rows}
    return answer


def _settle(
    session: Session,
    actor: Actor,
    budget: Budget,
    taken: int,
    channel: str,
    request_id: str | None,
    *,
    written: bool,
    left: int | None = None,
) -> None:
    """Charge `taken` rows, or raise LookupsLocked after spending what is left when they would reach the lock."""
    if not taken:
        return
    if not written:
        left = id_probes.budget_left(actor, budget)
    if left is None or taken < left:
        id_probes.charge_conflict(
            session,
            actor=actor,
            budget=budget,
            masked=None,
            channel=channel,
            request_id=request_id,
            count=taken,
        )
        return
    locked = id_probes.charge_conflict(
        session,
        actor=actor,
        budget=budget,
        masked=None,
        channel=channel,
        request_id=request_id,
        count=taken,
        charged=left,
        refused=True,
    )
    raise LookupsLocked(locked or id_probes.seconds_to_beijing_midnight(budget.clock()))


__all__ = ["import_charged"]
