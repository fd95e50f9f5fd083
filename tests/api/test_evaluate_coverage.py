"""Issue 18 item 1: an evaluation date outside the rules' coverage is refused on every path of the service:
422 naming `as_of` (either evaluator of POST /api/v1/evaluate), and a re-determination job refused at
submission with nothing stored (the job kind itself, as the API and the worker call it)."""

from __future__ import annotations

from datetime import date

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from aidservice.extensions import db
from aidservice.jobs import kinds
from aidservice.models import Job
from aidservice.services.actors import Actor
from aidservice.services.errors import ValidationFailed
from aidservice.wiring import settings
from tests.world.jobs import make_province

COVERAGE = "(2018-09-01 to 2021-08-31)"
FACTS = {"stage": "junior", "grade": 1, "orphan": True}


@pytest.mark.parametrize("trace", [True, False])  # the reference interpreter, the compiled record path
@pytest.mark.parametrize("as_of", ["2018-08-31", "2021-09-01"])
def test_evaluate_outside_coverage_is_a_422_naming_as_of_on_either_evaluator(
    client: FlaskClient, as_of: str, trace: bool
) -> None:
    response = client.post("/api/v1/evaluate", json={"as_of": as_of, "facts": FACTS, "trace": trace})
    assert response.status_code == 422, response.get_json()
    assert response.mimetype == "application/problem+json"
    (message,) = response.get_json()["errors"]["as_of"]
    assert as_of in message and COVERAGE in message


@pytest.mark.parametrize("trace", [True, False])
def test_evaluate_inside_coverage_names_what_is_missing(client: FlaskClient, trace: bool) -> None:
    response = client.post("/api/v1/evaluate", json={"as_of": "2020-09-01", "facts": FACTS, "trace": trace})
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["missing"] == ["city_code", "per_capita_income"]


@pytest.mark.databases
@pytest.mark.parametrize("as_of", [date(2017, 10, 1), date(2021, 9, 1)])
def test_a_redetermination_job_outside_coverage_is_refused_before_it_exists(app: Flask, as_of: date) -> None:
    make_province()
    jobs = db.session.scalar(sa.select(sa.func.count()).select_from(Job))
    with pytest.raises(ValidationFailed) as caught:
        kinds.prepare_redetermine(
            db.session, actor=Actor.system("test"), settings=settings(), region="320100", as_of=as_of
        )
    (message,) = caught.value.errors["as_of"]
    assert as_of.isoformat() in message and COVERAGE in message
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Job)) == jobs
