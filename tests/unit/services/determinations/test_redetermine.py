"""Bulk re-determination (`redetermine_region`, `aid redetermine`): columnar path, resumable jobs, dry-run diffs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from aidservice.extensions import db
from aidservice.models import AgencyRecord, AuditEvent, Determination, Job
from aidservice.services import audit
from aidservice.services.actors import Actor
from aidservice.services.determinations import chunks, region, runs, writer
from aidservice.services.determinations.facts_assembly import assemble, snapshot_json
from aidservice.services.determinations.records import award_key_of, content_hash_of
from aidservice.services.determinations.region import redetermine_region
from aidservice.services.determinations.students import redetermine_students
from aidservice.services.errors import Conflict
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
    settings_for,
    student,
)

pytestmark = pytest.mark.databases
SYSTEM = Actor.system("test")


class Crash(Exception):
    """Stands in for the process dying between chunks."""


@pytest.fixture
def province(app: Flask) -> list[int]:
    """Students of every stage in two cities, with household, personal and guardian statuses from agencies."""
    nanjing_basic = make_school(db.session, "3201020001", "320102", stages=("primary", "junior"))
    nanjing_high = make_school(
        db.session, "3201020002", "320102", stages=("senior_high",), tuition_fee_fen=160000
    )
    xuzhou_voc = make_school(
        db.session, "3203020001", "320302", stages=("vocational",), tuition_fee_fen=300000
    )
    xuzhou_uni = make_school(
        db.session,
        "3203020002",
        "320302",
        stages=("undergraduate", "master", "doctor"),
        tuition_fee_fen=520000,
        central_university=True,
    )
    kinder = make_school(
        db.session,
        "3201020003",
        "320102",
        stages=("preschool",),
        inclusive_kindergarten=True,
        tuition_fee_fen=None,
    )
    plan: list[tuple[Any, str, int, dict[str, Any]]] = [
        (nanjing_basic, "primary", 3, {}),
        (nanjing_basic, "junior", 1, {}),
        (nanjing_basic, "junior", 2, {}),
        (nanjing_high, "senior_high", 1, {}),
        (nanjing_high, "senior_high", 2, {"rural_hukou": True}),
        (xuzhou_voc, "vocational", 1, {"agri_major": True}),
        (xuzhou_voc, "vocational", 3, {}),
        (xuzhou_uni, "undergraduate", 2, {"retired_soldier": True}),
        (xuzhou_uni, "undergraduate", 1, {}),
        (xuzhou_uni, "master", 1, {}),
        (xuzhou_uni, "doctor", 2, {"salaried": True}),
        (kinder, "preschool", 1, {}),
    ]
    pks = [
        student(f"S{i:02d}", at, seed=i, guardians=[7000 + i, 8000 + i], stage=stage, grade=grade, **flags).id
        for i, (at, stage, grade, flags) in enumerate(plan, start=1)
    ]
    civil, _ = client_actor("civil_affairs")
    poverty, _ = client_actor("poverty_alleviation")
    disabled, _ = client_actor("disabled_persons_federation")
    apply(
        app,
        civil,
        "civil_affairs",
        "C1",
        [
            record(person(7002), "subsistence_allowance"),
            record(id_number(4), "orphan"),
            record(
                person(8009), "subsistence_allowance", "2019-01-01", "2020-03-01"
            ),  # ended before the date
        ],
    )
    apply(
        app,
        poverty,
        "poverty_alleviation",
        "P1",
        [
            record(person(7003), "registered_poor"),
            record(person(8006), "poverty_monitored"),
            record(id_number(12), "registered_poor"),
        ],
    )
    apply(
        app,
        disabled,
        "disabled_persons_federation",
        "D1",
        [
            record(person(7010), "disabled", disability_grade=2),
            record(id_number(8), "disabled", disability_grade=1),
        ],
    )
    return pks


def run(app: Flask, **kwargs: Any) -> runs.RegionResult:
    return redetermine_region(db.session, actor=SYSTEM, settings=settings_for(app), **kwargs)


def determinations() -> list[tuple[Any, ...]]:
    """What a student's current determination says, in a comparable form (not seq or ids)."""
    rows = db.session.execute(
        sa.select(Determination).where(Determination.current.is_(True)).order_by(Determination.student_pk)
    ).scalars()
    return [
        (d.student_pk, d.level, d.awards, d.total_fen, d.facts, d.explanation, d.outcome_hash) for d in rows
    ]


def test_the_bulk_path_stores_what_the_per_student_path_stores(app: Flask, province: list[int]) -> None:
    by_student = determinations()  # the feeds re-determined every matched student; now the rest
    redetermine_students(
        db.session, actor=SYSTEM, settings=settings_for(app), student_pks=province, cause="all"
    )
    by_student = determinations()
    db.session.execute(sa.delete(Determination))
    result = run(app, chunk=5)
    assert (result.students, result.stored, result.skipped) == (12, 12, 0)
    assert determinations() == by_student
    again = run(app)  # nothing changed: nothing stored
    assert (again.students, again.stored, again.changed) == (12, 0, 0)
    again = redetermine_students(
        db.session, actor=SYSTEM, settings=settings_for(app), student_pks=province, cause="x"
    )
    assert again.stored == 0


def test_bulk_rows_hash_like_the_per_student_path_and_can_be_recomputed(
    app: Flask, province: list[int]
) -> None:
    run(app, chunk=4)
    rows = db.session.execute(sa.select(Determination).where(Determination.current.is_(True))).scalars().all()
    rules = app.extensions["aid_rules"]
    for row in rows:
        assert row.content_hash == content_hash_of(row)
        (found,) = assemble(db.session, [row.student_pk], AS_OF, rules)
        assert row.facts == found.snapshot
        assert snapshot_json(row.facts) == audit.canonical(row.facts)


def test_a_bulk_run_supersedes_and_audits_per_chunk(app: Flask, province: list[int]) -> None:
    touched = {pk: current(pk).id for pk in province if history(pk)}  # the feeds' determinations
    result = run(app, chunk=5, job_key="rerun-1")
    db.session.commit()  # the last chunk's events are appended when the caller commits
    assert result.stored == 12 - len(touched)  # the students no feed reached get their first
    assert all(current(pk).id == touched[pk] for pk in touched)
    events = db.session.scalars(
        sa.select(AuditEvent.summary).where(AuditEvent.subject == "determinations:redetermine:rerun-1")
    ).all()
    assert sum(e["count"] for e in events) == result.stored and len(events) == 3  # one per chunk of 5
    later = run(app, chunk=5, job_key="rerun-2", as_of=AS_OF.replace(month=10))
    assert later.stored == 0  # the date moved, but nothing a determination records changed
    civil, _ = client_actor("civil_affairs")
    apply(
        app,
        civil,
        "civil_affairs",
        "C2",
        [record(person(7002), "subsistence_allowance", "2019-01-01", "2020-05-01")],
    )
    old = history(province[1])
    assert len(old) == 2 and not old[0].current and old[1].supersedes == old[0].id and old[1].level == "none"
    assert audit.verify(db.session)[1] is None


def test_a_region_covers_only_its_schools(app: Flask, province: list[int]) -> None:
    db.session.execute(sa.delete(Determination))
    result = run(app, region="320300")
    assert result.students == 6
    assert {d[0] for d in determinations()} == set(province[5:11])
    assert run(app, region="320102").students == 6 + 0
    assert region.count_students(db.session, "320000") == 12


def test_a_job_resumes_after_its_cursor_and_ends_like_a_clean_run(app: Flask, province: list[int]) -> None:
    clean = determinations_after_clean_run(app)
    chunks = {"n": 0}

    def checkpoint() -> None:
        db.session.commit()
        chunks["n"] += 1
        if chunks["n"] == 2:
            raise Crash

    with pytest.raises(Crash):
        run(app, chunk=4, job_key="job-1", checkpoint=checkpoint)
    job = db.session.execute(sa.select(Job).where(Job.key == "job-1")).scalar_one()
    assert job.state == "running" and job.cursor == province[7] and job.counts["students"] == 8
    resumed = run(app, chunk=4, job_key="job-1", checkpoint=db.session.commit)
    assert resumed.resumed_after == province[7] and resumed.students == 12
    assert db.session.get(Job, job.id).state == "done"
    assert determinations() == clean
    assert all(
        count(Determination, Determination.student_pk == pk, Determination.current.is_(True)) == 1
        for pk in province
    )
    assert run(app, job_key="job-1").already_done


def determinations_after_clean_run(app: Flask) -> list[tuple[Any, ...]]:
    """The determinations a clean run gives, then the table as it was."""
    nested = db.session.begin_nested()
    run(app, chunk=100)
    clean = determinations()
    nested.rollback()
    return clean


def test_a_job_key_with_other_parameters_is_refused(app: Flask, province: list[int]) -> None:
    run(app, job_key="job-1", region="320300")
    with pytest.raises(Conflict, match="other parameters"):
        run(app, job_key="job-1", region="320100")


def test_a_student_re_determined_while_the_chunk_was_computed_is_done_again_under_the_lock(
    app: Flask, province: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    db.session.execute(sa.delete(Determination))
    target = province[0]
    original = chunks.evaluate_chunk
    civil, _ = client_actor("civil_affairs")

    def meanwhile(ctx: Any, facts: Any) -> Any:
        out = original(ctx, facts)  # the chunk's facts were read before this batch
        apply(app, civil, "civil_affairs", "late", [record(id_number(1), "orphan")])
        return out

    monkeypatch.setattr(chunks, "evaluate_chunk", meanwhile)
    run(app, chunk=100)
    latest = current(target)
    assert latest.level == "special" and latest.facts["orphan"]["value"] is True
    assert count(Determination, Determination.student_pk == target, Determination.current.is_(True)) == 1


def test_a_dry_run_with_a_draft_rule_set_diffs_without_writing(
    app: Flask, province: list[int], rules_copy: Path
) -> None:
    from aidservice.engine import load_rules

    run(app)
    before = (count(Determination), count(AuditEvent), count(AgencyRecord), count(Job))
    path = rules_copy / "parameters" / "basic_education.yaml"
    path.write_text(
        path.read_text(encoding="utf-8").replace("values: {2018-09-01: 2000}", "values: {2018-09-01: 2200}"),
        encoding="utf-8",
    )
    result = run(app, rules=load_rules(rules_copy), dry_run=True)
    assert (count(Determination), count(AuditEvent), count(AgencyRecord), count(Job)) == before
    assert result.diff is not None
    diff = result.diff.as_json()
    assert diff["students_changing"] == 1 and diff["money_delta"] == {"compulsory_living_subsidy": "200.00"}
    assert diff["level_moves"] == {} and diff["programs_gained"] == {}
    (example,) = diff["examples"]
    assert example["student_id"] == "S02" and example["total_delta"] == "200.00"


def test_a_dry_run_from_nothing_shows_every_gain(app: Flask, province: list[int]) -> None:
    db.session.execute(sa.delete(Determination))
    diff = run(app, dry_run=True).diff.as_json()  # type: ignore[union-attr]
    assert diff["level_moves"]["none->special"] >= 4
    assert diff["programs_gained"]["compulsory_living_subsidy"] == 2
    assert count(Determination) == 0


# ------------------------------------------------------------------ the command


def test_the_command_commits_per_chunk_and_prints_a_summary(app: Flask, province: list[int]) -> None:
    db.session.execute(sa.delete(Determination))
    result = app.test_cli_runner().invoke(
        args=["aid", "redetermine", "--chunk", "5", "--job-key", "cli-1", "--as-of", "2020-09-01"]
    )
    assert result.exit_code == 0, result.output
    assert "job cli-1" in result.output and "12 students, 12 new determinations" in result.output
    assert count(Determination, Determination.current.is_(True)) == 12


def test_the_command_dry_run_prints_the_diff_with_masked_numbers(
    app: Flask, province: list[int], rules_copy: Path
) -> None:
    run(app)
    path = rules_copy / "parameters" / "basic_education.yaml"
    path.write_text(
        path.read_text(encoding="utf-8").replace("values: {2018-09-01: 2000}", "values: {2018-09-01: 2200}"),
        encoding="utf-8",
    )
    result = app.test_cli_runner().invoke(
        args=["aid", "redetermine", "--dry-run", "--rules", str(rules_copy), "--as-of", "2020-09-01"]
    )
    assert result.exit_code == 0, result.output
    assert "dry run, nothing written" in result.output and "compulsory_living_subsidy" in result.output
    number = id_number(2)
    assert number[:6] + "*" * 11 + number[-1:] in result.output and number not in result.output


def test_the_command_refuses_a_broken_draft_and_a_reused_job_key(
    app: Flask, province: list[int], broken_rules: Path
) -> None:
    runner = app.test_cli_runner()
    broken = runner.invoke(args=["aid", "redetermine", "--dry-run", "--rules", str(broken_rules)])
    assert broken.exit_code == 1 and "zz_broken.yaml:2" in broken.output
    assert runner.invoke(args=["aid", "redetermine", "--job-key", "k", "--region", "320300"]).exit_code == 0
    reused = runner.invoke(args=["aid", "redetermine", "--job-key", "k", "--region", "320100"])
    assert reused.exit_code == 1 and "other parameters" in reused.output


def test_award_keys_read_as_stored_text_equal_the_keys_of_the_decoded_awards(
    app: Flask, province: list[int]
) -> None:
    run(app)
    rows = db.session.execute(sa.select(Determination.id, Determination.awards)).all()
    expected = {det_id: audit.canonical([list(k) for k in award_key_of(awards)]) for det_id, awards in rows}
    assert len(set(expected.values())) > 1  # several distinct award lists, some shared
    assert writer._previous_award_keys(db.session, list(expected)) == expected
