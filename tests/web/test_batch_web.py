"""Batch work on the applications list: rows checked or all matching, a confirmation naming how many and which
(masked ID numbers), a result page (done, refused with the reason in Chinese, stale); officers only; CSRF."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from flask.testing import FlaskClient

from tests.web.conftest import Clock, csrf
from tests.web.test_applications import created, text
from tests.world import web as w

pytestmark = pytest.mark.databases


def pick(html: str) -> dict[int, str]:
    """The list's checkboxes: application id -> its `id:version` value."""
    return {int(m.group(1)): m.group(0)[7:-1] for m in re.finditer(r'value="(\d+):\d+"', html)}


def confirm(client: FlaskClient, action: str, ids: list[str], note: str = "", **more: str) -> object:
    data: dict[str, object] = {"csrf_token": csrf(client, "/applications"), "action": action, "note": note}
    data["ids"] = ids
    data.update(more)
    return client.post("/applications/batch/confirm", data=data)


def run(client: FlaskClient, confirmed: str) -> object:
    """Press the confirmation page's button: post its hidden fields back."""
    form = re.search(r'<form method="post" action="/applications/batch".*?</form>', confirmed, re.S).group(0)
    ids = re.findall(r'name="ids" value="([^"]+)"', form)
    action = re.search(r'name="action" value="([^"]+)"', form).group(1)
    note = re.search(r'<textarea id="confirm-note" name="note"[^>]*>(.*?)</textarea>', form, re.S).group(1)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', form).group(1)
    data = {"csrf_token": token, "action": action, "note": note, "ids": ids}
    return client.post("/applications/batch", data=data)


def test_checked_rows_confirmed_then_done_refused_and_stale(
    as_user: Callable[[str], FlaskClient], world: w.World, clock: Clock
) -> None:
    client = as_user("officer1")
    ids = [created(client, s) for s in ("S1-001", "S1-002", "S1-003")]
    listed = text(client.get("/applications"))
    assert "批量评议" in listed and "批量批准" in listed and "选择全部 3 条符合筛选条件的申请" in listed
    boxes = pick(listed)
    assert set(boxes) == set(ids)

    confirmed = confirm(client, "review", [boxes[ids[0]], boxes[ids[1]]], note="班级评议通过")
    page = text(confirmed)
    assert confirmed.status_code == 200 and "将对以下 2 条申请办理“评议”。" in page
    assert "王小明" in page and "李娜" in page and "张伟" not in page
    assert world.number("S1-001") not in page and "320102***********" in page  # masked

    reviewed = text(run(client, page))
    assert "已办理 2 条" in reviewed and "未办理 0 条" in reviewed
    # the same rows again with the versions the list showed before: stale; a submitted one cannot be published
    again = text(run(client, text(confirm(client, "review", [boxes[ids[0]]]))))
    assert "已被他人更新 1 条" in again and "此申请已被他人更新，请刷新列表后重新选择" in again
    published = text(run(client, text(confirm(client, "publish_notice", [boxes[ids[2]]]))))
    assert "未办理 1 条" in published and "当前状态为“已提交”，不能办理此操作" in published


def test_all_matching_takes_the_whole_filtered_list(
    as_user: Callable[[str], FlaskClient], world: w.World, clock: Clock
) -> None:
    client = as_user("officer1")
    ids = [created(client, s) for s in ("S1-001", "S1-002", "S1-003", "S1-004")]
    confirmed = text(confirm(client, "review", [], all_matching="y", state="submitted"))
    assert "将对以下 4 条申请办理“评议”。" in confirmed
    assert "已办理 4 条" in text(run(client, confirmed))
    published = text(
        run(client, text(confirm(client, "publish_notice", [], all_matching="y", state="reviewed")))
    )
    assert "已办理 4 条" in published
    early = text(run(client, text(confirm(client, "approve", [], all_matching="y", state="notice"))))
    assert "未办理 4 条" in early and "公示期至 2020年10月16日 结束，期满后方可批准" in early
    clock.today = w.AFTER_NOTICE
    approved = text(run(client, text(confirm(client, "approve", [], all_matching="y", state="notice"))))
    assert "已办理 4 条" in approved
    assert all(f'href="/applications/{i}"' in approved for i in ids)


def test_all_matching_follows_every_filter_of_the_list_not_only_the_state(
    as_user: Callable[[str], FlaskClient], world: w.World
) -> None:
    client = as_user("officer1")
    for s in ("S1-001", "S1-002", "S1-003", "S1-004"):
        created(client, s)
    listed = text(client.get("/applications", query_string={"state": "submitted", "grade": "2"}))
    assert 'name="grade" value="2"' in listed  # the toolbar posts the screen's filter back
    confirmed = text(confirm(client, "review", [], all_matching="y", state="submitted", grade="2"))
    assert "将对以下 3 条申请办理“评议”。" in confirmed  # S1-004 is not in grade 2
    assert 'name="grade" value="2"' in confirmed
    assert "已办理 3 条" in text(run(client, confirmed))


def test_nothing_chosen_or_no_reason_goes_back_to_the_list(
    as_user: Callable[[str], FlaskClient], world: w.World, clock: Clock
) -> None:
    client = as_user("officer1")
    application_id = created(client)
    boxes = pick(text(client.get("/applications")))
    nothing = confirm(client, "review", [])
    assert nothing.status_code == 302 and "请至少选择一条申请。" in text(
        client.get(nothing.headers["Location"])
    )
    no_reason = confirm(client, "reject", [boxes[application_id]])
    assert no_reason.status_code == 302
    assert "不予认定须填写审核意见。" in text(client.get(no_reason.headers["Location"]))


def test_readers_see_no_batch_form_and_may_not_post(
    as_user: Callable[[str], FlaskClient], world: w.World, clock: Clock
) -> None:
    officer = as_user("officer1")
    application_id = created(officer)
    admin = as_user("county1")
    listed = text(admin.get("/applications"))
    assert f"#{application_id}" in listed and "批量评议" not in listed and 'name="ids"' not in listed
    token = csrf(admin)
    refused = admin.post(
        "/applications/batch", data={"csrf_token": token, "action": "review", "ids": [f"{application_id}:1"]}
    )
    assert refused.status_code == 403
    forged = officer.post("/applications/batch", data={"action": "review", "ids": [f"{application_id}:1"]})
    assert forged.status_code == 400
