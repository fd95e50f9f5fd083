"""/audit: the auditor walks the trail (filters narrow it, Beijing times, hashes), sees the chain's state and starts
a verification job; replays a decision from the application page (一致, or the differences once the recorded
result is tampered with). Other roles get 403."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select, update

from aidservice.extensions import db
from aidservice.models import Decision, Job
from aidservice.models.audit import AuditEvent
from tests.web.conftest import Clock, csrf, csrf_from
from tests.web.test_applications import act, created, text
from tests.web.test_no_raw_codes import ACTOR_ID, visible_text
from tests.world import web as w
from tests.world.vocabulary import shipped_rules

pytestmark = pytest.mark.databases


def rows(html: str) -> list[str]:
    table = re.search(r'<table class="audit">.*?</table>', html, re.S)
    return re.findall(r"<tr>.*?</tr>", table.group(0), re.S)[1:] if table else []


def approved(client: FlaskClient, clock: Clock) -> int:
    application_id = created(client)
    for action in ("review", "publish_notice"):
        assert act(client, application_id, action).status_code == 302
    clock.today = w.AFTER_NOTICE
    assert act(client, application_id, "approve", note="公示无异议").status_code == 302
    return application_id


def test_filters_narrow_the_trail_shown_in_beijing_time_with_hashes(
    as_user: Callable[[str], FlaskClient], world: w.World
) -> None:
    created(as_user("officer1"))
    client = as_user("auditor1")
    everything = text(client.get("/audit"))
    assert "审计链状态" in everything and "立即校验" in everything and "尚未校验。" in everything
    assert len(rows(everything)) > 1
    page = client.get("/audit?subject=student:S1-001")
    html = text(page)
    found = rows(html)
    assert page.status_code == 200 and found and all("student:S1-001" in r for r in found)
    assert len(found) < len(rows(everything))
    assert rows(text(client.get("/audit?subject=S1-001"))) == found  # a bare key under any kind
    event = (
        db.session.execute(
            select(AuditEvent).where(AuditEvent.subject == "student:S1-001").order_by(AuditEvent.seq.desc())
        )
        .scalars()
        .first()
    )
    assert f'title="{event.hash}">{event.hash[:12]}</code>' in found[0]
    assert re.search(r"\d{4}年\d{1,2}月\d{1,2}日 \d\d:\d\d", found[0])
    assert "officer1（学校资助专员）" in found[0]
    by_actor = rows(text(client.get("/audit?actor=officer1&action=application.submit")))
    assert by_actor and all("officer1" in r and "申请：提交申请" in r for r in by_actor)
    assert rows(text(client.get("/audit?since=2000-01-01&until=2000-01-02"))) == []
    bad = client.get("/audit?since=yesterday")
    assert bad.status_code == 422 and "请输入日期" in text(bad)
    assert client.get("/audit?subject=" + "x" * 161).status_code == 422


def test_beijing_time_is_eight_hours_ahead_of_the_stored_moment(
    as_user: Callable[[str], FlaskClient], world: w.World
) -> None:
    client = as_user("auditor1")
    last = db.session.execute(select(AuditEvent).order_by(AuditEvent.seq.desc()).limit(1)).scalar_one()
    stored = datetime(2020, 9, 7, 1, 0, tzinfo=UTC)
    db.session.execute(update(AuditEvent).where(AuditEvent.id == last.id).values(occurred_at=stored))
    db.session.commit()
    html = text(client.get(f"/audit?subject={last.subject}"))
    assert "2020年9月7日 09:00" in html


@pytest.mark.parametrize("username", ["officer1", "county1", "city1"])
def test_other_roles_get_403(as_user: Callable[[str], FlaskClient], world: w.World, username: str) -> None:
    client = as_user(username)
    assert client.get("/audit").status_code == 403
    assert 'href="/audit"' not in text(client.get("/"))


def test_the_province_administrator_reads_the_trail_like_the_api_allows(
    as_user: Callable[[str], FlaskClient], world: w.World
) -> None:
    client = as_user("province1")
    assert client.get("/audit").status_code == 200
    assert 'href="/audit"' in text(client.get("/"))


def test_verify_now_starts_a_job_and_the_chain_state_shows_its_outcome(
    as_user: Callable[[str], FlaskClient], world: w.World
) -> None:
    client = as_user("auditor1")
    token = csrf(client, "/audit")
    response = client.post("/audit/verify", data={"csrf_token": token})
    assert response.status_code == 302
    job_id = int(re.search(r"job=(\d+)", response.headers["Location"]).group(1))
    job = db.session.get(Job, job_id)
    assert job is not None and job.kind == "audit.verify"
    html = text(client.get(response.headers["Location"]))
    assert f'href="/jobs/{job_id}"' in html
    job_page = client.get(f"/jobs/{job_id}")
    assert job_page.status_code == 200 and "审计链校验" in text(job_page)
    if job.state == "done":  # the tests' runner is inline: the outcome is recorded already
        assert "完整（已校验" in html
    assert client.post("/audit/verify", data={"csrf_token": token}).status_code == 302
    officer = as_user("officer1")
    assert officer.post("/audit/verify", data={"csrf_token": csrf(officer)}).status_code == 403


def test_replay_shows_identical_then_the_differences_after_tampering(
    as_user: Callable[[str], FlaskClient], world: w.World, clock: Clock
) -> None:
    application_id = approved(as_user("officer1"), clock)
    client = as_user("auditor1")
    page = text(client.get(f"/applications/{application_id}"))
    decision_id = int(re.search(r'action="/decisions/(\d+)/replay"', page).group(1))
    token = csrf_from(page)
    same = client.post(f"/decisions/{decision_id}/replay", data={"csrf_token": token})
    assert same.status_code == 200 and "一致：" in text(same) and "与记录一致" in text(same)

    decision = db.session.get(Decision, decision_id)
    db.session.execute(
        update(Decision)
        .where(Decision.id == decision_id)
        .values(amount_fen=(decision.amount_fen or 0) + 10000)
    )
    db.session.commit()
    changed = text(client.post(f"/decisions/{decision_id}/replay", data={"csrf_token": token}))
    assert "不一致：以下字段与记录不同。" in changed
    difference = re.search(r'<table class="replay-differences">.*?</table>', changed, re.S).group(0)
    assert "金额" in difference and "¥" in difference and "amount" not in difference
    assert "与记录不符（记录已被改动）" in changed
    trail = rows(text(client.get(f"/audit?subject=decision:{decision_id}")))
    assert len(trail) == 2 and all("重放资助决定" in r for r in trail)

    officer = as_user("officer1")
    assert 'action="/decisions/' not in text(officer.get(f"/applications/{application_id}"))
    assert officer.post(f"/decisions/{decision_id}/replay", data={"csrf_token": token}).status_code in (
        400,
        403,
    )


def test_a_verification_of_a_tampered_chain_shows_where_it_broke(
    as_user: Callable[[str], FlaskClient], world: w.World
) -> None:
    first = db.session.execute(select(AuditEvent).order_by(AuditEvent.seq).limit(1)).scalar_one()
    db.session.execute(update(AuditEvent).where(AuditEvent.id == first.id).values(action="tampered"))
    db.session.commit()
    client = as_user("auditor1")
    response = client.post("/audit/verify", data={"csrf_token": csrf(client, "/audit")})
    job = db.session.get(Job, int(re.search(r"job=(\d+)", response.headers["Location"]).group(1)))
    assert job is not None and job.state == "done" and job.result["intact"] is False
    html = text(client.get("/audit"))
    assert f"已损坏：第 {first.seq} 条（内容与哈希不符（已被修改））" in html
    assert f"已损坏：第 {first.seq} 条" in text(client.get(f"/jobs/{job.id}"))


def test_an_event_shows_what_it_recorded_and_links_its_subject_and_application(
    as_user: Callable[[str], FlaskClient], world: w.World, clock: Clock
) -> None:
    application_id = approved(as_user("officer1"), clock)
    county = as_user("county1")
    page = county.get("/quotas?stage=junior").get_data(as_text=True)
    data = {
        "csrf_token": csrf_from(page),
        "school_code": w.S1,
        "program": "compulsory_living_subsidy",
        "school_year": w.YEAR,
        "places": "4",
        "reason": "按指导比例追加",
    }
    assert county.post("/quotas/places", data=data).status_code == 303
    auditor = as_user("auditor1")
    quota = rows(auditor.get(f"/audit?subject=school:{w.S1}&action=quota.set").get_data(as_text=True))
    assert len(quota) == 1 and "名额 — → 4；理由：按指导比例追加" in quota[0]
    assert f'href="/students?school={w.S1}"' in quota[0]
    approve = rows(auditor.get("/audit?action=application.approve").get_data(as_text=True))
    assert len(approve) == 1 and "公示中 → 已批准" in approve[0]
    assert f'href="/applications/{application_id}"' in approve[0] and 'href="/students/S1-001"' in approve[0]


def test_actors_are_named_people_and_agencies_never_ids(
    as_user: Callable[[str], FlaskClient], world: w.World
) -> None:
    created(as_user("officer1"))
    html = as_user("auditor1").get("/audit?action=feed.batch").get_data(as_text=True)
    found = rows(html)
    labels = {s.label for s in shipped_rules().vocabulary.agencies}
    assert found and all(any(label in r for label in labels) for r in found), found[:2]
    everything = rows(as_user("auditor1").get("/audit").get_data(as_text=True))
    actors = [re.findall(r"<td>(.*?)</td>", r, re.S)[1] for r in everything]
    assert actors and not ACTOR_ID.findall(visible_text(" ".join(actors))), actors
    assert "auditor1（审计人员）" in actors or "officer1（学校资助专员）" in actors
