"""/whatif: an administrator runs a draft against the running rules as a job and reads the results; officers
get neither the page nor the workbook; the rules page links to it."""

from __future__ import annotations

import io
import re
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from openpyxl import load_workbook

from tests.web.conftest import csrf_from
from tests.world import web as w

pytestmark = pytest.mark.databases


@pytest.fixture
def app_env(tmp_path: Path) -> dict[str, str]:
    return {
        "AID_WHATIF_FILE": str(tmp_path / "whatif-last.json"),
        "AID_DRAFT_RULES_DIR": str(tmp_path / "drafts"),
    }


@pytest.fixture
def draft(app: Flask, rules_copy: Path) -> str:
    """A server draft `raise-1250` where 1250 becomes 1300."""
    path = rules_copy / "parameters" / "basic_education.yaml"
    text = path.read_text(encoding="utf-8")
    assert "1250" in text
    path.write_text(text.replace("1250", "1300", 1), encoding="utf-8")
    shutil.copytree(rules_copy, Path(app.config["AID_DRAFT_RULES_DIR"]) / "raise-1250")
    return "raise-1250"


def run(client: FlaskClient, **form: str) -> tuple[int, str]:
    page = client.get("/whatif").get_data(as_text=True)
    response = client.post(
        "/whatif",
        data={"csrf_token": csrf_from(page), "as_of": "2020-09-01", **form},
        content_type="multipart/form-data",
        follow_redirects=True,
    )
    return response.status_code, response.get_data(as_text=True)


def test_an_administrator_runs_a_server_draft_and_reads_totals_by_program_and_region(
    as_user: Callable[[str], FlaskClient], world: w.World, draft: str
) -> None:
    client = as_user("city1")
    form = client.get("/whatif").get_data(as_text=True)
    assert "规则模拟" in form and f'<option value="{draft}">' in form and 'value="320100"' in form
    assert 'value="320200"' not in form  # only regions within the city
    status, page = run(client, draft=draft, region="320100")
    assert status == 200, page
    result = re.search(r'<section class="card" id="whatif-result">.*?</section>', page, re.S).group(0)
    assert "草案规则（raise-1250）" in result and "2020年9月1日" in result
    assert "按资助项目" in result and "按地区" in result and "320102 玄武区" in result
    assert not re.search(r"\d{17}[\dX]", page)  # no full ID number on the page
    link = re.search(r'href="(/whatif/\d+\.xlsx)"', result).group(1)
    download = client.get(link)
    assert download.status_code == 200
    book = load_workbook(io.BytesIO(download.data), read_only=True)
    assert book.sheetnames == ["汇总", "变化学生"]
    header = next(book["变化学生"].iter_rows(values_only=True))
    assert header[:2] == ("学号", "身份证号（脱敏）")
    assert as_user("officer1").get(link).status_code == 403
    rules = client.get("/rules").get_data(
        as_text=True
    )  # the rules page shows the last job the reader may see
    block = re.search(r'<section class="card" id="whatif">.*?</section>', rules, re.S).group(0)
    assert "草案规则（raise-1250）" in block and "资助增加" in block and "仅事实变化" not in block
    officer_rules = as_user("officer1").get("/rules").get_data(as_text=True)
    assert "尚未运行" in officer_rules  # an officer does not see an administrator's job


def test_no_draft_shows_no_change(as_user: Callable[[str], FlaskClient], world: w.World) -> None:
    status, page = run(as_user("province1"), draft="", region="320000")
    assert status == 200 and 'id="no-change"' in page and "无变化" in page


def test_a_broken_upload_lists_its_rule_issues_next_to_the_field(
    as_user: Callable[[str], FlaskClient], world: w.World, broken_rules: Path
) -> None:
    import zipfile

    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as out:
        for path in sorted(broken_rules.rglob("*.yaml")):
            out.write(path, path.relative_to(broken_rules).as_posix())
    client = as_user("county1")
    page = client.get("/whatif").get_data(as_text=True)
    response = client.post(
        "/whatif",
        data={
            "csrf_token": csrf_from(page),
            "as_of": "2020-09-01",
            "region": "320102",
            "file": (io.BytesIO(archive.getvalue()), "draft.zip"),
        },
        content_type="multipart/form-data",
    )
    assert response.status_code == 422
    assert "zz_broken.yaml:2" in response.get_data(as_text=True)


def test_officers_get_no_whatif_page_and_the_rules_page_links_it_for_administrators(
    as_user: Callable[[str], FlaskClient], world: w.World
) -> None:
    officer = as_user("officer1")
    assert officer.get("/whatif").status_code == 403
    assert "/whatif" not in officer.get("/rules").get_data(as_text=True)
    auditor = as_user("auditor1")
    page = auditor.get("/whatif").get_data(as_text=True)
    assert "最近的模拟" in page and "开始模拟" not in page  # auditors read, administrators run
    assert 'href="/whatif"' in as_user("city1").get("/rules").get_data(as_text=True)
