"""One unit of work at the boundaries (cosmicpython's unit_of_work.py, here over Flask-SQLAlchemy's session).

Services never commit; the route (or command) that called them decides, in one place:

    with unit_of_work() as uow:
        saved = roster.put_school(uow.session, ...)
    return roster.school_view(saved.record)

The block ends in a commit when it finishes normally. When it raises, the work is rolled back and the exception
goes on to the central handler (aidservice.errors), except for two kinds of exception:

- those named in `commit_on`: what was written before them must stay (an audit event, a failure's count, the
  charges of an import's taken rows), so they commit first and then propagate;
- database errors (SQLAlchemyError): the session is left as it is, for the error handler to discard a dead
  connection instead of pooling it again and for the request's teardown to close it (aidservice.errors).

`uow.commit()` and `uow.rollback()` end the transaction early where a route needs to (the rest of the block
then runs in a new one, committed or rolled back the same way).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from aidservice.extensions import db


@dataclass(frozen=True, slots=True)
class UnitOfWork:
    """The session of one unit of work; services get `uow.session` (the request's own Session, which
    `db.session` stands for in this app context)."""

    session: Session

    def commit(self) -> None:
        self.session.commit()

    def rollback(self) -> None:
        self.session.rollback()


@contextmanager
def unit_of_work(
    *, commit_on: tuple[type[BaseException], ...] = (), session: Session | None = None
) -> Iterator[UnitOfWork]:
    """Commit when the block succeeds (or raises one of `commit_on`), roll back when it raises anything else."""
    uow = UnitOfWork(session if session is not None else db.session())
    try:
        yield uow
    except commit_on:
        uow.commit()
        raise
    except SQLAlchemyError:
        raise  # the error handler and the request's teardown deal with the session (see above)
    except BaseException:
        uow.rollback()
        raise
    uow.commit()


__all__ = ["UnitOfWork", "unit_of_work"]
