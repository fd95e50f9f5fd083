"""Report benchmarks on PostgreSQL: the province reports over a synthetic province loaded with COPY.

    .venv/bin/python bench/reports_bench.py                       # 1,000,000 students, 3 runs
    .venv/bin/python bench/reports_bench.py --students 100000 --runs 1
    .venv/bin/python bench/reports_bench.py --reuse               # keep the loaded database, time again

The database (`--database`, default aidservice_reports_bench) is dropped, created and migrated, then loaded
with COPY (not timed): counties and schools in the 13 cities, students with ~1.9 guardians, one current
determination each, agency records (household statuses on a guardian or the student, personal ones on the
student, ~10 % about people no school knows), applications in every state with their actions, decisions
(awarded, not funded) with instalments, and quotas. About 6 % of students are in a special group; 60 % of
those are aided, the rest spread over the reasons.

Timed (the service functions, as the API runs them, the output drained to /dev/null): the province
`special-groups`, `regions` and `programs` reports for the autumn semester in JSON and XLSX, live and as of a
past time (history predicates), and a city's `special-groups`. Target: <= 10 s each for the province
special-groups and regions reports, XLSX included. Medians of `--runs`; results in bench/out/reports.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
OUT = REPO / "bench" / "out"
WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
CHECK = "10X98765432"
CITIES = (
    "320100",
    "320200",
    "320300",
    "320400",
    "320500",
    "320600",
    "320700",
    "320800",
    "320900",
    "321000",
    "321100",
    "321200",
    "321300",
)
NORTH = {"320300", "320700", "320800", "320900", "321300"}
STAGES = {
    "preschool": 0.16,
    "primary": 0.31,
    "junior": 0.15,
    "senior_high": 0.08,
    "vocational": 0.05,
    "undergraduate": 0.19,
    "master": 0.045,
    "doctor": 0.015,
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
PROGRAM = {  # stage -> (program, kind, amount in fen, payment)
    "preschool": ("preschool_aid", "grant", 100000, "semesters"),
    "primary": ("compulsory_living_subsidy", "grant", 100000, "semesters"),
    "junior": ("compulsory_living_subsidy", "grant", 125000, "semesters"),
    "senior_high": ("senior_high_grant", "grant", 300000, "semesters"),
    "vocational": ("vocational_grant", "grant", 200000, "semesters"),
    "undergraduate": ("undergrad_grant", "grant", 440000, "monthly_10"),
    "master": ("graduate_grant", "grant", 600000, "monthly_10"),
    "doctor": ("graduate_grant", "grant", 1300000, "monthly_10"),
}
HOUSEHOLD = ("registered_poor", "poverty_monitored", "subsistence_allowance")
SOURCE = {
    "registered_poor": "poverty_alleviation",
    "poverty_monitored": "poverty_alleviation",
    "subsistence_allowance": "civil_affairs",
    "extreme_poverty_support": "civil_affairs",
    "orphan": "civil_affairs",
    "de_facto_orphan": "civil_affairs",
    "disabled": "disabled_persons_federation",
    "martyr_child": "veterans_affairs",
}
PER_SCHOOL = 500
YEAR = "2020-2021"


def id_number(county: str, birth: date, sequence: int) -> str:
    first17 = f"{county}{birth:%Y%m%d}{sequence % 1000:03d}"
    return first17 + CHECK[sum(int(d) * w for d, w in zip(first17, WEIGHTS, strict=True)) % 11]


def number(kind: int, i: int, county: str) -> str:
    """Unique valid numbers per kind (0 students, 1 guardians, 2 strangers)."""
    base = (date(2003, 1, 1), date(1965, 1, 1), date(1950, 1, 1))[kind]
    return id_number(county, base + timedelta(days=i // 1000), i)


def mask(value: str) -> str:
    """As aidservice.identity.mask: region code and check character."""
    return value[:6] + "*" * 11 + value[-1:]


def libpq(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def create_database(server: str, name: str) -> str:
    import psycopg
    from sqlalchemy.engine import make_url

    with psycopg.connect(libpq(server), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    return make_url(server).set(database=name).render_as_string(hide_password=False)


def make_app(url: str) -> Any:
    from aidservice import create_app
    from config import DevelopmentConfig

    return create_app(DevelopmentConfig.from_env({"DATABASE_URL": url, "AID_RULES_DIR": str(REPO / "rules")}))


def instalments(amount: int, payment: str) -> str:
    if payment == "monthly_10":
        days = [date(2020, m, 1) for m in range(9, 13)] + [date(2021, m, 1) for m in (1, 3, 4, 5, 6, 7)]
        parts = [(f"{YEAR}-m{i + 1:02d}", d) for i, d in enumerate(days)]
    else:
        parts = [(f"{YEAR}-autumn", date(2020, 9, 1)), (f"{YEAR}-spring", date(2021, 3, 1))]
    base, extra = divmod(amount, len(parts))
    return json.dumps(
        [
            {"period": p, "due": d.isoformat(), "amount": f"{(base + (1 if i < extra else 0)) / 100:.2f}"}
            for i, (p, d) in enumerate(parts)
        ]
    )


def load(url: str, n: int, seed: int, version: str) -> dict[str, int]:
    """The synthetic province, with COPY; returns row counts."""
    import psycopg

    from aidservice.crypto import SEALED_COLUMNS, vault_from_config
    from config import DevelopmentConfig

    vault = vault_from_config(DevelopmentConfig.from_env({}))  # the development keyring and HMAC key

    def sealed(kind: str, person: str) -> tuple[Any, ...]:
        columns = vault.seal(kind, person)
        return tuple(columns[name] for name in SEALED_COLUMNS)

    rnd = random.Random(seed)
    now = datetime.now(UTC) - timedelta(days=1)
    counties = [(city, f"{city[:4]}{k:02d}") for city in CITIES for k in (2, 3, 4, 5)]
    counts: dict[str, int] = {}
    with psycopg.connect(libpq(url)) as conn, conn.cursor() as cur:
        with cur.copy("COPY regions (code, name, level, parent_code) FROM STDIN") as copy:
            for city, county in counties:
                copy.write_row((county, f"县{county}", "county", city))
        schools: dict[str, list[tuple[str, str]]] = {stage: [] for stage in STAGES}
        with cur.copy(
            "COPY schools (code, name, region_code, city_code, stages, kind, inclusive_kindergarten, "
            "tuition_fee_fen, central_university, created_at, updated_at) FROM STDIN"
        ) as copy:
            for s_index, (stage, share) in enumerate(STAGES.items()):
                for k in range(max(len(counties), round(n * share / PER_SCHOOL))):
                    city, county = counties[k % len(counties)]
                    code = f"{county}{s_index}{k:05d}"
                    schools[stage].append((code, county))
                    copy.write_row(
                        (
                            code,
                            f"学校{code}",
                            county,
                            city,
                            json.dumps([stage]),
                            "public",
                            stage == "preschool",
                            200000 if stage != "primary" else None,
                            False,
                            now,
                            now,
                        )
                    )
        counts["schools"] = sum(len(v) for v in schools.values())
        stages = rnd.choices(list(STAGES), weights=list(STAGES.values()), k=n)
        records: list[tuple[str, str, str, str]] = []  # (source, status, person mask, person hmac)
        members: dict[int, set[str]] = {}
        guardian_index = 0
        student_rows: list[tuple] = []
        guardian_rows: list[tuple] = []
        for i, stage in enumerate(stages):
            school, county = schools[stage][i % len(schools[stage])]
            own = number(0, i, county)
            own_columns = sealed("student", own)
            own_hmac = own_columns[2]
            student_rows.append(
                (
                    i + 1,
                    f"S{i:08d}",
                    *own_columns,
                    "学生",
                    school,
                    "一班",
                    stage,
                    rnd.randint(1, YEARS[stage]),
                    False,
                    False,
                    False,
                    False,
                    False,
                    False,
                    now,
                    now,
                )
            )
            guardian_hmacs = []
            for relation in ("father", "mother")[: (2 if rnd.random() < 0.9 else 1)]:
                g = number(1, guardian_index, county)
                guardian_index += 1
                g_columns = sealed("guardian", g)
                g_hmac = g_columns[2]
                guardian_rows.append((i + 1, *g_columns, "家长", relation))
                guardian_hmacs.append((g, g_hmac))
            north = 2.0 if county[:4] + "00" in NORTH else 0.6
            groups: set[str] = set()
            head = guardian_hmacs[0] if guardian_hmacs else (own, own_hmac)
            if rnd.random() < 0.03 * north:
                groups.add("registered_poor")
                records.append(("poverty_alleviation", "registered_poor", mask(head[0]), head[1]))
            elif rnd.random() < 0.005:
                groups.add("poverty_monitored")
                records.append(("poverty_alleviation", "poverty_monitored", mask(head[0]), head[1]))
            if rnd.random() < 0.02 * north:
                groups.add("subsistence_allowance")
                records.append(("civil_affairs", "subsistence_allowance", mask(head[0]), head[1]))
            for status, share in (
                ("extreme_poverty_support", 0.002),
                ("orphan", 0.0015),
                ("de_facto_orphan", 0.0015),
                ("disabled", 0.006),
                ("martyr_child", 0.0005),
            ):
                if rnd.random() < share:
                    groups.add(status)
                    records.append((SOURCE[status], status, mask(own), own_hmac))
            if groups:
                members[i + 1] = groups
        with cur.copy(
            "COPY students (id, student_id, id_cipher, id_key_id, id_hmac, id_mask, name, school_code, class_name, stage, "
            "grade, boarding, rural_hukou, agri_major, arts_performance_major, retired_soldier, salaried, "
            "created_at, updated_at) FROM STDIN"
        ) as copy:
            for row in student_rows:
                copy.write_row(row)
        with cur.copy(
            "COPY guardians (student_pk, id_cipher, id_key_id, id_hmac, id_mask, name, relation) FROM STDIN"
        ) as copy:
            for row in guardian_rows:
                copy.write_row(row)
        del student_rows, guardian_rows
        counts["students"], counts["guardians"] = n, guardian_index
        for k in range(len(records) // 10):  # people no school knows
            county = counties[k % len(counties)][1]
            person = number(2, k, county)
            status = rnd.choice(("registered_poor", "subsistence_allowance", "disabled"))
            records.append((SOURCE[status], status, mask(person), vault.hmac(person)))
        with cur.copy(
            "COPY feed_batches (id, source, batch_id, body_hash, received_at, record_count, accepted, "
            "response) FROM STDIN"
        ) as copy:
            for b, source in enumerate(sorted(set(SOURCE.values())), start=1):
                copy.write_row((b, source, f"bench-{source}", "0" * 64, now, 0, 0, "{}"))
        batch_of = {source: b for b, source in enumerate(sorted(set(SOURCE.values())), start=1)}
        with cur.copy(
            "COPY agency_records (source, person_hmac, person_mask, name, status, attributes, valid_from, "
            "valid_to, batch_pk, record_index, received_at) FROM STDIN"
        ) as copy:
            for r, (source, status, person_mask, hmac) in enumerate(records):
                attributes = json.dumps(
                    {"disability_grade": rnd.randint(1, 4)} if status == "disabled" else {}
                )
                copy.write_row(
                    (
                        source,
                        hmac,
                        person_mask,
                        "某人",
                        status,
                        attributes,
                        date(2019, 1, 1),
                        None,
                        batch_of[source],
                        r,
                        now,
                    )
                )
        counts["agency_records"] = len(records)
        # determinations: one current each
        levels = ("special", "difficult", "general", "none")
        with cur.copy(
            "COPY determinations (seq, student_pk, school_year, as_of, rule_set_version, level, awards, "
            "total_fen, facts, explanation, changed, current, cause, created_at, content_hash) "
            "FROM STDIN"
        ) as copy:
            for pk in range(1, n + 1):
                level = "special" if pk in members else rnd.choices(levels, weights=(1, 4, 6, 89))[0]
                copy.write_row(
                    (
                        pk,
                        pk,
                        YEAR,
                        date(2020, 9, 1),
                        version,
                        level,
                        "[]",
                        0,
                        "{}",
                        "{}",
                        True,
                        True,
                        "bench",
                        now,
                        "0" * 64,
                    )
                )
        # applications, actions, decisions
        apps = 0
        app_rows: list[tuple] = []
        action_rows: list[tuple] = []
        decision_rows: list[tuple] = []
        for pk in range(1, n + 1):
            groups = members.get(pk)
            roll = rnd.random()
            if groups is None:
                if roll >= 0.05:
                    continue
                outcome: str | None = "awarded"
            else:
                outcome = (
                    "awarded"
                    if roll < 0.6
                    else "submitted"
                    if roll < 0.7
                    else "rejected"
                    if roll < 0.75
                    else "not_funded"
                    if roll < 0.78
                    else "conflict"
                    if roll < 0.8
                    else None
                )
            if outcome is None:
                continue
            stage = stages[pk - 1]
            school = schools[stage][(pk - 1) % len(schools[stage])][0]
            apps += 1
            state = {"awarded": "approved", "not_funded": "approved", "conflict": "submitted"}.get(
                outcome, outcome
            )
            facts = json.dumps(
                {g: {"value": True, "source": SOURCE[g], "record_ids": []} for g in groups or ()}
            )
            conflicts = (
                "[]"
                if outcome != "conflict"
                else json.dumps([{"fact": "subsistence_allowance", "declared": False, "agency": True}])
            )
            app_rows.append(
                (
                    apps,
                    pk,
                    school,
                    YEAR,
                    state,
                    1,
                    "{}",
                    now,
                    date(2020, 9, 1),
                    version,
                    facts,
                    conflicts,
                    "{}",
                    "special",
                    "special",
                    now,
                    "bench",
                    now,
                )
            )
            steps = [("submit", "", "submitted")]
            if state == "approved":
                steps += [
                    ("review", "submitted", "reviewed"),
                    ("publish_notice", "reviewed", "notice"),
                    ("approve", "notice", "approved"),
                ]
            elif state == "rejected":
                steps.append(("reject", "submitted", "rejected"))
            for v, (action, before, after) in enumerate(steps, start=1):
                action_rows.append(
                    (
                        apps,
                        action,
                        before,
                        after,
                        v,
                        "核实不符" if action == "reject" else "",
                        "{}",
                        "bench",
                        now,
                    )
                )
            if state == "approved":
                program, kind, amount, payment = PROGRAM[stage]
                status = "awarded" if outcome == "awarded" else "not_funded"
                plan = instalments(amount, payment) if status == "awarded" else "[]"
                decision_rows.append(
                    (
                        apps,
                        pk,
                        school,
                        YEAR,
                        program,
                        program,
                        kind,
                        "special",
                        amount,
                        plan,
                        status,
                        "provisional",
                        date(2020, 9, 1),
                        version,
                        "{}",
                        "{}",
                        "bench",
                        "bench",
                        now,
                        True,
                        False,
                        "0" * 64,
                    )
                )
        with cur.copy(
            "COPY applications (id, student_pk, school_code, school_year, state, version, declared, "
            "commitment_signed_at, as_of, rule_set_version, facts, conflicts, result, evaluated_level, level, "
            "submitted_at, created_by, updated_at) FROM STDIN"
        ) as copy:
            for row in app_rows:
                copy.write_row(row)
        with cur.copy(
            "COPY application_actions (application_id, action, from_state, to_state, version, note, "
            "details, actor, at) FROM STDIN"
        ) as copy:
            for row in action_rows:
                copy.write_row(row)
        with cur.copy(
            "COPY decisions (application_id, student_pk, school_code, school_year, program, name, kind, "
            "level, amount_fen, instalments, status, rule_status, as_of, rule_set_version, facts, "
            "explanation, basis, decided_by, decided_at, current, needs_review, content_hash) "
            "FROM STDIN"
        ) as copy:
            for row in decision_rows:
                copy.write_row(row)
        actions, dec = len(action_rows), len(decision_rows)
        counts.update(
            applications=apps, application_actions=actions, decisions=dec, special_students=len(members)
        )
        with cur.copy(
            "COPY quotas (school_code, program, school_year, places, set_by, updated_at) FROM STDIN"
        ) as copy:
            for stage, (program, _kind, _amount, _payment) in PROGRAM.items():
                for code, _county in schools[stage][::5]:
                    copy.write_row((code, program, YEAR, 3, "bench", now))
        for table in ("students", "applications", "feed_batches"):
            cur.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))"
            )
        conn.commit()
        conn.autocommit = True
        cur.execute("VACUUM ANALYZE")
    return counts


def publish(app: Any) -> str:
    from aidservice.extensions import db
    from aidservice.services.rule_sets import publish_current

    with app.app_context():
        rules = app.extensions["aid_rules"]
        publish_current(db.session, rules, rules.rules.files)
        db.session.commit()
        return rules.version


def run_report(
    app: Any, kind: str, fmt: str, region: str = "320000", as_of: datetime | None = None
) -> dict[str, Any]:
    """One report through the service functions, the output drained; seconds, bytes, rows of the long list."""
    from aidservice.extensions import db
    from aidservice.services.actors import Actor
    from aidservice.services.reports import prepare
    from aidservice.services.reports.render import render
    from aidservice.wiring import settings

    with app.app_context():
        start = time.perf_counter()
        report = prepare(
            db.session,
            actor=Actor.system("bench"),
            settings=settings(),
            kind=kind,
            period="2020-2021-autumn",
            region=region,
            as_of=as_of,
            fmt=fmt,
        )
        prepared = time.perf_counter() - start
        size = 0
        with app.test_request_context():
            for chunk in render(report, fmt):
                size += len(chunk)
        seconds = time.perf_counter() - start
        db.session.rollback()
        db.session.remove()
    listed = 0
    if kind == "special-groups":
        with app.app_context():
            rows = next(s for s in report.sections if s.key == "unaided")
            listed = sum(1 for _ in rows.iter_rows())
            db.session.remove()
    return {"seconds": seconds, "prepare_seconds": prepared, "bytes": size, "unaided_rows": listed or None}


def machine() -> dict[str, Any]:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpu": cpu,
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seed", type=int, default=2020)
    parser.add_argument(
        "--server",
        default=os.environ.get("BENCH_SERVER_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"),
    )
    parser.add_argument("--database", default="aidservice_reports_bench")
    parser.add_argument("--reuse", action="store_true", help="time the database loaded by an earlier run")
    args = parser.parse_args(argv)
    report: dict[str, Any] = {"machine": machine(), "args": vars(args)}
    if args.reuse:
        from sqlalchemy.engine import make_url

        url = make_url(args.server).set(database=args.database).render_as_string(hide_password=False)
        app = make_app(url)
    else:
        url = create_database(args.server, args.database)
        app = make_app(url)
        from flask_migrate import upgrade

        with app.app_context():
            upgrade()
        version = publish(app)
        start = time.perf_counter()
        report["counts"] = load(url, args.students, args.seed, version)
        report["load_seconds"] = time.perf_counter() - start
        print(f"loaded {report['counts']} in {report['load_seconds']:.1f} s", flush=True)
    past = datetime.now(UTC) - timedelta(minutes=1)
    cases = [
        ("special-groups", "json", "320000", None),
        ("special-groups", "xlsx", "320000", None),
        ("regions", "json", "320000", None),
        ("regions", "xlsx", "320000", None),
        ("programs", "json", "320000", None),
        ("programs", "xlsx", "320000", None),
        ("special-groups", "xlsx", "320000", past),
        ("regions", "xlsx", "320000", past),
        ("special-groups", "json", "320300", None),
    ]
    results = []
    for kind, fmt, region, as_of in cases:
        runs = [run_report(app, kind, fmt, region, as_of) for _ in range(args.runs)]
        entry = {
            "kind": kind,
            "format": fmt,
            "region": region,
            "as_of": "past" if as_of else "live",
            "median_seconds": statistics.median(r["seconds"] for r in runs),
            "median_prepare_seconds": statistics.median(r["prepare_seconds"] for r in runs),
            "bytes": runs[-1]["bytes"],
            "unaided_rows": runs[-1]["unaided_rows"],
            "runs": [round(r["seconds"], 2) for r in runs],
        }
        results.append(entry)
        print(json.dumps(entry), flush=True)
    report["results"] = results
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "reports.json").write_text(json.dumps(report, indent=2, default=str))


if __name__ == "__main__":
    main(sys.argv[1:])
