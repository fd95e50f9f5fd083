"""Each administrators' and auditor's page is in the navigation of exactly the roles that may open it, and the
操作指南 walks the administrators' and the auditor's steps with links to those pages (issue 20 part 3)."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from flask.testing import FlaskClient

from tests.web.conftest import csrf
from tests.world import web as w

pytestmark = pytest.mark.databases

ADMIN_PAGES = {"/quotas": "名额", "/whatif": "规则模拟", "/audit": "审计", "/jobs": "后台任务"}


def nav_links(html: str) -> set[str]:
    nav = re.search(r'<nav class="nav"[^>]*>(.*?)</nav>', html, re.S)
    assert nav, "no navigation"
    return set(re.findall(r'href="([^"?]+)"', nav.group(1)))


@pytest.mark.parametrize("username", sorted(w.USERS))
def test_the_navigation_links_an_admin_page_exactly_when_the_role_may_open_it(
    as_user: Callable[[str], FlaskClient], username: str
) -> None:
    client = as_user(username)
    links = nav_links(client.get("/").get_data(as_text=True))
    for path, label in ADMIN_PAGES.items():
        status = client.get(path).status_code
        assert status in (200, 403), (path, status)
        assert (path in links) == (status == 200), (username, w.ROLES_OF[username], path, label, status)


def test_the_guide_walks_the_administrators_and_the_auditors_steps(
    as_user: Callable[[str], FlaskClient],
) -> None:
    html = as_user("county1").get("/help").get_data(as_text=True)
    admin = html[html.index('id="help-admin"') : html.index('id="help-auditor"')]
    for words, link in (
        ("名额", "/quotas"),
        ("点击地区名称逐级查看", "/"),
        ("按地区和学校筛选", "/applications"),
        ("重新认定本地区学生", "/"),
        ("规则模拟", "/whatif"),
    ):
        assert words in admin and f'href="{link}"' in admin, words
    auditor = html[html.index('id="help-auditor"') :]
    for words in ("序号和哈希", "立即校验", "重放"):
        assert words in auditor and 'href="/audit"' in auditor, words


@pytest.mark.parametrize(
    ("username", "scope"), [("county1", "玄武区"), ("city2", "无锡市"), ("officer1", "南京市玄武区第一中学")]
)
def test_the_header_names_the_users_region_or_school(
    client: FlaskClient, world: w.World, username: str, scope: str
) -> None:
    data = {"csrf_token": csrf(client, "/login"), "username": username, "password": w.PASSWORD}
    assert client.post("/login", data=data).status_code == 302
    html = client.get("/").get_data(as_text=True)
    role = re.search(r'<span class="role">([^<]*)</span>', html)
    assert role is not None and role.group(1).endswith(f" · {scope}"), role and role.group(1)
