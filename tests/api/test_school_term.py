"""A school's term through the API, as the issue's "done when" asks: a GBK roster with Chinese headers imported,
30 applications through review, notice and approval in three batch actions, the approved list exported, and
each student's standing the approved decision."""

from __future__ import annotations

import io
from typing import Any

import openpyxl
import pytest
from flask.testing import FlaskClient

from tests.api.test_import_formats import HEADER, row, upload
from tests.world.applications import (
    AFTER_NOTICE,
    Clock,
    World,
    clock_fixture,  # noqa: F401 - fixture "clock"
    ok,
    submit,
    world_fixture,  # noqa: F401 - fixture "world"
)

URL = "/api/v1/applications/actions"
COUNT = 30


def batch(client: FlaskClient, world: World, action: str, apps: list[dict[str, Any]]) -> list[dict[str, Any]]:
    items = [{"id": a["id"], "version": a["version"]} for a in apps]
    answer = ok(
        client.post(
            URL,
            json={"action": action, "note": "学校资助工作组审核", "items": items},
            headers=world.headers("officer"),
        )
    )
    assert [r["status"] for r in answer["results"]] == ["done"] * len(apps), answer["results"][:3]
    return [r["application"] for r in answer["results"]]


@pytest.mark.databases
def test_a_terms_work_is_an_import_three_batch_actions_and_an_export(
    client: FlaskClient, world: World, clock: Clock
) -> None:
    officer = world.headers("officer")
    rows = [row(f"T{n:02d}", 8100 + n, 学段="初中", 寄宿生="是") for n in range(COUNT)]
    imported = upload(client, officer, "\r\n".join([HEADER, *rows]).encode("gbk") + b"\r\n")
    assert imported.status_code == 200 and imported.json["created"] == COUNT, imported.json

    apps = [ok(submit(client, world, f"T{n:02d}"), 201) for n in range(COUNT)]
    apps = batch(client, world, "review", apps)
    apps = batch(client, world, "publish_notice", apps)
    clock.today = AFTER_NOTICE
    apps = batch(client, world, "approve", apps)
    assert {a["state"] for a in apps} == {"approved"}

    listed = client.get(
        "/api/v1/applications", query_string={"state": "approved", "format": "xlsx"}, headers=officer
    )
    assert listed.status_code == 200, listed.get_data(as_text=True)[:300]
    sheet = openpyxl.load_workbook(io.BytesIO(listed.data)).active
    values = list(sheet.iter_rows(values_only=True))
    assert values[0][:3] == ("申请编号", "学号", "姓名")
    assert sorted(v[1] for v in values[1:]) == [f"T{n:02d}" for n in range(COUNT)]

    student = ok(client.get("/api/v1/students/T07", headers=officer))
    standing = student["standing"]
    assert standing["source"] == "decision" and standing["level"] == apps[7]["level"]
    assert standing["level"] != "not_difficult" and float(standing["funded_total"]) > 0
