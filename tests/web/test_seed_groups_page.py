"""The student page shows the seed's roster fields (east–west cooperation, enrolment state) in Chinese, with the
labels of the running rules."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

import sqlalchemy as sa
from flask.testing import FlaskClient

from aidservice.extensions import db
from aidservice.models import Student
from tests.world import web as w


def _student(student_id: str) -> Student:
    return db.session.execute(sa.select(Student).where(Student.student_id == student_id)).scalar_one()


def test_the_student_page_shows_the_enrolment_state_and_east_west_origin_in_chinese(
    as_user: Callable[[str], FlaskClient], world: w.World
) -> None:
    client = as_user("officer1")
    html = client.get("/students/S1-003").get_data(as_text=True)
    assert "学籍状态" in html and "在读" in html and "东西协作计划学生" not in html
    student = _student("S1-003")
    student.enrolment_state, student.enrolment_date = "suspended", date(2020, 11, 2)
    student.east_west_cooperation, student.east_west_origin = True, "qinghai_xining"
    db.session.commit()
    html = client.get("/students/S1-003").get_data(as_text=True)
    assert "休学" in html and "2020年11月2日" in html
    assert "东西协作计划学生" in html and "青海西宁" in html and "qinghai_xining" not in html
