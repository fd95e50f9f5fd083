"""Out-of-province statuses in the officer UI: the form offers the rules' declarable statuses with their labels,
the application page lists each declaration with its state and the 核实 / 不予核实 buttons (before review)."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from flask.testing import FlaskClient

from tests.web.conftest import csrf
from tests.web.test_applications import DECLARED, apply, created, text
from tests.world import web as w

pytestmark = pytest.mark.databases

DECLARATION = {
    "oop_status": "extreme_poverty_support",
    "oop_province": "贵州",
    "oop_kind": "特困供养证",
    "oop_issuer": "铜仁市民政局",
    "oop_number": "TR-2019-88",
    "oop_date": "2019-12-01",
}


def decide(client: FlaskClient, application_id: int, result: str, **fields: str) -> object:
    html = text(client.get(f"/applications/{application_id}"))
    (decl_id, version) = re.search(r'name="decl(\d+)-version" type="hidden" value="(\d+)"', html).groups()  # type: ignore[union-attr]
    data = {
        "decl" + decl_id + "-csrf_token": csrf(client, f"/applications/{application_id}"),
        f"decl{decl_id}-version": version,
        **{f"decl{decl_id}-{k}": v for k, v in fields.items()},
    }
    return client.post(f"/applications/{application_id}/declarations/{decl_id}/{result}", data=data)


def test_the_form_records_a_declaration_and_the_officer_verifies_it(
    as_user: Callable[[str], FlaskClient], world: w.World
) -> None:
    officer = as_user("officer1")
    form = text(officer.get("/students/S1-005/apply"))
    assert "外省身份申报" in form
    assert '<option value="registered_poor">外省建档立卡</option>' in form
    assert '<option value="extreme_poverty_support">外省特困供养</option>' in form
    application_id = created(officer, "S1-005", **DECLARATION)
    page = text(officer.get(f"/applications/{application_id}"))
    assert "外省特困供养" in page and "贵州省" in page and "TR-2019-88" in page and "待核实" in page
    assert "核实</button>" in page and "不予核实</button>" in page
    assert "特别困难" not in page.split('id="declarations"')[0]  # not counted while pending

    done = decide(officer, application_id, "verified")
    assert done.status_code == 302  # type: ignore[attr-defined]
    page = text(officer.get(f"/applications/{application_id}"))
    assert "操作已完成：核实。" in page and "已核实" in page
    assert "特别困难" in page and "身份来源：外省特困供养（已核实）（外省认定（本人申报、学校核实））" in page
    assert "外省认定（本人申报、学校核实）" in page.split("认定所用事实及来源")[1]  # the fact's source
    assert 'name="decl' not in page  # nothing left to verify
    assert "核实外省身份申报" in page  # the history


def test_not_verifying_needs_a_reason_and_counts_for_nothing(
    as_user: Callable[[str], FlaskClient], world: w.World
) -> None:
    officer = as_user("officer1")
    application_id = created(officer, "S1-005", **DECLARATION)
    decide(officer, application_id, "rejected")
    page = text(officer.get(f"/applications/{application_id}"))
    assert "不予核实须填写理由" in page and "待核实" in page
    decide(officer, application_id, "rejected", note="证明编号查无此证")
    page = text(officer.get(f"/applications/{application_id}"))
    assert "证明编号查无此证" in page and "不予核实" in page
    assert "特别困难" not in page.split('id="declarations"')[0]


def test_a_jiangsu_province_is_refused_next_to_the_field(
    as_user: Callable[[str], FlaskClient], world: w.World
) -> None:
    response = apply(
        as_user("officer1"),
        "S1-005",
        **{**DECLARED, "commitment": "y", **DECLARATION, "oop_province": "320100"},
    )
    assert response.status_code == 422  # type: ignore[attr-defined]
    html = text(response)
    assert re.search(
        r'id="oop_province"[^>]*aria-invalid="true"|aria-invalid="true"[^>]*id="oop_province"', html
    )
    assert "须为江苏以外的省份" in html


def test_readers_see_declarations_without_buttons(
    as_user: Callable[[str], FlaskClient], world: w.World
) -> None:
    application_id = created(as_user("officer1"), "S1-005", **DECLARATION)
    page = text(as_user("county1").get(f"/applications/{application_id}"))
    assert "外省特困供养" in page and 'name="decl' not in page
