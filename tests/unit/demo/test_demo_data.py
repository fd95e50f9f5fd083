"""`aid demo-data` loads a small province through the services: roster, accounts, agency batches."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import func, select

from aidservice.engine.vocabulary import Vocabulary
from aidservice.extensions import db
from aidservice.models import AgencyRecord, Determination, FeedBatch, School, Student, User
from tests.world.vocabulary import shipped_rules


@pytest.mark.databases
def test_demo_province_loads_through_the_services_and_keeps_the_audit_chain(
    app: Flask, tmp_path: Path
) -> None:
    logins = tmp_path / "logins.txt"
    runner = app.test_cli_runner()
    result = runner.invoke(
        args=["aid", "demo-data", "--students", "300", "--seed", "7", "--logins", str(logins)]
    )
    assert result.exit_code == 0, result.output
    count = lambda model: db.session.scalar(select(func.count()).select_from(model))  # noqa: E731
    assert count(Student) == 300
    assert count(School) > 13 * 2
    assert count(User) == 5
    assert count(AgencyRecord) > 0 and count(FeedBatch) >= 4
    stages = set(db.session.scalars(select(Student.stage).distinct()))
    assert {"preschool", "primary", "junior", "undergraduate"} <= stages
    current = db.session.scalar(select(func.count()).select_from(Determination).where(Determination.current))
    assert current == 300, "every student has one current determination"
    assert count(Determination) > 300, "agency batches changed some and superseded the earlier ones"
    text = logins.read_text(encoding="utf-8")
    assert "officer" in text and "aidc_" in text
    verify = runner.invoke(args=["aid", "audit", "verify"])
    assert verify.exit_code == 0, verify.output


def test_same_seed_gives_the_same_province() -> None:
    from aidservice.demo.province import generate

    vocabulary = shipped_rules().vocabulary
    first, again = generate(200, vocabulary, 3), generate(200, vocabulary, 3)
    assert first.students == again.students and first.records == again.records
    assert generate(200, vocabulary, 4).students != first.students


def test_the_registers_are_the_rules_sources_and_a_status_the_rules_add_is_drawn_too() -> None:
    from aidservice.demo.province import generate

    shipped = shipped_rules().vocabulary
    civil = shipped.source("civil_affairs")
    assert civil is not None
    marginal = replace(civil.statuses[0], name="subsistence_marginal")
    sources = tuple(
        replace(s, statuses=(*s.statuses, marginal)) if s.id == "civil_affairs" else s
        for s in shipped.sources
    )
    province = generate(2000, Vocabulary(sources, shipped.groups), 3)
    assert list(province.records) == list(shipped.agency_ids)
    sent = {source: {r["status"] for r in records} for source, records in province.records.items()}
    assert "subsistence_marginal" in sent["civil_affairs"]
    assert all(
        sent[source] <= set(shipped.agency_statuses[source]) for source in sent if source != "civil_affairs"
    )
    assert sent["civil_affairs"] <= {*shipped.agency_statuses["civil_affairs"], "subsistence_marginal"}
