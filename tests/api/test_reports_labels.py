"""The printable reports and the CSV of the hand-computed province of tests/world/reports.py read as officers
read them: no raw code of the rules' vocabulary, no machine timestamp, the definition of "aided" in Chinese."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient

from aidservice.services import reports
from tests.web.test_no_raw_codes import offences, visible_text, vocabulary_codes
from tests.world.reports import Province, province_fixture  # noqa: F401 - fixture "province"

pytestmark = pytest.mark.databases


@pytest.mark.parametrize("kind", reports.KINDS)
def test_the_printable_report_shows_labels_only(client: FlaskClient, province: Province, kind: str) -> None:
    response = client.get(
        f"/api/v1/reports/{kind}",
        query_string={"period": "2020-2021-autumn", "format": "html"},
        headers=province.headers("province_admin"),
    )
    assert response.status_code == 200
    text = visible_text(response.get_data(as_text=True))
    assert not offences(text, vocabulary_codes()), kind
    assert "已资助：" in text and "aided:" not in text
