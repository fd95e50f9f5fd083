"""A new agency status is a rules change only (issue 18): the feed, the facts, the level and the special-groups
report all follow a rules folder that adds civil affairs' 低保边缘家庭 (`subsistence_marginal`), with no code
change; and a status the rules no longer name is refused by the feed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from aidservice.extensions import db
from tests.world.factories import bearer, id_number, make_client, make_user
from tests.world.feeds import current, person, record, school, student
from tests.world.reports import as_json, rows_by

pytestmark = pytest.mark.databases
URL = "/api/v1/feeds/civil_affairs/batches"
NEW_STATUS = "subsistence_marginal"

FACT = f"  {NEW_STATUS}: {{type: bool, source: civil_affairs, label: 低保边缘家庭}}\n"
CLAUSE = f"""      - id: difficult_{NEW_STATUS}
        label: 低保边缘家庭学生
        when: {NEW_STATUS}
        status: provisional
        note: 低保边缘家庭学生认定为困难（测试用规则）。
        basis:
          - {{document: jiangsu_2020_plan, clause: 第33项}}
"""


def _insert_after(path: Path, anchor: str, text: str) -> None:
    """`text` right after the first line that contains `anchor` (fails when there is none)."""
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    at = next(i for i, line in enumerate(lines) if anchor in line)
    path.write_text("".join([*lines[: at + 1], text, *lines[at + 1 :]]), encoding="utf-8")


def add_marginal_status(rules: Path) -> Path:
    """The shipped rules plus 低保边缘家庭: a fact, a civil-affairs household status, a special group and a
    `difficult` clause citing a document."""
    _insert_after(rules / "facts.yaml", "subsistence_allowance:", FACT)
    _insert_after(
        rules / "sources.yaml",
        "subsistence_allowance: {reaches: household}",
        f"      {NEW_STATUS}: {{reaches: household}}\n",
    )
    _insert_after(
        rules / "sources.yaml",
        "{status: subsistence_allowance,",
        f"  - {{status: {NEW_STATUS}, label: 低保边缘家庭学生}}\n",
    )
    levels = rules / "levels.yaml"
    text = levels.read_text(encoding="utf-8")
    anchor = "  difficult:\n    label: 困难\n    clauses:\n"
    assert anchor in text
    levels.write_text(text.replace(anchor, anchor + CLAUSE), encoding="utf-8")
    return rules


def _drop_lines(path: Path, drop: Any) -> None:
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    kept = [line for line in lines if not drop(line)]
    assert len(kept) < len(lines), path
    path.write_text("".join(kept), encoding="utf-8")


def _drop_clause(path: Path, clause_id: str) -> None:
    """A clause of levels.yaml, from its `- id:` line to the next clause or level."""
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    start = lines.index(f"      - id: {clause_id}\n")
    end = next(i for i in range(start + 1, len(lines)) if not lines[i].startswith("        "))
    path.write_text("".join([*lines[:start], *lines[end:]]), encoding="utf-8")


def remove_status(rules: Path, status: str) -> Path:
    """The shipped rules without `status`: no fact, no source sends it, no special group, no clause."""
    _drop_lines(rules / "facts.yaml", lambda line: line.startswith(f"  {status}: "))
    _drop_lines(rules / "sources.yaml", lambda line: f" {status}: " in line or f"{{status: {status}," in line)
    _drop_clause(rules / "levels.yaml", f"special_{status}")
    return rules


@pytest.fixture
def rules_dir(request: pytest.FixtureRequest, rules_copy: Path) -> Path:
    return request.param(rules_copy)  # type: ignore[no-any-return]


@pytest.fixture
def app_env(rules_dir: Path) -> dict[str, str]:
    return {"AID_RULES_DIR": str(rules_dir)}


def post(client: FlaskClient, records: list[dict[str, Any]], batch_id: str = "B-1") -> Any:
    token = make_client(db.session, "civil_affairs")
    response = client.post(URL, json={"batch_id": batch_id, "records": records}, headers=bearer(token))
    assert response.status_code == 200, response.json
    return response.json


@pytest.mark.parametrize("columnar", [False, True], ids=["per_student", "columnar"])
@pytest.mark.parametrize("rules_dir", [add_marginal_status], indirect=True)
def test_a_new_civil_affairs_status_makes_the_student_difficult_and_is_a_special_group(
    app: Flask, client: FlaskClient, columnar: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    from aidservice.services.determinations import students as determinations

    if columnar:  # the vectorised path (matches, agency_frame) from one student on
        monkeypatch.setattr(determinations, "VECTOR_MIN", 1)
    vocabulary = app.extensions["aid_rules"].vocabulary
    assert NEW_STATUS in vocabulary.agency_statuses["civil_affairs"]
    documented = client.get("/api/v1/openapi.json").json["components"]["schemas"]["AgencyStatuses"]
    assert NEW_STATUS in documented["properties"]["civil_affairs"]["enum"]
    at = school(stages=("junior",))
    pk = student("S1", at, seed=1, guardians=[7001]).id
    student("S2", at, seed=2, guardians=[7002])

    answer = post(client, [record(person(7001), NEW_STATUS)])  # the guardian's household status

    assert answer["accepted"] == 1 and answer["rejected"] == [] and answer["matched_students"] == 1
    determination = current(pk)
    assert determination.level == "difficult"
    assert determination.facts[NEW_STATUS] == {
        "value": True,
        "source": "civil_affairs",
        "record_ids": determination.facts[NEW_STATUS]["record_ids"],
    }
    (reason,) = determination.explanation["reasons"]
    assert reason["clause"] == f"difficult_{NEW_STATUS}" and reason["level"] == "difficult"
    assert "第33项" in reason["basis"], reason

    _user, token = make_user(db.session, "province_admin", region_code="320000")
    response = client.get(
        "/api/v1/reports/special-groups", query_string={"period": "2020-2021-autumn"}, headers=bearer(token)
    )
    assert response.status_code == 200, response.data[:500]
    rows = rows_by(as_json(response.data)["sections"]["groups"], "group", "stage")
    line = rows[(NEW_STATUS, "junior")]
    assert line["group_name"] == "低保边缘家庭学生" and line["students"] == 1
    assert rows[(NEW_STATUS, "all")]["students"] == 1
    assert rows[("any", "all")]["students"] == 1

    refused = post(client, [record(person(7002), "low_income_family")], "B-2")
    (rejection,) = refused["rejected"]
    assert rejection["field"] == "status"
    assert rejection["message"].endswith(
        "allowed: subsistence_allowance, subsistence_marginal, extreme_poverty_support, orphan, de_facto_orphan"
    ), rejection


@pytest.mark.parametrize("rules_dir", [lambda rules: remove_status(rules, "de_facto_orphan")], indirect=True)
def test_a_status_the_rules_no_longer_name_is_refused_by_the_feed(app: Flask, client: FlaskClient) -> None:
    assert "de_facto_orphan" not in app.extensions["aid_rules"].vocabulary.statuses
    student("S1", school(stages=("junior",)), seed=1)

    answer = post(client, [record(id_number(1), "de_facto_orphan"), record(id_number(1), "orphan")])

    assert answer["accepted"] == 1
    (rejection,) = answer["rejected"]
    assert rejection["index"] == 0 and rejection["field"] == "status"
    assert rejection["message"].endswith("allowed: subsistence_allowance, extreme_poverty_support, orphan")
