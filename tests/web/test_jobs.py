"""Background jobs in the web UI: the import page starts one, the jobs pages show progress, the status JSON the
polling script reads, scope, and the script itself served as a static file under the CSP."""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from typing import Any

import openpyxl
from flask.testing import FlaskClient

from tests.web.conftest import csrf
from tests.world import web as w
from tests.world.factories import id_number

HEADER = (
    "student_id,id_number,name,class_name,stage,grade,guardian1_id_number,guardian1_name,guardian1_relation"
)


def roster_file(*rows: str) -> io.BytesIO:
    return io.BytesIO(("\n".join([HEADER, *rows]) + "\n").encode("utf-8"))


def row(student_id: str, seed: int, grade: str = "1") -> str:
    return f"{student_id},{id_number(seed, county='320102')},新生,初一(3)班,junior,{grade},{w.adult(seed + 100)},父亲,father"


def background_import(client: FlaskClient, content: io.BytesIO) -> str:
    """Start a background import through the form; the job's page URL."""
    response = client.post(
        "/students/import",
        data={
            "csrf_token": csrf(client, "/students/import"),
            "file": (content, "roster.csv"),
            "background": "y",
        },
        content_type="multipart/form-data",
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    assert re.fullmatch(r"/jobs/\d+", response.headers["Location"])
    return response.headers["Location"]


def test_the_import_page_offers_a_background_import_which_shows_its_result(
    as_user: Callable[[str], FlaskClient], world: w.World
) -> None:
    client = as_user("officer1")
    assert "在后台导入" in client.get("/students/import").get_data(as_text=True)
    url = background_import(client, roster_file(row("S1-301", 731), row("S1-302", 732)))
    page = client.get(url).get_data(as_text=True)
    assert "名册导入" in page and "已完成" in page and "导入完成：新增 2 人" in page
    assert 'data-job-status="' + url + '/status"' in page
    assert '<script src="/static/jobs.js" defer></script>' in page
    listed = client.get("/jobs").get_data(as_text=True)
    assert url in listed and "后台任务" in listed


def test_a_failed_background_import_lists_the_bad_rows(
    as_user: Callable[[str], FlaskClient], world: w.World
) -> None:
    client = as_user("officer1")
    url = background_import(client, roster_file(row("S1-303", 733, grade="x")))
    page = client.get(url).get_data(as_text=True)
    assert "失败" in page and "rows.2.grade" in page and "未导入任何数据" in page


def test_a_failed_background_import_gives_its_error_sheet_for_the_same_file_chosen_again(
    as_user: Callable[[str], FlaskClient], world: w.World
) -> None:
    client = as_user("officer1")
    content = roster_file(row("S1-306", 736), row("S1-307", 737, grade="x")).getvalue()
    url = background_import(client, io.BytesIO(content))
    assert "下载错误说明表" in client.get(url).get_data(as_text=True)

    def post(data: bytes) -> Any:
        return client.post(
            url + "/import-errors",
            data={"csrf_token": csrf(client, url), "file": (io.BytesIO(data), "roster.csv")},
            content_type="multipart/form-data",
        )

    assert post(content + b"\n").status_code == 302  # another file: not this job's
    sheet = post(content)
    assert sheet.status_code == 200 and sheet.mimetype.endswith("spreadsheetml.sheet")
    table = [[c.value for c in r] for r in openpyxl.load_workbook(io.BytesIO(sheet.data)).active.iter_rows()]
    assert table[0][:2] == ["错误说明", "student_id"] and [r[1] for r in table[1:]] == ["S1-306", "S1-307"]
    assert table[1][0] is None and "年级" in table[2][0]


def test_the_status_json_feeds_the_progress_bar(
    as_user: Callable[[str], FlaskClient], world: w.World
) -> None:
    client = as_user("officer1")
    url = background_import(client, roster_file(row("S1-304", 734)))
    status = client.get(url + "/status")
    assert status.status_code == 200 and status.mimetype == "application/json"
    assert status.json == {
        "id": int(url.rsplit("/", 1)[1]),
        "state": "done",
        "state_label": "已完成",
        "done": 1,
        "total": 1,
        "percent": 100,
        "progress_text": "1 / 1",
        "finished": True,
    }
    english = as_user("officer1")
    english.get("/?lang=en")
    assert english.get(url + "/status").json["state_label"] == "Done"


def test_another_schools_officer_sees_neither_the_job_nor_its_status(
    as_user: Callable[[str], FlaskClient], world: w.World
) -> None:
    url = background_import(as_user("officer1"), roster_file(row("S1-305", 735)))
    other = as_user("officer2")
    assert other.get(url).status_code == 404
    assert other.get(url + "/status").status_code == 404
    assert url not in other.get("/jobs").get_data(as_text=True)
    assert as_user("county1").get(url).status_code == 200


def test_the_polling_script_is_a_static_file_the_csp_allows(
    as_user: Callable[[str], FlaskClient], world: w.World
) -> None:
    client = as_user("officer1")
    page = client.get("/jobs")
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]
    script = client.get("/static/jobs.js")
    assert script.status_code == 200 and "data-job-status" in script.get_data(as_text=True)


def test_signed_out_visitors_are_sent_to_the_login(app, world: w.World) -> None:  # type: ignore[no-untyped-def]
    response = app.test_client().get("/jobs")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
