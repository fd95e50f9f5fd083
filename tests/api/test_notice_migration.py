"""Migration notices_0001: every existing notice gets its revision 1 from its current entries; down and up again."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from flask_migrate import downgrade, upgrade

from aidservice.extensions import db
from aidservice.models import NoticeRevision
from aidservice.services.accounts.auth import resolve_token
from aidservice.services.applications import actions, submission
from aidservice.services.applications.values import ActionRequest
from tests.world.applications import SUBMITTED, body, service_settings
from tests.world.factories import make_school, make_student, make_user
from tests.world.feeds import committed_app, scratch_database

pytestmark = pytest.mark.databases


@pytest.fixture
def migrated_database(db_url: str, tmp_path: Any) -> Iterator[str]:
    yield from scratch_database(db_url, tmp_path)


def test_migration_notices_0001_backfills_revision_one_and_goes_back(migrated_database: str) -> None:
    application = committed_app(migrated_database)
    with application.app_context():
        session = db.session
        school = make_school(session, "M1", "320102", stages=("junior",), name="迁移测试学校")
        for n, name in ((1, "王小明"), (2, "李小红"), (3, "张小刚")):
            make_student(session, f"M1-{n}", school, seed=700 + n, stage="junior", grade=2, name=name)
        token = make_user(session, "school_officer", school_code="M1")[1]
        session.commit()
        actor = resolve_token(session, token)
        settings = service_settings(application, SUBMITTED)
        for n in (1, 2, 3):
            made = submission.create_application(
                session, actor=actor, settings=settings, payload=body(f"M1-{n}")
            )
            steps = ["review", "publish_notice"] if n < 3 else ["review"]  # the third is never published
            for step in steps:
                made = actions.act(
                    session,
                    actor=actor,
                    settings=settings,
                    application_id=made.id,
                    request=ActionRequest(action=step, version=made.version),
                )
        session.commit()
        session.close()

        downgrade(revision="lists_0001")
        with db.engine.connect() as conn:
            assert "notice_revisions" not in sa.inspect(conn).get_table_names()
            notice_id, opened_on = conn.execute(sa.text("SELECT id, opened_on FROM notices")).one()
        upgrade()
        (revision,) = db.session.execute(sa.select(NoticeRevision)).scalars()
        assert (revision.notice_id, revision.number, revision.reason) == (notice_id, 1, "initial")
        assert str(revision.revised_on) == str(opened_on)[:10]
        assert sorted(e["name"] for e in revision.entries) == ["李小红", "王小明"]
        assert {tuple(sorted(e)) for e in revision.entries} == {
            ("application_id", "class_name", "level", "name")
        }
        assert revision.changes == []
        db.session.close()
        db.engine.dispose()
