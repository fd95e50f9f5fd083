"""A synthetic province for demos and benchmarks: schools in the 13 cities, students in every stage,
guardians, and agency registers with realistic shares. Pure data (no database): `demo-data` feeds
it through the same services as real data.

Every identity number is valid (GB 11643 check character, real birth date) but synthetic: the
sequence digits start at 9xx, a block no real number in this demo's counties is checked against.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from operator import mul

from aidservice.demo.seed_groups import add_seed_groups
from aidservice.engine.vocabulary import Status, Vocabulary

WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
CHECK = "10X98765432"

# Two districts per prefecture city (division codes), enough for county-level scopes in the demo.
COUNTIES: dict[str, list[tuple[str, str]]] = {
    "320100": [("320102", "玄武区"), ("320104", "秦淮区")],
    "320200": [("320213", "梁溪区"), ("320214", "新吴区")],
    "320300": [("320302", "鼓楼区"), ("320311", "泉山区")],
    "320400": [("320402", "天宁区"), ("320404", "钟楼区")],
    "320500": [("320505", "虎丘区"), ("320506", "吴中区")],
    "320600": [("320612", "通州区"), ("320613", "崇川区")],
    "320700": [("320703", "连云区"), ("320706", "海州区")],
    "320800": [("320803", "淮安区"), ("320804", "淮阴区")],
    "320900": [("320902", "亭湖区"), ("320903", "盐都区")],
    "321000": [("321002", "广陵区"), ("321003", "邗江区")],
    "321100": [("321102", "京口区"), ("321111", "润州区")],
    "321200": [("321202", "海陵区"), ("321203", "高港区")],
    "321300": [("321302", "宿城区"), ("321311", "宿豫区")],
}
CITY_NAMES = {
    "320100": "南京",
    "320200": "无锡",
    "320300": "徐州",
    "320400": "常州",
    "320500": "苏州",
    "320600": "南通",
    "320700": "连云港",
    "320800": "淮安",
    "320900": "盐城",
    "321000": "扬州",
    "321100": "镇江",
    "321200": "泰州",
    "321300": "宿迁",
}
NORTH = {"320300", "320700", "320800", "320900", "321300"}  # 苏北: more registered-poor households

# school kind: (stages, tuition range in yuan, share of students, name suffix)
SCHOOL_KINDS: dict[str, tuple[tuple[str, ...], tuple[int, int] | None, float, str]] = {
    "kindergarten": (("preschool",), (1800, 4800), 0.16, "幼儿园"),
    "primary": (("primary",), None, 0.31, "小学"),
    "junior": (("junior",), None, 0.15, "初级中学"),
    "senior": (("senior_high",), (1200, 2000), 0.08, "高级中学"),
    "vocational": (("vocational",), (2000, 3600), 0.05, "中等职业学校"),
    "university": (("undergraduate", "master", "doctor"), (4600, 6600), 0.25, "大学"),
}
YEARS = {
    "preschool": 3,
    "primary": 6,
    "junior": 3,
    "senior_high": 3,
    "vocational": 3,
    "undergraduate": 4,
    "master": 3,
    "doctor": 4,
}
ENTRY_AGE = {
    "preschool": 3,
    "primary": 6,
    "junior": 12,
    "senior_high": 15,
    "vocational": 15,
    "undergraduate": 18,
    "master": 22,
    "doctor": 25,
}
UNI_STAGES = (("undergraduate", 0.78), ("master", 0.17), ("doctor", 0.05))
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉萍红鹏飞宇浩然子涵梓轩欣怡雨桐一诺思远嘉怡俊杰佳琪晨曦文博雅婷"


def check_char(first17: str) -> str:
    """GB 11643 check character (ISO 7064 MOD 11-2)."""
    return CHECK[sum(map(mul, map(int, first17), WEIGHTS)) % 11]


def id_number(county: str, birth: date, sequence: int) -> str:
    # not f"{birth:%Y%m%d}": strftime is the slowest part of generating a million numbers
    first17 = f"{county}{birth.year:04d}{birth.month:02d}{birth.day:02d}{sequence % 1000:03d}"
    return first17 + check_char(first17)


@dataclass
class DemoProvince:
    """Everything `demo-data` loads, as plain payloads for the services."""

    counties: list[tuple[str, str]] = field(default_factory=list)
    schools: list[dict] = field(default_factory=list)
    students: list[dict] = field(default_factory=list)
    records: dict[str, list[dict]] = field(default_factory=dict)  # source -> agency records


class _Ids:
    """Unique synthetic ID numbers: sequence 900-999 per (county, birth date), then the next day."""

    def __init__(self) -> None:
        self.used: dict[tuple[str, date], int] = {}

    def take(self, county: str, birth: date) -> str:
        while True:
            n = self.used.get((county, birth), 900)
            if n <= 999:
                self.used[(county, birth)] = n + 1
                return id_number(county, birth, n)
            birth += timedelta(days=1)


def _name(rnd: random.Random) -> str:
    return rnd.choice(SURNAMES) + "".join(rnd.choice(GIVEN) for _ in range(rnd.choice((1, 2))))


def generate(
    students: int,
    vocabulary: Vocabulary,
    seed: int = 0,
    school_year_start: date = date(2020, 9, 1),
    origins: Sequence[str] = (),
) -> DemoProvince:
    """A province of about `students` students, deterministic for (students, seed) and the rules' vocabulary
    (the agency sources and the statuses each sends); `origins` are the rules' east–west partner regions
    (none: no east–west students). Transfers add a few records (`seed_groups`)."""
    rnd = random.Random(seed)
    ids = _Ids()
    demo = DemoProvince(counties=[c for cs in COUNTIES.values() for c in cs])
    schools_by_kind = _schools(demo, rnd, students)
    households: list[tuple[dict, str]] = []  # (student, city)
    for index in range(students):
        kind = rnd.choices(list(SCHOOL_KINDS), weights=[k[2] for k in SCHOOL_KINDS.values()])[0]
        school = rnd.choice(schools_by_kind[kind])
        student = _student(rnd, ids, index, school, kind, school_year_start)
        demo.students.append(student)
        households.append((student, school["city_code"]))
    demo.records = _registers(rnd, ids, households, school_year_start, vocabulary)
    add_seed_groups(
        demo.students,
        demo.records,
        demo.schools,
        ids.take,
        seed=seed,
        origins=origins,
        start=school_year_start,
        vocabulary=vocabulary,
    )
    return demo


def _schools(demo: DemoProvince, rnd: random.Random, students: int) -> dict[str, list[dict]]:
    per_kind = max(1, students // 2600)  # about 100 students a school and kind and county at 20,000
    out: dict[str, list[dict]] = {kind: [] for kind in SCHOOL_KINDS}
    for city, counties in COUNTIES.items():
        for county_code, county_name in counties:
            for kind, (stages, fee, _share, suffix) in SCHOOL_KINDS.items():
                count = 1 if kind == "university" and county_code != counties[0][0] else per_kind
                for n in range(count):
                    code = f"{county_code}{list(SCHOOL_KINDS).index(kind)}{n:03d}"
                    school = {
                        "code": code,
                        "name": f"{CITY_NAMES[city]}市{county_name}第{n + 1}{suffix}",
                        "region_code": county_code,
                        "city_code": city,
                        "stages": list(stages),
                        "kind": "public" if rnd.random() < 0.85 else "private",
                        "inclusive_kindergarten": kind == "kindergarten" and rnd.random() < 0.85,
                        "tuition_fee": None
                        if fee is None
                        else f"{rnd.randrange(fee[0], fee[1] + 1, 100)}.00",
                        "central_university": kind == "university" and city == "320100" and n == 0,
                    }
                    demo.schools.append(school)
                    out[kind].append(school)
    return out


def _student(rnd: random.Random, ids: _Ids, index: int, school: dict, kind: str, start: date) -> dict:
    stage = school["stages"][0]
    if kind == "university":
        stage = rnd.choices([s for s, _ in UNI_STAGES], weights=[w for _, w in UNI_STAGES])[0]
    grade = rnd.randint(1, YEARS[stage])
    age = ENTRY_AGE[stage] + grade - 1
    birth = date(start.year - age - 1, 9, 1) + timedelta(days=rnd.randrange(365))
    county = school["region_code"]
    surname = rnd.choice(SURNAMES)
    guardians = []
    if stage not in ("master", "doctor") or rnd.random() < 0.5:
        for relation, years in (("father", rnd.randint(24, 34)), ("mother", rnd.randint(22, 32))):
            if rnd.random() < 0.95:
                gbirth = date(birth.year - years, 1, 1) + timedelta(days=rnd.randrange(365))
                gname = (surname if relation == "father" else rnd.choice(SURNAMES)) + rnd.choice(GIVEN)
                guardians.append({"id_number": ids.take(county, gbirth), "name": gname, "relation": relation})
    vocational = stage == "vocational"
    return {
        "student_id": f"S{school['city_code'][:4]}{index:08d}",
        "id_number": ids.take(county, birth),
        "name": surname + "".join(rnd.choice(GIVEN) for _ in range(rnd.choice((1, 2)))),
        "school_code": school["code"],
        "class_name": f"{grade}年级{rnd.randint(1, 8)}班",
        "stage": stage,
        "grade": grade,
        "boarding": stage in ("senior_high", "vocational", "undergraduate", "master", "doctor")
        or rnd.random() < 0.1,
        "rural_hukou": rnd.random() < 0.35,
        "agri_major": vocational and rnd.random() < 0.12,
        "arts_performance_major": vocational and rnd.random() < 0.04,
        "retired_soldier": stage == "undergraduate" and rnd.random() < 0.01,
        "salaried": stage in ("master", "doctor") and rnd.random() < 0.08,
        "guardians": guardians,
    }


SHARES = {
    "registered_poor": 0.03,
    "poverty_monitored": 0.01,
    "subsistence_allowance": 0.02,
    "extreme_poverty_support": 0.002,
    "orphan": 0.0015,
    "de_facto_orphan": 0.0015,
    "disabled": 0.006,
    "martyr_child": 0.0005,
}
"""Chance per student of each status the demo knows (before the north-south weighting of household ones)."""
OTHER_SHARE = 0.005
"""Chance per student of a status the rules name and the demo has no share for (a new agency status)."""
GUARDIAN_SHARE = 0.01
"""Chance that a guardian holds a personal status that reaches the student (`disabled` -> `disabled_parent`)."""


def _registers(
    rnd: random.Random,
    ids: _Ids,
    households: list[tuple[dict, str]],
    start: date,
    vocabulary: Vocabulary,
) -> dict[str, list[dict]]:
    """Agency records of the rules' sources: household statuses on a guardian, personal ones on the student, some
    ended, some unmatched. Statuses the demo has shares for are drawn in a fixed order (the same province for the
    same seed); any other status the rules name is drawn after them with OTHER_SHARE."""
    records: dict[str, list[dict]] = {s: [] for s in vocabulary.agency_ids}
    statuses = vocabulary.statuses
    since = date(start.year - 3, 1, 1)

    def add(person: dict, status: str, attributes: dict | None = None, ended: bool = False) -> None:
        if status not in statuses:
            return  # a status these rules do not name
        valid_from = since + timedelta(days=rnd.randrange(900))
        valid_to = (start - timedelta(days=rnd.randrange(30, 300))).isoformat() if ended else None
        records[statuses[status].source].append(
            {
                "id_number": person["id_number"],
                "name": person["name"],
                "status": status,
                "valid_from": valid_from.isoformat(),
                "valid_to": valid_to,
                "attributes": attributes or {},
            }
        )

    def measured(status: str) -> dict:
        """Random values of the status's attributes within their bounds (a disability grade 1-4)."""
        return {a.name: rnd.randint(1, 4) for a in statuses[status].attributes} if status in statuses else {}

    others = [st for name, st in statuses.items() if name not in SHARES]
    for student, city in households:
        head = student["guardians"][0] if student["guardians"] else student
        north = 2.0 if city in NORTH else 0.6
        roll = rnd.random
        if roll() < SHARES["registered_poor"] * north:
            add(head, "registered_poor", ended=roll() < 0.1)
        elif roll() < SHARES["poverty_monitored"]:
            add(head, "poverty_monitored")
        if roll() < SHARES["subsistence_allowance"] * north:
            add(head, "subsistence_allowance", ended=roll() < 0.15)
        if roll() < SHARES["extreme_poverty_support"]:
            add(student, "extreme_poverty_support")
        if roll() < SHARES["orphan"]:
            add(student, "orphan")
        elif roll() < SHARES["de_facto_orphan"]:
            add(student, "de_facto_orphan")
        if roll() < SHARES["disabled"]:
            add(student, "disabled", measured("disabled"))
        if student["guardians"] and roll() < GUARDIAN_SHARE:
            add(rnd.choice(student["guardians"]), "disabled", measured("disabled"))
        if roll() < SHARES["martyr_child"]:
            add(student, "martyr_child")
        for other in others:
            if roll() < OTHER_SHARE * (north if other.household else 1.0):
                add(head if other.household else student, other.name, _first_values(other))
    for source, items in records.items():  # people the registers know who are not enrolled anywhere
        first = vocabulary.agency_statuses[source][0]
        for _ in range(max(1, len(items) // 10)):
            county = rnd.choice([c for cs in COUNTIES.values() for c, _ in cs])
            person = {
                "id_number": ids.take(county, date(1980, 1, 1) + timedelta(days=rnd.randrange(9000))),
                "name": _name(rnd),
            }
            add(person, first, _first_values(statuses[first], 2))
    return records


def _first_values(status: Status, value: int = 1) -> dict:
    """Fixed values of a status's attributes (no draw): `value` each (a disability grade)."""
    return {a.name: value for a in status.attributes}


def batches(records: list[dict], size: int = 10_000) -> Iterator[list[dict]]:
    for start in range(0, len(records), size):
        yield records[start : start + size]
