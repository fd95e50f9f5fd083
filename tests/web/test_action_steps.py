"""The application page offers only the steps that can succeed: the others are disabled with the reason (approval
names the day it becomes possible); approve and reject ask for confirmation; an approved application is
reassessed from its page."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from flask.testing import FlaskClient

from tests.web.conftest import Clock
from tests.web.test_applications import act, created, text
from tests.world import web as w

pytestmark = pytest.mark.databases


def unavailable(html: str, action: str) -> str | None:
    """The reason shown beside a disabled step, or None when the step is offered."""
    found = re.search(
        rf'<div class="action action-{action} unavailable">.*?<button type="button" disabled[^>]*>.*?</button>\s*'
        rf'<p class="hint why" id="why-{action}">(.*?)</p>',
        html,
        re.S,
    )
    return found.group(1) if found else None


def test_steps_are_offered_when_they_can_succeed_and_explained_when_not(
    as_user: Callable[[str], FlaskClient], world: w.World, clock: Clock
) -> None:
    client = as_user("officer1")
    application_id = created(client)
    url = f"/applications/{application_id}"
    html = text(client.get(url))
    assert unavailable(html, "review") is None and f'action="/applications/{application_id}/review"' in html
    assert unavailable(html, "publish_notice") == "当前状态为“已提交”；此操作须在“已评议”状态下办理。"
    assert unavailable(html, "approve") == "当前状态为“已提交”；此操作须在“公示中”状态下办理。"
    assert "确认不予认定" in html  # reject asks before it is done

    assert act(client, application_id, "review").status_code == 302
    assert act(client, application_id, "publish_notice").status_code == 302
    html = text(client.get(url))
    assert unavailable(html, "approve") == "公示期至 2020年10月16日 结束，2020年10月17日 起可批准。"
    assert unavailable(html, "review") == "当前状态为“公示中”；此操作须在“已提交”状态下办理。"
    assert unavailable(html, "object") is None and f'action="/applications/{application_id}/object"' in html

    clock.today = w.AFTER_NOTICE
    html = text(client.get(url))
    assert unavailable(html, "approve") is None and "确认批准此申请？" in html and "确认批准" in html
    assert unavailable(html, "object") == "公示期已于 2020年10月16日 结束，只能在公示期内登记异议。"


def test_an_approved_application_is_reassessed_from_its_page(
    as_user: Callable[[str], FlaskClient], world: w.World, clock: Clock
) -> None:
    client = as_user("officer1")
    application_id = created(client)
    for action in ("review", "publish_notice"):
        assert act(client, application_id, action).status_code == 302
    clock.today = w.AFTER_NOTICE
    assert act(client, application_id, "approve", note="公示无异议").status_code == 302
    url = f"/applications/{application_id}"
    html = text(client.get(url))
    assert "此申请已办结。" in html and f'action="/applications/{application_id}/reassess"' in html
    assert (
        unavailable(html, "approve") is None and "action-approve" not in html
    )  # finished: no procedure steps

    missing = act(client, application_id, "reassess")
    assert missing.status_code == 422 and "请填写理由。" in text(missing)
    assert act(client, application_id, "reassess", note="新学期重新认定").status_code == 302
    html = text(client.get(url))
    assert "操作已完成：重新认定。" in html
    history = re.search(r'<table class="history">.*?</table>', html, re.S).group(0)
    assert "重新认定" in history and "新学期重新认定" in history
