"""Stored determinations: facts assembled by the matching rules, validity windows, supersession, immutability."""

from __future__ import annotations

from datetime import date

import pytest
import sqlalchemy as sa
from flask import Flask

from aidservice.extensions import db
from aidservice.models import AuditEvent, Determination, RuleSet
from aidservice.services import audit
from aidservice.services.actors import Actor
from aidservice.services.determinations.facts_assembly import assemble, snapshot_json
from aidservice.services.determinations.records import content_hash_of
from aidservice.services.determinations.store import current_determination
from aidservice.services.determinations.students import redetermine_students
from tests.world.factories import id_number, make_school
from tests.world.feeds import (
    AS_OF,
    apply,
    client_actor,
    count,
    current,
    history,
    person,
    record,
    school,
    settings_for,
    student,
)

pytestmark = pytest.mark.databases
SYSTEM = Actor.system("test")


def redo(app: Flask, *pks: int, as_of: date | None = None, cause: str = "test", **kwargs):  # type: ignore[no-untyped-def]
    return redetermine_students(
        db.session,
        actor=SYSTEM,
        settings=settings_for(app),
        student_pks=pks,
        cause=cause,
        as_of=as_of,
        **kwargs,
    )


def facts_of(app: Flask, pk: int, day: date = AS_OF) -> dict:  # type: ignore[type-arg]
    (found,) = assemble(db.session, [pk], day, app.extensions["aid_rules"])
    return found.values


def test_a_first_determination_stores_roster_and_school_facts_with_their_sources(
    app: Flask, db_url: str
) -> None:
    s = student("S1", school(stages=("junior",)), seed=1, grade=2, boarding=True)
    result = redo(app, s.id)
    assert (result.evaluated, result.changed, result.stored) == (1, 1, 1)
    det = current(s.id)
    assert det.level == "none" and det.awards == [] and det.total_fen == 0
    assert det.facts["stage"] == {"value": "junior", "source": "roster", "record_ids": []}
    assert det.facts["grade"]["value"] == 2 and det.facts["boarding"]["value"] is True
    assert det.facts["city_code"] == {"value": "320100", "source": "school", "record_ids": []}
    assert det.as_of == AS_OF and det.school_year == "2020-2021" and det.changed and det.supersedes is None
    assert db.session.get(RuleSet, det.rule_set_version) is not None  # the version it names is published
    assert det.content_hash == content_hash_of(det)


def test_household_status_reaches_the_student_through_a_guardian(app: Flask, db_url: str) -> None:
    at = school(stages=("junior",))
    s = student("S1", at, seed=1, guardians=[7001, 7002])
    actor, _ = client_actor("civil_affairs")
    outcome = apply(app, actor, "civil_affairs", "B1", [record(person(7002), "subsistence_allowance")])
    assert outcome.response["matched_students"] == 1 and outcome.response["reevaluated"] == 1
    det = current(s.id)
    assert det.level == "special"
    assert det.facts["subsistence_allowance"]["source"] == "civil_affairs"
    assert len(det.facts["subsistence_allowance"]["record_ids"]) == 1
    assert [a["program"] for a in det.awards] == ["compulsory_living_subsidy"]
    assert det.awards[0]["amount"] == "2000.00"  # junior, subsistence-allowance family
    assert [r["clause"] for r in det.explanation["reasons"]] == ["special_subsistence_allowance"]


def test_personal_status_counts_only_on_the_students_own_number(app: Flask, db_url: str) -> None:
    at = school(stages=("junior",))
    s = student("S1", at, seed=1, guardians=[7001])
    actor, _ = client_actor("civil_affairs")
    outcome = apply(app, actor, "civil_affairs", "B1", [record(person(7001), "orphan")])
    assert (
        outcome.response["matched_students"] == 0
    )  # a guardian's own orphan status says nothing of the child
    assert facts_of(app, s.id).get("orphan") is None
    apply(app, actor, "civil_affairs", "B2", [record(id_number(1), "orphan")])
    assert facts_of(app, s.id)["orphan"] is True and current(s.id).level == "special"


def test_a_disabled_guardian_gives_disabled_parent_and_the_student_gets_their_own_grade(
    app: Flask, db_url: str
) -> None:
    at = school(stages=("junior",))
    child = student("S1", at, seed=1, guardians=[7001])
    other = student("S2", at, seed=2, guardians=[7002])
    actor, _ = client_actor("disabled_persons_federation")
    apply(
        app,
        actor,
        "disabled_persons_federation",
        "B1",
        [
            record(person(7001), "disabled", disability_grade=1),
            record(id_number(2), "disabled", disability_grade=3),
        ],
    )
    parent = facts_of(app, child.id)
    assert (
        parent["disabled_parent"] is True
        and parent.get("disabled") is None
        and parent.get("disability_grade") is None
    )
    own = facts_of(app, other.id)
    assert own["disabled"] is True and own["disability_grade"] == 3 and own.get("disabled_parent") is None
    assert current(child.id).level == "difficult" and current(other.id).level == "difficult"
    assert current(other.id).facts["disability_grade"]["source"] == "disabled_persons_federation"


def test_household_status_on_the_students_own_number_counts_too(app: Flask, db_url: str) -> None:
    s = student("S1", school(stages=("primary",)), seed=1)
    actor, _ = client_actor("poverty_alleviation")
    apply(app, actor, "poverty_alleviation", "B1", [record(id_number(1), "registered_poor")])
    assert current(s.id).level == "special"


@pytest.mark.parametrize(
    ("valid_from", "valid_to", "counts"),
    [
        ("2020-09-01", None, True),  # starts on the evaluation date
        ("2020-09-02", None, False),  # starts the day after
        ("2019-01-01", "2020-09-01", False),  # valid_to is exclusive
        ("2019-01-01", "2020-09-02", True),
    ],
)
def test_a_status_counts_only_when_valid_on_the_evaluation_date(
    app: Flask, db_url: str, valid_from: str, valid_to: str | None, counts: bool
) -> None:
    s = student("S1", school(stages=("junior",)), seed=1, guardians=[7001])
    actor, _ = client_actor("poverty_alleviation")
    apply(
        app,
        actor,
        "poverty_alleviation",
        "B1",
        [record(person(7001), "registered_poor", valid_from, valid_to)],
    )
    assert (facts_of(app, s.id).get("registered_poor") is True) is counts
    assert current(s.id).level == ("special" if counts else "none")


def test_a_later_record_supersedes_the_current_one_and_history_is_kept(app: Flask, db_url: str) -> None:
    from aidservice.models import AgencyRecord

    s = student("S1", school(stages=("junior",)), seed=1, guardians=[7001])
    actor, _ = client_actor("civil_affairs")
    apply(app, actor, "civil_affairs", "B1", [record(person(7001), "subsistence_allowance")])
    apply(
        app,
        actor,
        "civil_affairs",
        "B2",
        [record(person(7001), "subsistence_allowance", "2020-01-01", "2020-06-30")],
    )
    rows = db.session.execute(sa.select(AgencyRecord).order_by(AgencyRecord.id)).scalars().all()
    assert len(rows) == 2
    assert rows[0].superseded_by == rows[1].id and rows[1].superseded_by is None
    assert rows[0].valid_to is None  # the old record itself is never overwritten
    assert current(s.id).level == "none"  # the status ended before the evaluation date


def test_determinations_are_superseded_never_updated(app: Flask, db_url: str) -> None:
    s = student("S1", school(stages=("junior",)), seed=1, guardians=[7001])
    redo(app, s.id)
    first = current(s.id)
    snapshot = (first.id, first.level, first.content_hash, dict(first.facts))
    actor, _ = client_actor("civil_affairs")
    apply(app, actor, "civil_affairs", "B1", [record(person(7001), "subsistence_allowance")])
    old, new = history(s.id)
    assert (old.id, old.level, old.content_hash, dict(old.facts)) == snapshot and not old.current
    assert new.current and new.supersedes == old.id and new.changed and new.seq > old.seq
    assert new.content_hash == content_hash_of(new)


def test_nothing_is_stored_when_nothing_changed(app: Flask, db_url: str) -> None:
    s = student("S1", school(stages=("junior",)), seed=1)
    assert redo(app, s.id).stored == 1
    events = count(AuditEvent)
    again = redo(app, s.id)
    assert (again.evaluated, again.changed, again.stored) == (1, 0, 0)
    assert len(history(s.id)) == 1 and count(AuditEvent) == events


def test_new_facts_with_the_same_outcome_are_stored_but_not_changed(app: Flask, db_url: str) -> None:
    s = student("S1", school(stages=("junior",)), seed=1)
    redo(app, s.id)
    s.rural_hukou = True  # a fact no rule turns into money
    db.session.flush()
    result = redo(app, s.id)
    assert (result.changed, result.stored) == (0, 1)
    old, new = history(s.id)
    assert not new.changed and new.level == old.level and new.facts["rural_hukou"]["value"] is True


def test_seq_follows_the_change_log_counter_and_batches_are_audited_with_a_digest(
    app: Flask, db_url: str
) -> None:
    at = school(stages=("junior",))
    pks = [student(f"S{i}", at, seed=i).id for i in range(1, 4)]
    redo(app, *pks, cause="roster")
    db.session.commit()  # the audit chain is appended at commit
    dets = db.session.execute(sa.select(Determination).order_by(Determination.seq)).scalars().all()
    assert [d.seq for d in dets] == [1, 2, 3]
    event = db.session.execute(
        sa.select(AuditEvent).where(AuditEvent.subject == "determinations:roster")
    ).scalar_one()
    import hashlib

    assert event.summary["count"] == 3 and event.summary["first_seq"] == 1 and event.summary["last_seq"] == 3
    assert (
        event.summary["digest"] == hashlib.sha256("".join(d.content_hash for d in dets).encode()).hexdigest()
    )
    assert (
        count(AuditEvent, AuditEvent.subject.like("student:%")) == 0
    )  # per-student events only for one student
    assert audit.verify(db.session)[1] is None


def test_a_single_student_gets_its_own_audit_event(app: Flask, db_url: str) -> None:
    s = student("S1", school(stages=("junior",)), seed=1)
    redo(app, s.id, cause="roster")
    db.session.commit()  # the audit chain is appended at commit
    event = db.session.execute(sa.select(AuditEvent).where(AuditEvent.subject == "student:S1")).scalar_one()
    assert event.action == "determination.stored" and event.summary["level"] == "none"
    assert id_number(1) not in str(event.summary)


def test_current_determination_is_per_school_year(app: Flask, db_url: str) -> None:
    s = student("S1", school(stages=("junior",)), seed=1)
    redo(app, s.id)
    assert current_determination(db.session, s.id, "2020-2021") is not None
    assert current_determination(db.session, s.id, "2021-2022") is None


def test_declared_facts_plug_in_with_their_source(app: Flask, db_url: str) -> None:
    s = student("S1", school(stages=("junior",)), seed=1)
    redo(app, s.id, declared={s.id: {"per_capita_income": "1000.00", "major_illness": True}})
    det = current(s.id)
    assert det.facts["per_capita_income"] == {"value": "1000.00", "source": "declared", "record_ids": []}
    assert det.level == "difficult"


def test_the_fast_snapshot_json_is_the_canonical_json(app: Flask, db_url: str) -> None:
    s = student("S1", school(stages=("junior",), tuition_fee_fen=123456), seed=1, guardians=[7001])
    actor, _ = client_actor("civil_affairs")
    apply(app, actor, "civil_affairs", "B1", [record(person(7001), "subsistence_allowance")])
    (found,) = assemble(
        db.session,
        [s.id],
        AS_OF,
        app.extensions["aid_rules"],
        {s.id: {"academic_rank_pct": "12.5", "household_size": 3}},
    )
    assert snapshot_json(found.snapshot) == audit.canonical(found.snapshot)
    assert found.snapshot["tuition_fee"]["value"] == "1234.56"
    assert found.snapshot["academic_rank_pct"]["value"] == "12.50"


def test_unknown_students_are_ignored(app: Flask, db_url: str) -> None:
    assert redo(app, 999_999).evaluated == 0
    assert count(Determination) == 0


def test_a_large_set_goes_the_columnar_way_and_stores_what_the_per_student_path_stores(
    app: Flask, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from aidservice.services.determinations import students as determinations

    at = school(stages=("junior",), tuition_fee_fen=None)
    uni = make_school(db.session, "3203020002", "320302", stages=("undergraduate",), tuition_fee_fen=500000)
    pks = [
        student(f"S{i:03d}", at, seed=i, guardians=[7000 + i], grade=1 + i % 3, boarding=i % 2 == 0).id
        for i in range(1, 31)
    ]
    pks += [
        student(f"U{i:03d}", uni, seed=100 + i, guardians=[7100 + i], grade=1 + i % 4).id
        for i in range(1, 11)
    ]
    civil, _ = client_actor("civil_affairs")
    disabled, _ = client_actor("disabled_persons_federation")
    apply(
        app,
        civil,
        "civil_affairs",
        "C1",
        [record(person(7000 + i), "subsistence_allowance") for i in range(1, 10)]
        + [record(id_number(i), "orphan") for i in range(10, 14)],
    )
    apply(
        app,
        disabled,
        "disabled_persons_federation",
        "D1",
        [
            record(person(7020), "disabled", disability_grade=2),
            record(id_number(21), "disabled", disability_grade=4),
            record(id_number(101), "disabled", disability_grade=1),
        ],
    )
    db.session.execute(sa.delete(Determination))
    rows = []
    for minimum in (10_000, 1):  # student by student, then as one frame
        monkeypatch.setattr(determinations, "VECTOR_MIN", minimum)
        nested = db.session.begin_nested()
        result = redo(app, *pks)
        assert (result.evaluated, result.stored) == (40, 40)
        rows.append(
            db.session.execute(
                sa.select(
                    Determination.student_pk,
                    Determination.level,
                    Determination.awards,
                    Determination.facts,
                    Determination.explanation,
                    Determination.total_fen,
                    Determination.outcome_hash,
                    Determination.changed,
                ).order_by(Determination.student_pk)
            ).all()
        )
        assert all(d.content_hash == content_hash_of(d) for d in db.session.scalars(sa.select(Determination)))
        nested.rollback()
    assert rows[0] == rows[1]
    assert {r.level for r in rows[0]} == {"none", "special", "difficult"}
