"""The special-group report's own line for verified out-of-province students (外省建档立卡等（已核实）)."""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient

from aidservice.extensions import db
from aidservice.models import School
from aidservice.services.applications import declarations, submission
from aidservice.services.applications.declaration_views import declarations_of
from tests.world.factories import make_student
from tests.world.reports import (
    YEAR,
    Province,
    as_json,
    declared,
    province_fixture,  # noqa: F401 - fixture "province"
    rows_by,
    settings_for,
)

pytestmark = pytest.mark.databases


def declared_student(
    province: Province, key: str, school: str, stage: str, seed: int, status: str, result: str
) -> None:
    """A student with no Jiangsu record who declares `status` from 安徽; the officer decides `result`."""
    student = make_student(
        db.session,
        f"ST-{key}",
        db.session.get(School, school),
        seed=seed,
        stage=stage,
        grade=2,
        name=f"学生{key}",
    )
    province.students[key] = student
    db.session.commit()
    officer, settings = province.officer(school), settings_for(province.app)
    application = submission.create_application(
        db.session,
        actor=officer,
        settings=settings,
        payload={
            "student_id": student.student_id,
            "school_year": YEAR,
            "declared": declared(),
            "commitment_signed": True,
            "out_of_province": [
                {
                    "status": status,
                    "province": "34",
                    "document": {
                        "kind": "证明",
                        "issuer": "阜阳市",
                        "number": f"N-{seed}",
                        "date": "2020-05-01",
                    },
                }
            ],
        },
    )
    province.applications[key] = application.id
    (row,) = declarations_of(db.session, application.id)
    declarations.verify(
        db.session,
        actor=officer,
        settings=settings,
        application_id=application.id,
        declaration_id=row.id,
        request=declarations.VerifyRequest(result, application.version, "核对原件"),
    )
    db.session.commit()


def report(client: FlaskClient, province: Province, who: str = "province_admin") -> dict[str, Any]:
    response = client.get(
        "/api/v1/reports/special-groups",
        query_string={"period": "2020-2021-autumn"},
        headers=province.headers(who),
    )
    assert response.status_code == 200, response.json
    return as_json(response.data)


CELLS = ("group_name", "students", "aided", "not_aided", "coverage")


def test_verified_out_of_province_students_have_their_own_line(
    client: FlaskClient, province: Province
) -> None:
    declared_student(province, "OOP1", "S1", "junior", 301, "registered_poor", "verified")
    province.approve("OOP1", "S1")  # special: funded beyond S1's quota of 0, as a Jiangsu 建档立卡 student is
    declared_student(province, "OOP2", "S3", "primary", 302, "subsistence_allowance", "verified")
    declared_student(province, "OOP3", "S1", "junior", 303, "extreme_poverty_support", "rejected")
    got = report(client, province)
    rows = rows_by(got["sections"]["out_of_province"], "group", "stage")
    assert {key: tuple(row[c] for c in CELLS) for key, row in rows.items()} == {
        ("declared_verified", "primary"): ("外省建档立卡等（已核实）", 1, 0, 1, 0.0),
        ("declared_verified", "junior"): ("外省建档立卡等（已核实）", 1, 1, 0, 1.0),
        ("declared_verified", "all"): ("外省建档立卡等（已核实）", 2, 1, 1, 0.5),
        ("declared_verified.registered_poor", "all"): ("外省建档立卡（已核实）", 1, 1, 0, 1.0),
        ("declared_verified.subsistence_allowance", "all"): ("外省低保（已核实）", 1, 0, 1, 0.0),
        ("declared_verified.extreme_poverty_support", "all"): ("外省特困供养（已核实）", 0, 0, 0, None),
    }
    # the agency-based lines are unchanged: these students hold no Jiangsu record
    anyone = rows_by(got["sections"]["groups"], "group", "stage")[("any", "all")]
    assert anyone["students"] == 8
    county = rows_by(
        report(client, province, "county_admin")["sections"]["out_of_province"], "group", "stage"
    )
    assert county[("declared_verified", "all")]["students"] == 1  # S3 is in 无锡, outside 320102
