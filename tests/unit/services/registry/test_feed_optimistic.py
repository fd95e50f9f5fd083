"""A large feed batch is evaluated before it takes the change-log locks; whoever another writer re-determined
meanwhile is evaluated again under them, so no student ends with a determination that misses a change."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from aidservice.extensions import db
from aidservice.models import Determination
from aidservice.services import audit
from aidservice.services.determinations import chunks
from aidservice.services.determinations.students import VECTOR_MIN
from tests.world.feeds import apply, client_actor, person, record, school, student

pytestmark = pytest.mark.databases


def _currents(pk: int) -> list[Determination]:
    return list(
        db.session.scalars(
            sa.select(Determination).where(Determination.student_pk == pk, Determination.current.is_(True))
        )
    )


def test_a_student_re_determined_meanwhile_is_evaluated_again_under_the_locks(
    app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = school(stages=("junior",))
    pks = [student(f"S{i}", at, seed=i, guardians=[5000 + i]).id for i in range(VECTOR_MIN)]
    civil, _ = client_actor("civil_affairs")
    poverty, _ = client_actor("poverty_alleviation")
    real_lock = chunks.lock_changes
    meanwhile: list[Any] = []

    def another_writer_first(session: Any) -> None:
        """Between this batch's evaluation and its locks, another source's batch re-determines student 0."""
        if not meanwhile:
            meanwhile.append(
                apply(app, poverty, "poverty_alleviation", "P1", [record(person(5000), "registered_poor")])
            )
        real_lock(session)

    monkeypatch.setattr(chunks, "lock_changes", another_writer_first)
    outcome = apply(
        app,
        civil,
        "civil_affairs",
        "C1",
        [record(person(5000 + i), "subsistence_allowance") for i in range(VECTOR_MIN)],
    )
    db.session.commit()
    assert meanwhile and meanwhile[0].response["reevaluated"] == 1
    assert outcome.response["matched_students"] == VECTOR_MIN
    (first,) = _currents(pks[0])  # one current determination, and it has both changes
    assert {"registered_poor", "subsistence_allowance"} <= {
        name for name, fact in first.facts.items() if fact.get("value") is True and fact["source"] != "roster"
    }
    (other,) = _currents(pks[1])
    assert "registered_poor" not in {n for n, f in other.facts.items() if f.get("value") is True}
    assert all(len(_currents(pk)) == 1 for pk in pks)
    assert audit.verify(db.session)[1] is None
