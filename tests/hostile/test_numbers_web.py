"""Issue 15, item 1, in the officer web UI: a hostile number typed into the application form is marked on its
field (422), fast, and no application is stored. Before the fix `1e100000000` as an income answered 500
(Decimal.quantize overflowed)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from flask.testing import FlaskClient

from aidservice.extensions import db
from aidservice.models import Application
from tests.timing_support import FAST, work_clock
from tests.web.conftest import app_env, as_user, clock, csrf, world  # noqa: F401 - the web suite's fixtures

pytestmark = pytest.mark.databases

VALUES = {
    "exponent": "1e100000000",
    "5000 digits": "9" * 5000,
    "30-digit decimal": "123456789012345678901234567890.001",
    "minus one": "-1",
    "NaN": "NaN",
    "over the ceiling": "10000000.01",
}


@pytest.mark.parametrize("field", ["per_capita_income", "academic_rank_pct", "household_size"])
@pytest.mark.parametrize("value", [pytest.param(v, id=k) for k, v in VALUES.items()])
def test_a_hostile_number_in_the_application_form_is_marked_on_its_field(
    as_user: Callable[[str], FlaskClient],  # noqa: F811 - the imported fixture
    field: str,
    value: str,
) -> None:
    client = as_user("officer1")
    data = {
        "csrf_token": csrf(client, "/students/S1-001/apply"),
        "household_size": "4",
        "per_capita_income": "5000.00",
        "commitment": "y",
        field: value,
    }
    started = work_clock()
    response = client.post("/students/S1-001/apply", data=data)
    assert work_clock() - started < FAST
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "has-error" in html
    assert value[:40] in html  # kept as typed, next to its field
    assert db.session.query(Application).count() == 0
