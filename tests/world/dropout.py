"""A small county for the dropout-control report and the east–west line, every case written out by hand.

Schools: A1 (南京 320102, primary+junior), A2 (南京 320104, primary+junior), V1 (南京 320102, vocational),
B1 (无锡 320213, primary+junior). The report date is 2020-12-15 (Beijing); the period 2020-2021 autumn.

| student | school, stage | state (date) | special group (how) | list (a) |
|---|---|---|---|---|
| DROP | A1 primary | dropped_out (2020-10-10) | registered_poor (guardian 7001) | yes |
| SUSP | A1 junior | suspended (2020-11-01) | orphan (own) | yes |
| MOVED | A1 junior | transferred (2020-09-20) | subsistence_allowance (own) | no: enrolled at A2 (MOVED-IN) |
| GONE | A1 primary | transferred (2020-09-20) | orphan (own) | yes |
| PLAIN | A1 primary | dropped_out (2020-10-10) | none | no: no special group |
| LATE | A1 primary | dropped_out (2021-03-05) | registered_poor (guardian 7006) | no: after the period |
| VOC | V1 vocational | dropped_out (2020-10-10) | orphan (own, born 2004-12-15) | no: not compulsory |
| STAY | A1 junior | enrolled | orphan (own) | no |
| WUXI | B1 junior | dropped_out (2020-10-10) | orphan (own, number of 320213) | province only |
| EW1, EW2 | V1 vocational | enrolled, east–west (贵州铜仁, 青海海东) | none | — |

Agency-only children (numbers of 320102 unless said): SIX born 2014-12-15 (6 on the report date; both
subsistence_allowance and registered_poor), FIVE born 2014-12-16 (5), SIXTEEN born 2004-12-15 (16), FIFTEEN
born 2004-12-16 (15), LAPSED born 2012-01-01 (record ended 2020-06-01). List (b) of 320102: SIX, FIFTEEN, and
the own-number records of children on no roll as enrolled: SUSP (休学) and GONE (转出); VOC is 16.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from flask import Flask
from sqlalchemy.orm import Session

from aidservice.extensions import db
from aidservice.models import Guardian, School, Student
from aidservice.services.accounts.auth import resolve_token
from aidservice.services.registry.feeds import apply_batch
from tests.world.factories import VAULT, bearer, id_number, make_client, make_school, make_user
from tests.world.reports import settings_for

REPORT_MOMENT = datetime(2020, 12, 15, 4, 0, tzinfo=UTC)  # 12:00 in Beijing
PERIOD = "2020-2021-autumn"


def number(seed: int, born: date = date(2008, 3, 1), county: str = "320102") -> str:
    return id_number(seed, county=county, born=born)


CHILDREN = {
    "SIX": number(501, date(2014, 12, 15)),
    "FIVE": number(502, date(2014, 12, 16)),
    "SIXTEEN": number(503, date(2004, 12, 15)),
    "FIFTEEN": number(504, date(2004, 12, 16)),
    "LAPSED": number(505, date(2012, 1, 1)),
}


@dataclass
class County:
    tokens: dict[str, str]
    numbers: dict[str, str] = field(default_factory=dict)
    students: dict[str, Student] = field(default_factory=dict)

    def headers(self, who: str) -> dict[str, str]:
        return bearer(self.tokens[who])


def enrol(
    session: Session,
    key: str,
    school: School,
    id_no: str,
    stage: str,
    *,
    state: str = "enrolled",
    day: date | None = None,
    guardians: tuple[int, ...] = (),
    **columns: Any,
) -> Student:
    student = Student(
        student_id=f"ST-{key}",
        **VAULT.seal("student", id_no),
        name=f"学生{key}",
        school_code=school.code,
        class_name="一班",
        stage=stage,
        grade=2,
        enrolment_state=state,
        enrolment_date=day,
        **columns,
    )
    for seed in guardians:
        g_number = id_number(seed, born=date(1980, 1, 1))
        student.guardians.append(
            Guardian(**VAULT.seal("guardian", g_number), name=f"家长{seed}", relation="father")
        )
    session.add(student)
    session.flush()
    return student


def record(id_no: str, status: str, valid_to: str | None = None) -> dict[str, Any]:
    return {
        "id_number": id_no,
        "name": "某儿童",
        "status": status,
        "valid_from": "2020-01-01",
        "valid_to": valid_to,
        "attributes": {},
    }


def build_county(app: Flask) -> County:
    session = db.session
    a1 = make_school(session, "A1", "320102", name="玄武一校")
    a2 = make_school(session, "A2", "320104", name="秦淮二校")
    v1 = make_school(session, "V1", "320102", stages=("vocational",), name="玄武职校", tuition_fee_fen=240000)
    b1 = make_school(session, "B1", "320213", name="无锡一校")
    tokens = {
        "county_admin": make_user(session, "county_admin", region_code="320102")[1],
        "other_county_admin": make_user(session, "county_admin", username="qinhuai", region_code="320104")[1],
        "city_admin": make_user(session, "city_admin", region_code="320100")[1],
        "wuxi_admin": make_user(session, "city_admin", username="wuxi", region_code="320200")[1],
        "province_admin": make_user(session, "province_admin", region_code="320000")[1],
        "auditor": make_user(session, "auditor")[1],
        "officer_A1": make_user(session, "school_officer", username="officer-a1", school_code="A1")[1],
        "officer_V1": make_user(session, "school_officer", username="officer-v1", school_code="V1")[1],
        "client_civil_affairs": make_client(session, "civil_affairs"),
        "client_poverty_alleviation": make_client(session, "poverty_alleviation"),
    }
    county = County(tokens)
    n = county.numbers
    n.update(
        DROP=number(401),
        SUSP=number(402),
        MOVED=number(403),
        GONE=number(404),
        PLAIN=number(405),
        LATE=number(406),
        VOC=number(407, date(2004, 12, 15)),
        STAY=number(408),
        WUXI=number(409, county="320213"),
        EW1=number(410, date(2004, 6, 1)),
        EW2=number(411, date(2004, 6, 1)),
    )
    ended = date(2020, 10, 10)
    s = county.students
    s["DROP"] = enrol(
        session, "DROP", a1, n["DROP"], "primary", state="dropped_out", day=ended, guardians=(7001,)
    )
    s["SUSP"] = enrol(session, "SUSP", a1, n["SUSP"], "junior", state="suspended", day=date(2020, 11, 1))
    s["MOVED"] = enrol(session, "MOVED", a1, n["MOVED"], "junior", state="transferred", day=date(2020, 9, 20))
    s["MOVED-IN"] = enrol(session, "MOVED-IN", a2, n["MOVED"], "junior")
    s["GONE"] = enrol(session, "GONE", a1, n["GONE"], "primary", state="transferred", day=date(2020, 9, 20))
    s["PLAIN"] = enrol(session, "PLAIN", a1, n["PLAIN"], "primary", state="dropped_out", day=ended)
    s["LATE"] = enrol(
        session,
        "LATE",
        a1,
        n["LATE"],
        "primary",
        state="dropped_out",
        day=date(2021, 3, 5),
        guardians=(7006,),
    )
    s["VOC"] = enrol(session, "VOC", v1, n["VOC"], "vocational", state="dropped_out", day=ended)
    s["STAY"] = enrol(session, "STAY", a1, n["STAY"], "junior")
    s["WUXI"] = enrol(session, "WUXI", b1, n["WUXI"], "junior", state="dropped_out", day=ended)
    s["EW1"] = enrol(
        session,
        "EW1",
        v1,
        n["EW1"],
        "vocational",
        east_west_cooperation=True,
        east_west_origin="guizhou_tongren",
    )
    s["EW2"] = enrol(
        session,
        "EW2",
        v1,
        n["EW2"],
        "vocational",
        east_west_cooperation=True,
        east_west_origin="qinghai_haidong",
    )
    session.commit()
    feed(
        app,
        county,
        "poverty_alleviation",
        [
            record(id_number(7001, born=date(1980, 1, 1)), "registered_poor"),
            record(id_number(7006, born=date(1980, 1, 1)), "registered_poor"),
            record(CHILDREN["SIX"], "registered_poor"),
        ],
    )
    feed(
        app,
        county,
        "civil_affairs",
        [
            record(n["SUSP"], "orphan"),
            record(n["MOVED"], "subsistence_allowance"),
            record(n["GONE"], "orphan"),
            record(n["VOC"], "orphan"),
            record(n["STAY"], "orphan"),
            record(n["WUXI"], "orphan"),
            record(CHILDREN["SIX"], "subsistence_allowance"),
            record(CHILDREN["FIVE"], "orphan"),
            record(CHILDREN["SIXTEEN"], "orphan"),
            record(CHILDREN["FIFTEEN"], "de_facto_orphan"),
            record(CHILDREN["LAPSED"], "orphan", valid_to="2020-06-01"),
        ],
    )
    return county


def feed(app: Flask, county: County, source: str, records: list[dict[str, Any]]) -> None:
    actor = resolve_token(db.session, county.tokens[f"client_{source}"])
    apply_batch(
        db.session,
        actor=actor,
        settings=settings_for(app),
        source=source,
        body={"batch_id": f"D-{source}", "records": records},
    )
    db.session.commit()
