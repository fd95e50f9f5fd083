"""The audit trail is hash-chained: any edit or removal is found by `aid audit verify`."""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import delete, update

from aidservice.extensions import db
from aidservice.models import AuditEvent, Region, School, User
from aidservice.services import audit
from aidservice.services.accounts.auth import hash_password, issue_user_token
from aidservice.services.actors import Actor

pytestmark = pytest.mark.databases

OFFICER = Actor("user", "officer_a", 1, "school_officer", school_code="S-A")


def _events(n: int) -> list[AuditEvent]:
    """n events, committed: the chain appends queued events at commit."""
    events = [
        audit.record(
            db.session,
            actor=OFFICER,
            action="student.update",
            subject=f"student:S{i}",
            summary={"after": {"grade": i}},
            request_id=f"r{i}",
        )
        for i in range(n)
    ]
    db.session.commit()
    return events


def _verify(app: Flask) -> tuple[int, str]:
    result = app.test_cli_runner().invoke(args=["aid", "audit", "verify"])
    return result.exit_code, result.output


def test_intact_chain_verifies(app: Flask) -> None:
    events = _events(3)
    assert [e.seq for e in events] == [1, 2, 3]
    assert events[1].prev_hash == events[0].hash
    assert _verify(app) == (0, "audit chain intact: 3 event(s) verified\n")


def test_edited_event_row_breaks_the_chain_at_that_event(app: Flask) -> None:
    events = _events(4)
    db.session.execute(
        update(AuditEvent).where(AuditEvent.id == events[2].id).values(summary={"after": {"grade": 9}})
    )
    db.session.expire_all()
    code, output = _verify(app)
    assert code == 1
    assert "BROKEN at event seq 3" in output and "edited" in output


def test_edited_hash_is_caught_by_the_next_link(app: Flask) -> None:
    events = _events(3)
    forged = "f" * 64
    db.session.execute(update(AuditEvent).where(AuditEvent.id == events[0].id).values(hash=forged))
    db.session.expire_all()
    code, output = _verify(app)
    assert code == 1 and "seq 1" in output


def test_removed_middle_event_is_a_gap(app: Flask) -> None:
    events = _events(3)
    db.session.execute(delete(AuditEvent).where(AuditEvent.id == events[1].id))
    db.session.expire_all()
    code, output = _verify(app)
    assert code == 1 and "sequence gap" in output


def test_removed_last_event_is_caught_by_the_chain_head(app: Flask) -> None:
    events = _events(3)
    db.session.execute(delete(AuditEvent).where(AuditEvent.id == events[2].id))
    db.session.expire_all()
    code, output = _verify(app)
    assert code == 1 and "events removed" in output


def test_summary_is_stored_canonically_so_the_hash_is_stable(app: Flask) -> None:
    event = audit.record(
        db.session, actor=Actor.system(), action="x", subject="s:1", summary={"b": 1, "a": [1, 2]}
    )
    db.session.commit()
    db.session.expire_all()
    reread = db.session.get(AuditEvent, event.id)
    assert audit.event_hash(reread) == event.hash


def _user(role: str, **scope: str) -> str:
    db.session.merge(Region(code="320000", name="江苏省", level="province", parent_code=None))
    db.session.merge(Region(code="320100", name="南京市", level="city", parent_code="320000"))
    db.session.flush()
    db.session.merge(
        School(
            code="S-A",
            name="甲校",
            region_code="320100",
            city_code="320100",
            stages=["junior"],
            kind="public",
        )
    )
    db.session.flush()
    user = User(
        username=f"{role}_{len(scope)}", password_hash=hash_password("long enough pw"), role=role, **scope
    )
    db.session.add(user)
    db.session.flush()
    token, _ = issue_user_token(db.session, user)
    return token


@pytest.mark.parametrize(
    ("role", "scope", "subject", "status"),
    [
        ("auditor", {}, "student:S1", 200),
        ("province_admin", {"region_code": "320000"}, "batch:civil_affairs/B1", 200),
        ("school_officer", {"school_code": "S-A"}, "school:S-A", 200),
        ("school_officer", {"school_code": "S-A"}, "batch:civil_affairs/B1", 403),
        ("city_admin", {"region_code": "320100"}, "school:S-A", 200),
    ],
)
def test_audit_events_are_readable_only_within_scope(
    client: FlaskClient, role: str, scope: dict, subject: str, status: int
) -> None:
    token = _user(role, **scope)
    audit.record(db.session, actor=OFFICER, action="note", subject=subject, summary={})
    response = client.get(
        "/api/v1/audit", query_string={"subject": subject}, headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == status, response.get_json()
    if status == 200:
        items = response.get_json()["items"]
        assert [i["subject"] for i in items] == [subject]


def test_audit_needs_authentication(client: FlaskClient) -> None:
    response = client.get("/api/v1/audit", query_string={"subject": "student:S1"})
    assert response.status_code == 401
    assert response.mimetype == "application/problem+json"


def test_anonymous_caller_without_a_subject_gets_401_not_a_schema(client: FlaskClient) -> None:
    assert client.get("/api/v1/audit").status_code == 401
