"""A database dump holds no plain identity number: students, guardians, an import, agency batches (matched,
unmatched and rejected records), an application through its notice, a revealed number, a key rotation and an
archived report are loaded through the API and the commands, committed, then dumped (pg_dump on PostgreSQL,
iterdump on SQLite) and searched for every number loaded and for anything shaped like a valid one."""

from __future__ import annotations

import dataclasses
import io
import re
import sqlite3
import subprocess
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.engine import make_url

from aidservice import wiring
from aidservice.extensions import db
from aidservice.identity import InvalidIdNumber, mask, normalise_id_number
from tests.world.applications import SUBMITTED, body
from tests.world.factories import bearer, id_number, make_client, make_school, make_user
from tests.world.feeds import committed_app, person, record, scratch_database

ID_SHAPED = re.compile(r"(?<![0-9A-Za-z])\d{17}[\dXx](?![0-9A-Za-z])")
"""18 characters shaped like a resident ID, not inside a longer run of letters and digits (hex digests, bytea)."""


BLOB = re.compile(r"\\x([0-9a-fA-F]+)|X'([0-9a-fA-F]*)'")
"""Binary columns as dumps write them: pg_dump's bytea `\\x3332...`, SQLite's `X'3332...'`."""


def plain_numbers(text: str) -> set[str]:
    """Every valid resident ID number standing on its own in `text`, or in the bytes of a dumped binary column."""
    blobs = [
        bytes.fromhex(pg or lite).decode("latin-1")
        for pg, lite in BLOB.findall(text)
        if len(pg or lite) % 2 == 0
    ]
    found = set()
    for match in ID_SHAPED.findall("\n".join([text, *blobs])):
        try:
            found.add(normalise_id_number(match, today=date(2030, 1, 1)))
        except InvalidIdNumber:
            continue
    return found


def test_the_scanner_finds_a_plain_number_wherever_a_dump_could_hold_one() -> None:
    number = id_number(42)
    for text in (
        f"INSERT INTO t VALUES('{number}');",
        f"7\t{number}\t",
        f'{{"id_number": "{number}"}}',
        f"{number.lower()},x",
    ):
        assert plain_numbers(text) == {number}, text
    digest = "ab" + number + "cd" * 22
    assert plain_numbers(f"'{digest}' \\x{number}ff X'{number}00'") == set()  # inside hex, not a number
    assert plain_numbers(f"'{mask(number)}'") == set()
    as_bytes = f"id_number\n{number},x".encode().hex()  # an upload kept in a binary column
    assert plain_numbers(f"7\t\\x{as_bytes}\n") == {number}
    assert plain_numbers(f"INSERT INTO t VALUES(X'{as_bytes.upper()}');") == {number}


@pytest.fixture
def scratch_url(db_url: str, tmp_path: Path) -> Iterator[str]:
    yield from scratch_database(db_url, tmp_path)


@pytest.fixture
def pinned(monkeypatch: pytest.MonkeyPatch) -> None:
    """The services' today inside the 2020-2021 school year, for every request."""
    original = wiring.settings
    monkeypatch.setattr(wiring, "settings", lambda: dataclasses.replace(original(), today=SUBMITTED))


def ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, response.get_data(as_text=True)
    return response.json


def student_payload(seed: int, guardian_seeds: tuple[int, ...]) -> dict[str, Any]:
    return {
        "id_number": id_number(seed),
        "name": "学生",
        "school_code": "S1",
        "class_name": "一班",
        "stage": "junior",
        "grade": 2,
        "guardians": [
            {"id_number": person(g), "name": "家长", "relation": relation}
            for g, relation in zip(guardian_seeds, ("father", "mother"), strict=False)
        ],
    }


def load_everything(app: Flask, client: FlaskClient, tmp_path: Path) -> set[str]:
    """Load the province through the API and the commands (each commits); returns every number sent."""
    with app.app_context():
        make_school(db.session, "S1", "320102", stages=("primary", "junior"))
        officer = make_user(db.session, "school_officer", school_code="S1")[1]
        agency = make_client(db.session, "civil_affairs")
        db.session.commit()
    numbers: set[str] = set()
    for i in range(3):
        payload = student_payload(700 + i, (7100 + 2 * i, 7101 + 2 * i))
        ok(client.put(f"/api/v1/students/D{i}", json=payload, headers=bearer(officer)), 201)
        numbers |= {payload["id_number"], *(g["id_number"] for g in payload["guardians"])}
    rows = [(f"I{i}", id_number(800 + i), person(8100 + i)) for i in range(2)]
    csv_text = "student_id,id_number,name,stage,grade,school_code,guardian1_id_number,guardian1_name,guardian1_relation\n"
    csv_text += "".join(f"{sid},{own},导入,junior,1,S1,{g},家长,father\n" for sid, own, g in rows)
    imported = client.post(
        "/api/v1/students/import",
        data={"file": (io.BytesIO(csv_text.encode()), "roster.csv")},
        headers=bearer(officer),
    )
    assert ok(imported)["created"] == 2
    numbers |= {n for _sid, own, g in rows for n in (own, g)}
    stranger = person(9900)
    records = [
        record(person(7100), "subsistence_allowance"),
        record(id_number(701), "orphan"),
        record(stranger, "subsistence_allowance"),
        record(stranger, "subsistence_allowance"),
    ]
    answer = ok(
        client.post(
            "/api/v1/feeds/civil_affairs/batches",
            json={"batch_id": "DUMP-1", "records": records},
            headers=bearer(agency),
        )
    )
    assert answer["matched_students"] >= 2 and answer["rejected"], answer  # the duplicate is rejected
    numbers.add(stranger)
    application = ok(client.post("/api/v1/applications", json=body("D2"), headers=bearer(officer)), 201)
    for action in ("review", "publish_notice"):
        application = ok(
            client.post(
                f"/api/v1/applications/{application['id']}/actions",
                json={"action": action, "note": "核实", "version": application["version"]},
                headers=bearer(officer),
            )
        )
    assert ok(client.post("/api/v1/students/D0/id-number", headers=bearer(officer)))[
        "id_number"
    ] == id_number(700)
    runner = app.test_cli_runner()
    with app.app_context():
        assert runner.invoke(args=["aid", "keys", "rotate"]).exit_code == 0
        report = runner.invoke(
            args=[
                "aid",
                "report",
                "special-groups",
                "--period",
                "2020-2021-autumn",
                "--format",
                "csv",
                "--output",
                str(tmp_path / "special.csv"),
            ]
        )
        assert report.exit_code == 0, report.output
        db.engine.dispose()
    return numbers


def dump(url: str) -> str:
    """The whole database as SQL text: pg_dump for PostgreSQL, the sqlite3 module's iterdump for SQLite."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        with sqlite3.connect(parsed.database) as conn:  # type: ignore[arg-type]
            return "\n".join(conn.iterdump())
    libpq = parsed.set(drivername="postgresql").render_as_string(hide_password=False)
    done = subprocess.run(
        ["pg_dump", "--no-owner", libpq], capture_output=True, text=True, timeout=120, check=True
    )
    return done.stdout


@pytest.mark.databases
def test_a_database_dump_contains_no_plain_identity_number(
    scratch_url: str, pinned: None, tmp_path: Path
) -> None:
    app = committed_app(scratch_url)
    numbers = load_everything(app, app.test_client(), tmp_path)
    text = dump(scratch_url)
    assert "D0" in text and mask(id_number(700)) in text and "DUMP-1" in text  # the data is in this dump
    assert "student.id_number.read" in text and "id_keys.rotated" in text
    assert len(numbers) == 14  # 3 students and 6 guardians by PUT, 2 and 2 by import, 1 stranger
    assert [n for n in sorted(numbers) if n in text or n.lower() in text] == []
    assert plain_numbers(text) == set()
