"""The import written chunk by chunk (issue 15, item 3: memory) stays all-or-nothing and audited as one.

The chunk sizes are made small (5 rows to check and write, a re-determination over 10 students in columnar
chunks of 4), so a dozen rows take every path a 50,000-row file takes: a database error in the last
chunk's writes, or a bad row in the last chunk, leaves nothing written, and a retry writes every row once;
the import's audit event and the re-determination's are one each, with the same summary as one batch.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from aidservice.extensions import db
from aidservice.models import AuditEvent, Determination, Guardian, Student
from aidservice.services import audit
from aidservice.services.actors import Actor
from aidservice.services.determinations import chunks
from aidservice.services.determinations import students as determinations
from aidservice.services.determinations.chunks import redetermine_set
from aidservice.services.roster import roster_import, roster_upsert
from aidservice.services.roster.roster_common import audit_view
from aidservice.services.roster.roster_schema import BOOL_FIELDS
from aidservice.services.roster.roster_upsert import _execute, check_rows
from tests.timing_support import SLOW_FILE, work_clock
from tests.world.factories import VAULT, bearer, id_number, make_school, make_user
from tests.world.feeds import committed_app, scratch_database, settings_for

pytestmark = pytest.mark.databases
HEADER = (
    "student_id,id_number,name,class_name,stage,grade,boarding,rural_hukou,"
    "guardian1_id_number,guardian1_name,guardian1_relation"
)
ROWS = 12  # three chunks of 5, 5 and 2 rows
GUARDIAN_BORN = date(1980, 1, 1)


@pytest.fixture
def committed(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Flask]:
    """An app that really commits, each request in its own app context as when served: a failed request's
    transaction is rolled back when its context ends (pytest-flask's one context for an `app` fixture would keep
    it open: so not named `app`)."""
    monkeypatch.setattr(roster_upsert, "CHUNK", 5)
    monkeypatch.setattr(roster_import, "CHUNK", 5)
    monkeypatch.setattr(determinations, "VECTOR_MIN", 2)
    monkeypatch.setattr(determinations, "VECTOR_MAX", 10)
    monkeypatch.setattr(determinations, "VECTOR_CHUNK", 4)
    for url in scratch_database(db_url, tmp_path):
        application = committed_app(url)
        yield application
        with application.app_context():
            db.engine.dispose()


@pytest.fixture
def http(committed: Flask) -> FlaskClient:
    return committed.test_client()


@pytest.fixture
def officer(committed: Flask) -> dict[str, str]:
    with committed.app_context():
        make_school(db.session, "S1", "320102", stages=("primary", "junior"))
        token = make_user(db.session, "school_officer", school_code="S1")[1]
        db.session.commit()
    return bearer(token)


def row(i: int, **cells: str) -> str:
    values = {
        "student_id": f"K{i:03d}",
        "id_number": id_number(700 + i),
        "name": "学生某",
        "class_name": "一班",
        "stage": "junior",
        "grade": "1",
        "boarding": "否",
        "rural_hukou": "是" if i % 2 else "否",
        "guardian1_id_number": id_number(9700 + i, born=GUARDIAN_BORN),
        "guardian1_name": "父亲某",
        "guardian1_relation": "father",
    } | cells
    return ",".join(values[c] for c in HEADER.split(","))


def roster_csv(order: list[int], **late: str) -> bytes:
    """Rows in `order`; `late` changes cells of the last row."""
    lines = [row(i, **(late if n == len(order) - 1 else {})) for n, i in enumerate(order)]
    return "\r\n".join([HEADER, *lines]).encode("utf-8") + b"\r\n"


def upload(client: FlaskClient, headers: dict[str, str], content: bytes) -> tuple[Any, float]:
    started = work_clock()
    response = client.post(
        "/api/v1/students/import",
        data={"file": (io.BytesIO(content), "r.csv")},
        headers=headers,
        content_type="multipart/form-data",
    )
    return response, work_clock() - started


def stored(app: Flask) -> tuple[int, int, int, int]:
    """Students, guardians, determinations, and the audit events of imports and re-determinations."""
    count = sa.select(sa.func.count())
    with app.app_context():
        return (
            db.session.execute(count.select_from(Student)).scalar_one(),
            db.session.execute(count.select_from(Guardian)).scalar_one(),
            db.session.execute(count.select_from(Determination)).scalar_one(),
            db.session.execute(
                count.select_from(AuditEvent).where(
                    AuditEvent.action.in_(["student.import", "determinations.stored"])
                )
            ).scalar_one(),
        )


def test_a_database_error_in_the_last_chunk_writes_nothing_and_a_retry_writes_every_row_once(
    committed: Flask,
    http: FlaskClient,
    officer: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[int] = []

    def failing_last(session: Any, plan: Any) -> list[int]:
        calls.append(len(plan.new_students))
        if len(calls) == 3:  # the last chunk: a student id the first chunk wrote, so the database refuses
            session.execute(sa.insert(Student), [{**plan.new_students[0], "student_id": "K000"}])
        return _execute(session, plan)

    monkeypatch.setattr(roster_upsert, "_execute", failing_last)
    content = roster_csv(list(range(ROWS)))
    response, elapsed = upload(http, officer, content)
    assert response.status_code == 409, response.json
    assert response.mimetype == "application/problem+json"
    assert calls == [5, 5, 2]  # two chunks were written before the third failed
    assert elapsed < SLOW_FILE
    assert stored(committed) == (0, 0, 0, 0)

    monkeypatch.setattr(roster_upsert, "_execute", _execute)
    response, _elapsed = upload(http, officer, content)
    assert response.status_code == 200, response.json
    assert response.json == {"created": ROWS, "updated": 0, "unchanged": 0, "rejected": []}
    assert stored(committed) == (ROWS, ROWS, ROWS, 2)
    with committed.app_context():
        ids = db.session.execute(sa.select(Student.student_id)).scalars().all()
    assert sorted(ids) == [f"K{i:03d}" for i in range(ROWS)]


def test_a_bad_row_in_the_last_chunk_writes_nothing(
    committed: Flask, http: FlaskClient, officer: dict[str, str]
) -> None:
    response, elapsed = upload(http, officer, roster_csv(list(range(ROWS)), grade="99"))
    assert response.status_code == 422, response.json
    assert list(response.json["errors"]) == [f"rows.{ROWS + 1}.grade"], response.json
    assert elapsed < SLOW_FILE
    assert stored(committed) == (0, 0, 0, 0)


@pytest.mark.parametrize(
    "order",
    [[7, 3, 11, 0, 9, 1, 5, 10, 2, 8, 6, 4], list(range(ROWS))],
    ids=["ids-across-chunks", "sorted-file"],
)
def test_a_chunked_import_is_one_audit_event_with_the_digest_of_every_row_in_student_id_order(
    http: FlaskClient,
    officer: dict[str, str],
    committed: Flask,
    order: list[int],
) -> None:
    content = roster_csv(order)
    response, _elapsed = upload(http, officer, content)
    assert response.status_code == 200, response.json
    with committed.app_context():
        [event] = db.session.execute(
            sa.select(AuditEvent).where(AuditEvent.action == "student.import")
        ).scalars()
    expected = hashlib.sha256()
    for i in sorted(order):
        data = {
            "student_id": f"K{i:03d}",
            "id_number": id_number(700 + i),
            "name": "学生某",
            "school_code": "S1",
            "class_name": "一班",
            "stage": "junior",
            "grade": 1,
            "boarding": False,
            "rural_hukou": bool(i % 2),
            "agri_major": False,
            "arts_performance_major": False,
            "retired_soldier": False,
            "salaried": False,
            "east_west_cooperation": False,
            "east_west_origin": None,
            "enrolment_state": "enrolled",
            "enrolment_date": None,
        }
        guardians = [
            {"id_number": id_number(9700 + i, born=GUARDIAN_BORN), "name": "父亲某", "relation": "father"}
        ]
        line = audit.canonical(["created", data["student_id"], audit_view(data, guardians)])
        expected.update(line.encode("utf-8") + b"\n")
    assert event.summary["digest"] == expected.hexdigest()
    assert event.summary["students"] == {"created": [f"K{i:03d}" for i in range(ROWS)], "updated": []}
    assert (event.summary["created"], event.summary["file"]["rows"]) == (ROWS, ROWS)


def test_a_set_over_vector_max_is_re_determined_in_columnar_chunks_as_the_per_record_path_would(
    http: FlaskClient,
    officer: dict[str, str],
    committed: Flask,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sizes: list[int] = []

    def spy(session: Any, **kwargs: Any) -> Any:
        sizes.append(len(kwargs["student_pks"]))
        return redetermine_set(session, **kwargs)

    monkeypatch.setattr(chunks, "redetermine_set", spy)
    response, _elapsed = upload(http, officer, roster_csv(list(range(ROWS))))
    assert response.status_code == 200, response.json
    assert sizes == [4, 4, 4]  # columnar, in chunks
    with committed.app_context():
        [event] = db.session.execute(
            sa.select(AuditEvent).where(AuditEvent.action == "determinations.stored")
        ).scalars()
        seqs = db.session.execute(sa.select(Determination.seq).order_by(Determination.seq)).scalars().all()
    assert (event.summary["count"], event.summary["evaluated"]) == (ROWS, ROWS)
    assert (event.summary["first_seq"], event.summary["last_seq"]) == (seqs[0], seqs[-1])
    assert len(seqs) == ROWS and seqs[-1] - seqs[0] == ROWS - 1
    monkeypatch.setattr(
        determinations, "VECTOR_MIN", 10_000
    )  # now the per-record path: it finds nothing to store
    with committed.app_context():
        pks = db.session.execute(sa.select(Student.id)).scalars().all()
        again = determinations.redetermine_students(
            db.session,
            actor=Actor.system("test"),
            settings=settings_for(committed),
            student_pks=pks,
            cause="test",
        )
        db.session.rollback()
    assert (again.evaluated, again.stored) == (ROWS, 0)


def test_a_student_created_elsewhere_between_the_checks_and_the_writes_is_a_409_not_an_update(
    committed: Flask,
    http: FlaskClient,
    officer: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Pass 2 writes against what pass 1 checked: a row checked as new stays an insert (the key is taken: 409),
    never an update of a student of a school the caller was not checked against."""
    with committed.app_context():
        make_school(db.session, "S2", "320213", stages=("primary", "junior"))
        db.session.commit()

    def meanwhile(session: Any, **kwargs: Any) -> Any:
        checked = check_rows(session, **kwargs)
        session.execute(
            sa.insert(Student),
            [
                {
                    "student_id": "K011",
                    **VAULT.seal("student", id_number(999)),
                    "name": "别校生",
                    "school_code": "S2",
                    "class_name": "",
                    "stage": "junior",
                    "grade": 1,
                    **dict.fromkeys(BOOL_FIELDS, False),
                }
            ],
        )
        return checked

    monkeypatch.setattr(roster_import, "check_rows", meanwhile)
    response, _elapsed = upload(http, officer, roster_csv(list(range(ROWS))))
    assert response.status_code == 409, response.json
    assert stored(committed) == (0, 0, 0, 0)
