"""Issue 15 item 5: dates that make no sense are refused fast, naming `as_of`, and nothing is stored.

Evaluation dates must lie in the rules' coverage (2018-09-01 to 2021-08-31); a region re-determination's date
in the current school year (AID_SCHOOL_YEAR 2020-2021: 2020-09-01 to 2021-08-31) unless the CLI's --force
allows an earlier school year, which is audited.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from aidservice.engine import OutsideCoverage
from aidservice.errors import problem_for
from aidservice.extensions import db
from aidservice.jobs import kinds
from aidservice.models import AuditEvent, Determination, Job
from aidservice.services import audit
from aidservice.services.actors import Actor
from aidservice.services.determinations.evaluation_dates import redetermination_date
from aidservice.services.determinations.students import redetermine_students
from aidservice.services.errors import ValidationFailed
from aidservice.wiring import settings
from tests.timing_support import FAST
from tests.world.jobs import Province, make_province

COVERAGE = "(2018-09-01 to 2021-08-31)"
FACTS = {"stage": "junior", "grade": 1, "orphan": True}
ANOTHER_SCHOOL_YEAR = "2019-10-01"  # inside coverage, before AID_SCHOOL_YEAR 2020-2021
OUTSIDE_COVERAGE = "2017-10-01"


def timed(call: Callable[[], Any]) -> tuple[Any, float]:
    started = time.perf_counter()
    result = call()
    return result, time.perf_counter() - started


def stored() -> dict[str, int]:
    """Rows a refused request must not add: determinations, jobs, audit events (pending ones included)."""
    counts = {
        model.__name__: db.session.scalar(sa.select(sa.func.count()).select_from(model)) or 0
        for model in (Determination, Job, AuditEvent)
    }
    return {**counts, "pending audit": len(db.session.info.get(audit.PENDING, []))}


def as_of_problem(response: Any) -> str:
    assert response.status_code == 422, response.get_json()
    assert response.mimetype == "application/problem+json"
    (message,) = response.get_json()["errors"]["as_of"]
    return str(message)


def cli(app: Flask, *args: str) -> tuple[Any, float]:
    return timed(lambda: app.test_cli_runner().invoke(args=["aid", *args]))


@pytest.fixture
def province(app: Flask) -> Province:
    return make_province()


# ------------------------------------------------------------------------------------------ evaluation


@pytest.mark.parametrize(
    "as_of, named",
    [
        (
            "9999-09-01",
            ("1900-2100",),
        ),  # past any date a request may carry: refused before the rules are asked
        ("1990-09-01", ("1990-09-01", COVERAGE)),
        ("2018-08-31", ("2018-08-31", COVERAGE)),
        ("2021-09-01", ("2021-09-01", COVERAGE)),
    ],
)
def test_an_evaluation_outside_the_rules_coverage_is_a_422_naming_as_of(
    client: FlaskClient, as_of: str, named: tuple[str, ...]
) -> None:
    before = stored()
    response, elapsed = timed(lambda: client.post("/api/v1/evaluate", json={"as_of": as_of, "facts": FACTS}))
    message = as_of_problem(response)
    assert all(part in message for part in named), message
    assert elapsed < FAST
    assert stored() == before


@pytest.mark.parametrize("as_of", ["2018-09-01", "2021-08-31"])
def test_an_evaluation_on_either_end_of_the_coverage_is_answered(client: FlaskClient, as_of: str) -> None:
    response, elapsed = timed(lambda: client.post("/api/v1/evaluate", json={"as_of": as_of, "facts": FACTS}))
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["as_of"] == as_of and response.get_json()["level"] == "special"
    assert elapsed < FAST


def test_the_rules_show_their_coverage(client: FlaskClient) -> None:
    assert client.get("/api/v1/rules").get_json()["coverage"] == {"from": "2018-09-01", "to": "2021-08-31"}


def test_the_batch_command_outside_coverage_exits_1_naming_the_date_and_the_coverage(
    app: Flask, tmp_path: Path
) -> None:
    source, output = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    source.write_text(json.dumps(FACTS) + "\n", encoding="utf-8")
    result, elapsed = cli(
        app, "evaluate", "--input", str(source), "--output", str(output), "--as-of", "2021-09-01"
    )
    assert result.exit_code == 1
    (line,) = result.output.strip().splitlines()
    assert "2021-09-01" in line and COVERAGE in line
    assert elapsed < FAST
    assert not output.exists()


@pytest.mark.databases
def test_a_stored_determination_outside_coverage_is_refused_naming_as_of(
    app: Flask, province: Province
) -> None:
    """A school year configured past the coverage: the engine refuses, the error handler answers 422 as_of."""
    later = dataclasses.replace(settings(), school_year="2021-2022", today=date(2021, 10, 1))
    pks = province.students["320102"]
    before = stored()
    with pytest.raises(OutsideCoverage) as caught:
        redetermine_students(
            db.session, actor=Actor.system("test"), settings=later, student_pks=pks, cause="test"
        )
    problem = problem_for(caught.value)
    assert problem.status == 422 and "2021-09-01" in problem.errors["as_of"][0]
    db.session.rollback()
    assert stored() == before


@pytest.mark.databases
def test_a_semester_outside_coverage_is_refused_naming_as_of(app: Flask, province: Province) -> None:
    before = stored()
    result, elapsed = cli(app, "semester", "open", "--school-year", "2021-2022", "--semester", "autumn")
    assert result.exit_code == 1
    assert "as_of: 2021-09-01" in result.output and COVERAGE in result.output
    assert elapsed < FAST
    assert stored() == before


# ------------------------------------------------------------------------------------------ re-determination


@pytest.mark.databases
@pytest.mark.parametrize(
    ("as_of", "says"),
    [
        (ANOTHER_SCHOOL_YEAR, "before the current school year 2020-2021"),
        (OUTSIDE_COVERAGE, COVERAGE),
        ("2021-09-01", COVERAGE),
    ],
)
def test_a_redetermination_outside_the_school_year_is_a_422_naming_as_of_and_no_job(
    client: FlaskClient, province: Province, as_of: str, says: str
) -> None:
    before = stored()
    response, elapsed = timed(
        lambda: client.post(
            "/api/v1/redeterminations",
            json={"region": "320100", "as_of": as_of},
            headers=province.headers("city_admin"),
        )
    )
    message = as_of_problem(response)
    assert as_of in message and says in message
    assert elapsed < FAST
    assert stored() == before


@pytest.mark.databases
def test_a_redetermination_job_is_refused_at_submission(app: Flask, province: Province) -> None:
    actor = Actor.system("test")
    before = stored()
    with pytest.raises(ValidationFailed) as caught:
        kinds.prepare_redetermine(
            db.session,
            actor=actor,
            settings=settings(),
            region="320100",
            as_of=date.fromisoformat(ANOTHER_SCHOOL_YEAR),
        )
    assert ANOTHER_SCHOOL_YEAR in caught.value.errors["as_of"][0]
    assert stored() == before


@pytest.mark.databases
def test_the_command_refuses_another_school_year_without_force(app: Flask, province: Province) -> None:
    before = stored()
    result, elapsed = cli(app, "redetermine", "--region", "320100", "--as-of", ANOTHER_SCHOOL_YEAR)
    assert result.exit_code != 0
    assert f"as_of: {ANOTHER_SCHOOL_YEAR} is before the current school year 2020-2021" in result.output
    assert "--force" in result.output
    assert elapsed < FAST
    assert stored() == before


@pytest.mark.databases
def test_the_command_with_force_runs_a_past_school_year_and_audits_it(app: Flask, province: Province) -> None:
    result = app.test_cli_runner().invoke(
        args=[
            "aid",
            "redetermine",
            "--region",
            "320100",
            "--as-of",
            ANOTHER_SCHOOL_YEAR,
            "--force",
            "--job-key",
            "past-year",
        ]
    )
    assert result.exit_code == 0, result.output
    assert f"as of {ANOTHER_SCHOOL_YEAR}" in result.output
    (event,) = db.session.execute(
        sa.select(AuditEvent).where(AuditEvent.action == "redetermine.forced")
    ).scalars()
    assert event.subject == "job:past-year"
    assert event.summary["as_of"] == ANOTHER_SCHOOL_YEAR and event.summary["school_year"] == "2020-2021"
    assert event.actor == Actor.system("cli:redetermine").label


@pytest.mark.databases
def test_the_command_refuses_a_date_outside_coverage_even_with_force(app: Flask, province: Province) -> None:
    before = stored()
    result, elapsed = cli(app, "redetermine", "--region", "320100", "--as-of", OUTSIDE_COVERAGE, "--force")
    assert result.exit_code != 0
    assert f"as_of: {OUTSIDE_COVERAGE} is outside the rules' coverage {COVERAGE}" in result.output
    assert elapsed < FAST
    assert stored() == before


def test_force_never_allows_a_later_school_year(app: Flask) -> None:
    earlier = dataclasses.replace(settings(), school_year="2019-2020")
    with pytest.raises(ValidationFailed) as caught:
        redetermination_date(earlier, earlier.rules, date(2020, 10, 1), force=True)
    assert caught.value.errors["as_of"] == [
        "2020-10-01 is after the current school year 2019-2020 (2019-09-01 to 2020-08-31)"
    ]
