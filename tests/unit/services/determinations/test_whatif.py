"""What-if against the baseline (`whatif_compare.compare_with_running`, `aid whatif`): the draft and the
running rules on the same roster, facts and date."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from aidservice.engine import load_rules
from aidservice.extensions import db
from aidservice.models import AgencyRecord, AuditEvent, Determination, Job
from aidservice.services.actors import Actor
from aidservice.services.determinations import whatif
from aidservice.services.determinations.whatif_compare import WhatIfResult, compare_with_running
from aidservice.services.errors import ValidationFailed
from tests.unit.services.determinations.test_redetermine import province, run
from tests.world.feeds import AS_OF, count, settings_for

pytestmark = pytest.mark.databases
SYSTEM = Actor.system("test")
__all__ = ["province"]  # the fixture: twelve students of every stage, with agency statuses


@pytest.fixture
def app_env(tmp_path: Path) -> dict[str, str]:
    return {"AID_WHATIF_FILE": str(tmp_path / "whatif-last.json")}


def compare(app: Flask, **kwargs: Any) -> WhatIfResult:
    return compare_with_running(db.session, actor=SYSTEM, settings=settings_for(app), as_of=AS_OF, **kwargs)


def rows() -> tuple[int, ...]:
    return (count(Determination), count(AuditEvent), count(AgencyRecord), count(Job))


def draft_with(rules_copy: Path, old: str, new: str) -> Any:
    path = rules_copy / "parameters" / "basic_education.yaml"
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new), encoding="utf-8")
    return load_rules(rules_copy)


def test_no_draft_is_no_change_even_with_no_stored_determination(app: Flask, province: list[int]) -> None:
    db.session.execute(sa.delete(Determination))  # the old what-if compared with these: every student changed
    before = rows()
    result = compare(app)
    assert result.no_change and result.students == len(province) and result.skipped == 0
    totals = result.totals()
    assert totals["students_changing"] == 0 and totals["money_delta"] == {} and totals["level_moves"] == {}
    assert result.by_region == {} and result.changes == [] and rows() == before


def test_a_draft_identical_to_the_running_rules_is_no_change(
    app: Flask, province: list[int], rules_copy: Path
) -> None:
    run(app)  # stored determinations do not matter either way
    result = compare(app, draft=load_rules(rules_copy))
    assert result.no_change and result.students == len(province)
    assert result.draft_version == result.running_version


def test_a_draft_raising_one_amount_shows_exactly_the_students_who_gain(
    app: Flask, province: list[int], rules_copy: Path
) -> None:
    before = rows()
    draft = draft_with(rules_copy, "values: {2018-09-01: 2000}", "values: {2018-09-01: 2200}")
    result = compare(app, draft=draft)
    assert rows() == before  # nothing written
    totals = result.totals()
    assert (
        totals["students_changing"] == 1
        and totals["students_gaining"] == 1
        and totals["students_losing"] == 0
    )
    assert (
        totals["money_delta"] == {"compulsory_living_subsidy": "200.00"} and totals["total_delta"] == "200.00"
    )
    assert totals["level_moves"] == {} and totals["programs_gained"] == {} and totals["programs_lost"] == {}
    (change,) = result.changes
    assert change.student_id == "S02" and change.level == ("special", "special")
    assert change.delta_fen == {"compulsory_living_subsidy": 20000} and change.region_code == "320102"
    regions = result.regions()
    assert list(regions) == ["320100"]  # Nanjing: the province is tallied by city
    assert regions["320100"]["money_delta"] == {"compulsory_living_subsidy": "200.00"}


def test_a_lower_amount_loses_and_a_region_outside_it_sees_no_change(
    app: Flask, province: list[int], rules_copy: Path
) -> None:
    draft = draft_with(rules_copy, "values: {2018-09-01: 2000}", "values: {2018-09-01: 1900}")
    result = compare(app, draft=draft)
    assert result.totals()["students_losing"] == 1 and result.totals()["total_delta"] == "-100.00"
    xuzhou = compare(app, draft=draft, region="320300")
    assert xuzhou.no_change and 0 < xuzhou.students < len(province)
    nanjing = compare(app, draft=draft, region="320100")
    assert list(nanjing.regions()) == ["320102"]  # a city is tallied by county


def test_a_date_outside_the_draft_coverage_or_a_bad_region_is_refused(
    app: Flask, province: list[int], rules_copy: Path
) -> None:
    with pytest.raises(ValidationFailed):
        compare(app, region="32")
    coverage = rules_copy / "coverage.yaml"
    text = coverage.read_text(encoding="utf-8")
    assert "2021-08-31" in text
    coverage.write_text(text.replace("2021-08-31", "2020-08-31"), encoding="utf-8")
    with pytest.raises(ValidationFailed) as refused:
        compare(app, draft=load_rules(rules_copy))
    assert "as_of" in refused.value.errors


def test_the_command_prints_no_change_without_a_draft_and_saves_the_summary(
    app: Flask, province: list[int]
) -> None:
    result = app.test_cli_runner().invoke(args=["aid", "whatif", "--as-of", "2020-09-01"])
    assert result.exit_code == 0, result.output
    assert "no draft" in result.output and "no change" in result.output
    saved = whatif.load(app.config["AID_WHATIF_FILE"])
    assert saved is not None and saved["no_change"] and not saved["draft"]
    assert saved["diff"]["students_changing"] == 0 and saved["students"] == len(province)


def test_the_command_prints_gains_by_region_with_masked_numbers(
    app: Flask, province: list[int], rules_copy: Path
) -> None:
    draft_with(rules_copy, "values: {2018-09-01: 2000}", "values: {2018-09-01: 2200}")
    before = rows()
    runner = app.test_cli_runner()
    result = runner.invoke(args=["aid", "whatif", "--rules", str(rules_copy), "--as-of", "2020-09-01"])
    assert result.exit_code == 0, result.output
    assert "1 students change: 1 gain money, 0 lose money" in result.output
    assert "320100 南京" in result.output and "S02" in result.output
    assert "compulsory_living_subsidy" in result.output and "200.00" in result.output
    saved = json.loads(Path(app.config["AID_WHATIF_FILE"]).read_text(encoding="utf-8"))
    assert saved["by_region"]["320100"]["students_gaining"] == 1 and "examples" not in saved
    assert "S02" not in json.dumps(saved)  # the kept summary names no student
    as_json = runner.invoke(
        args=["aid", "whatif", "--rules", str(rules_copy), "--as-of", "2020-09-01", "--json"]
    )
    (example,) = json.loads(as_json.output[: as_json.output.rindex("}") + 1])["examples"]
    assert example["student_id"] == "S02" and "*" in example["person"]
    assert rows() == before


def test_the_command_writes_the_workbook_with_every_changing_student(
    app: Flask, province: list[int], rules_copy: Path, tmp_path: Path
) -> None:
    from openpyxl import load_workbook

    draft_with(rules_copy, "values: {2018-09-01: 2000}", "values: {2018-09-01: 2200}")
    out = tmp_path / "out.xlsx"
    args = ["aid", "whatif", "--rules", str(rules_copy), "--as-of", "2020-09-01", "--examples", "0"]
    result = app.test_cli_runner().invoke(args=[*args, "--xlsx", str(out)])
    assert result.exit_code == 0, result.output
    assert f"workbook written to {out}" in result.output
    book = load_workbook(out, read_only=True)
    rows = list(book["变化学生"].iter_rows(values_only=True))
    assert (
        len(rows) == 2 and rows[1][0] == "S02" and rows[1][8] == 200
    )  # --examples does not cut the workbook
