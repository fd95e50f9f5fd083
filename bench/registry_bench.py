"""Registry benchmarks on PostgreSQL: agency feed ingest and bulk re-determination at province scale.

    .venv/bin/python bench/registry_bench.py                                   # 1,000,000 students, 3 runs
    .venv/bin/python bench/registry_bench.py --students 100000 --batches 10 --runs 1

(a) ingest: `--batches` batches of `--batch-size` agency records (default 100 x 10,000) through the
    service function `feeds.apply_batch`, one transaction each (validation, keyed-hash matching,
    supersession, re-determination of the students reached, audit), against `--students` enrolled
    students with about 1.9 guardians each. Target: >= 20,000 records/s. Per batch it also reports the
    median CPU seconds of this process and of its PostgreSQL backend (read from /proc: a local server),
    steadier than wall time on a shared machine. `--determined` first determines every student
    (untimed), so the batches meet a province that already has determinations, as a real one does.
(b) `redetermine_region` over every student, chunks of 50,000 committed one by one: cold (no
    determinations: every student gets one), warm (nothing changed: nothing stored), and a dry
    run of a draft rule set. Target: <= 60 s for 1,000,000 students.

The database (`--database`, default aidservice_bench) is dropped and created on the server of
`--server`; the roster is loaded with COPY (not timed). Every timed run starts from the same state
(tables truncated). Times are medians of `--runs`; results also go to bench/out/registry.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
OUT = REPO / "bench" / "out"
WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
CHECK = "10X98765432"
COUNTIES = (
    "320102",
    "320104",
    "320213",
    "320214",
    "320302",
    "320311",
    "320402",
    "320404",
    "320505",
    "320506",
    "320612",
    "320613",
    "320703",
    "320706",
    "320803",
    "320804",
    "320902",
    "320903",
    "321002",
    "321003",
    "321102",
    "321111",
    "321202",
    "321203",
    "321302",
    "321311",
)
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
FEES = {
    "preschool": (1800, 4800),
    "senior_high": (1200, 2000),
    "vocational": (2000, 3600),
    "undergraduate": (4600, 6600),
    "master": (8000, 8000),
    "doctor": (10000, 10000),
}
SOURCES = {  # batches per 100, statuses with weights, share of records about enrolled students or guardians
    "poverty_alleviation": (40, {"registered_poor": 0.85, "poverty_monitored": 0.15}),
    "civil_affairs": (
        40,
        {
            "subsistence_allowance": 0.8,
            "extreme_poverty_support": 0.08,
            "orphan": 0.06,
            "de_facto_orphan": 0.06,
        },
    ),
    "disabled_persons_federation": (15, {"disabled": 1.0}),
    "veterans_affairs": (5, {"martyr_child": 1.0}),
}
HOUSEHOLD = {"registered_poor", "poverty_monitored", "subsistence_allowance"}
PER_SCHOOL = 400


def id_number(county: str, birth: date, sequence: int) -> str:
    first17 = f"{county}{birth:%Y%m%d}{sequence % 1000:03d}"
    return first17 + CHECK[sum(int(d) * w for d, w in zip(first17, WEIGHTS, strict=True)) % 11]


def person_number(kind: int, i: int) -> str:
    """Unique valid numbers per kind (0 students, 1 guardians, 2 people no school knows)."""
    base = (date(2000, 1, 1), date(1965, 1, 1), date(1940, 1, 1))[kind]
    county, rest = COUNTIES[i % len(COUNTIES)], i // len(COUNTIES)
    return id_number(county, base + timedelta(days=rest // 1000), rest % 1000)


# ------------------------------------------------------------------------------------------ database


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


def migrate(app: Any) -> None:
    from flask_migrate import upgrade

    with app.app_context():
        upgrade()


# ------------------------------------------------------------------------------------------ roster


@dataclass
class Roster:
    students: int
    guardians: list[tuple[int, int]]  # (student index, guardian index)


def load_roster(url: str, n: int, seed: int) -> Roster:
    """Counties, schools, `n` students and their guardians, with COPY.

    Rows are generated before each COPY opens: a COPY left waiting on a slow client keeps every
    `DROP DATABASE` on the server waiting too (other test runs share the server).
    """
    import psycopg

    rnd = random.Random(seed)
    now = datetime.now(UTC)
    stages = rnd.choices(list(STAGES), weights=list(STAGES.values()), k=n)
    schools = _schools(n, rnd)
    school_rows = [
        (
            code,
            f"学校{code}",
            county,
            county[:4] + "00",
            json.dumps([stage]),
            "public",
            stage == "preschool" and rnd.random() < 0.85,
            fee,
            stage in ("master", "doctor") and rnd.random() < 0.2,
            now,
            now,
        )
        for code, (county, stage, fee) in schools.items()
    ]
    student_rows = _student_rows(stages, schools, rnd, now)
    guardian_rows, guardians = _guardian_rows(stages, rnd)
    with psycopg.connect(libpq(url)) as conn, conn.cursor() as cur:
        _copy(
            cur,
            "regions (code, name, level, parent_code)",
            [(code, f"县{code}", "county", code[:4] + "00") for code in COUNTIES],
        )
        _copy(
            cur,
            "schools (code, name, region_code, city_code, stages, kind, inclusive_kindergarten, "
            "tuition_fee_fen, central_university, created_at, updated_at)",
            school_rows,
        )
        _copy(
            cur,
            "students (id, student_id, id_cipher, id_key_id, id_hmac, id_mask, name, school_code, class_name, stage, grade, "
            "boarding, rural_hukou, agri_major, arts_performance_major, retired_soldier, salaried, "
            "created_at, updated_at)",
            student_rows,
        )
        _copy(
            cur,
            "guardians (student_pk, id_cipher, id_key_id, id_hmac, id_mask, name, relation)",
            guardian_rows,
        )
        cur.execute("SELECT setval(pg_get_serial_sequence('students', 'id'), %s)", (n,))
        conn.commit()
        conn.autocommit = True
        cur.execute("ANALYZE")
    return Roster(n, guardians)


def _copy(cursor: Any, target: str, rows: list[tuple[Any, ...]]) -> None:
    with cursor.copy(f"COPY {target} FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)


def _vault() -> Any:
    """The development keyring and HMAC key (what `make run` and the benchmarks' app use)."""
    from aidservice.crypto import vault_from_config
    from config import DevelopmentConfig

    return vault_from_config(DevelopmentConfig.from_env({}))


def _sealed(vault: Any, kind: str, number: str) -> tuple[Any, ...]:
    """A number's stored columns (id_cipher, id_key_id, id_hmac, id_mask): the same seal as every writer."""
    from aidservice.crypto import SEALED_COLUMNS

    columns = vault.seal(kind, number)
    return tuple(columns[name] for name in SEALED_COLUMNS)


def _student_rows(
    stages: list[str], schools: dict[str, tuple[str, str, int | None]], rnd: random.Random, now: datetime
) -> list[tuple[Any, ...]]:
    vault = _vault()

    by_stage: dict[str, list[str]] = {}
    for code, (_county, stage, _fee) in schools.items():
        by_stage.setdefault(stage, []).append(code)
    rows = []
    for i, stage in enumerate(stages):
        number = person_number(0, i)
        rows.append(
            (
                i + 1,
                f"S{i:08d}",
                *_sealed(vault, "student", number),
                "学生",
                by_stage[stage][i % len(by_stage[stage])],
                "一班",
                stage,
                rnd.randint(1, YEARS[stage]),
                stage != "primary",
                rnd.random() < 0.35,
                stage == "vocational" and rnd.random() < 0.12,
                stage == "vocational" and rnd.random() < 0.04,
                stage == "undergraduate" and rnd.random() < 0.01,
                stage in ("master", "doctor") and rnd.random() < 0.08,
                now,
                now,
            )
        )
    return rows


def _guardian_rows(
    stages: list[str], rnd: random.Random
) -> tuple[list[tuple[Any, ...]], list[tuple[int, int]]]:
    """About 1.9 guardians a student (half the graduate students list none)."""
    vault = _vault()

    rows, guardians = [], []
    for i, stage in enumerate(stages):
        count = (
            0 if stage in ("master", "doctor") and rnd.random() < 0.5 else (2 if rnd.random() < 0.9 else 1)
        )
        for relation in ("father", "mother")[:count]:
            number = person_number(1, len(guardians))
            rows.append((i + 1, *_sealed(vault, "guardian", number), "家长", relation))
            guardians.append((i, len(guardians)))
    return rows, guardians


def _schools(n: int, rnd: random.Random) -> dict[str, tuple[str, str, int | None]]:
    schools: dict[str, tuple[str, str, int | None]] = {}
    for stage, share in STAGES.items():
        for k in range(max(1, round(n * share / PER_SCHOOL))):
            county = COUNTIES[k % len(COUNTIES)]
            fee = FEES.get(stage)
            schools[f"{county}{list(STAGES).index(stage)}{k:05d}"] = (
                county,
                stage,
                None if fee is None else rnd.randrange(fee[0], fee[1] + 1, 100) * 100,
            )
    return schools


# ------------------------------------------------------------------------------------------ feeds


def make_batches(roster: Roster, batches: int, size: int, seed: int) -> list[tuple[str, dict[str, Any]]]:
    """`batches` batches of `size` records: 25 % on a guardian, 5 % on a student, the rest on people no
    school knows; about 10 % re-send an earlier record (a new validity: it supersedes the old one)."""
    rnd = random.Random(seed + 1)
    plan = [source for source, (share, _) in SOURCES.items() for _ in range(max(1, batches * share // 100))]
    plan = (plan * (batches // len(plan) + 1))[:batches]
    rnd.shuffle(plan)
    sent: dict[str, list[tuple[str, str]]] = {source: [] for source in SOURCES}
    stranger = 0
    out = []
    for index, source in enumerate(plan):
        records, seen = [], set()
        statuses, weights = zip(*SOURCES[source][1].items(), strict=True)
        while len(records) < size:
            if sent[source] and index >= 10 and rnd.random() < 0.1:
                number, status = rnd.choice(sent[source])
            else:
                status = rnd.choices(statuses, weights=weights)[0]
                roll = rnd.random()
                if roll < 0.25 and (status in HOUSEHOLD or status == "disabled"):
                    number = person_number(1, rnd.choice(roster.guardians)[1])
                elif roll < 0.30:
                    number = person_number(0, rnd.randrange(roster.students))
                else:
                    number = person_number(2, stranger)
                    stranger += 1
            if (number, status) in seen:
                continue
            seen.add((number, status))
            sent[source].append((number, status))
            start = date(2017, 1, 1) + timedelta(days=rnd.randrange(1300))
            ended = rnd.random() < 0.1
            records.append(
                {
                    "id_number": number,
                    "name": "某人",
                    "status": status,
                    "valid_from": start.isoformat(),
                    "valid_to": (start + timedelta(days=rnd.randrange(30, 700))).isoformat()
                    if ended
                    else None,
                    "attributes": {"disability_grade": rnd.randint(1, 4)} if status == "disabled" else {},
                }
            )
        out.append((source, {"batch_id": f"{source}-{index:04d}", "records": records}))
    return out


def reset(url: str, *tables: str) -> None:
    """Empty the tables a run writes, as a fresh database has them (TRUNCATE, no ANALYZE of empty tables)."""
    import psycopg

    with psycopg.connect(libpq(url), autocommit=True) as conn:
        conn.execute(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE")
        conn.execute("CHECKPOINT")


def clients(app: Any) -> dict[str, Any]:
    from aidservice.extensions import db
    from aidservice.services.accounts.clients import create_client
    from aidservice.services.actors import Actor

    with app.app_context():
        made = {
            source: create_client(
                db.session, actor=Actor.system("bench"), name=f"{source} bench", source=source
            )
            for source in SOURCES
        }
        db.session.commit()
        return {source: (new.client.id, new.token) for source, new in made.items()}


def ingest(app: Any, batches: list[tuple[str, dict[str, Any]]], tokens: dict[str, Any]) -> dict[str, Any]:
    """Every batch through the service function, one transaction each; seconds and CPU seconds per batch."""
    from sqlalchemy import text

    from aidservice.extensions import db
    from aidservice.services.accounts.auth import resolve_token
    from aidservice.services.registry.feeds import apply_batch
    from aidservice.wiring import settings

    seconds, cpu, server, matched, reevaluated = [], [], [], 0, 0
    with app.app_context():
        actors = {source: resolve_token(db.session, token) for source, (_id, token) in tokens.items()}
        backend_pid = db.session.execute(text("SELECT pg_backend_pid()")).scalar_one()
        db.session.commit()
        service = settings()
        for source, body in batches:
            start, cpu_start, server_start = (
                time.perf_counter(),
                time.process_time(),
                backend_cpu(backend_pid),
            )
            outcome = apply_batch(
                db.session, actor=actors[source], settings=service, source=source, body=body
            )
            db.session.commit()
            seconds.append(time.perf_counter() - start)
            cpu.append(time.process_time() - cpu_start)
            server.append(backend_cpu(backend_pid) - server_start)
            matched += outcome.response["matched_students"]
            reevaluated += outcome.response["reevaluated"]
        db.session.remove()
    records = sum(len(body["records"]) for _s, body in batches)
    total = sum(seconds)
    return {
        "records": records,
        "seconds": total,
        "records_per_s": records / total,
        "batch_median_s": statistics.median(seconds),
        "batch_max_s": max(seconds),
        "batch_median_cpu_s": statistics.median(cpu),
        "batch_median_server_cpu_s": statistics.median(server),
        "matched_students": matched,
        "reevaluated": reevaluated,
    }


def backend_cpu(pid: int) -> float:
    """CPU seconds (user + system) of a local PostgreSQL backend so far, from /proc; NaN if not readable."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def partition(
    batches: list[tuple[str, dict[str, Any]]], workers: int
) -> list[list[tuple[str, dict[str, Any]]]]:
    """Whole sources to workers (a source's batches stay in order in one worker), balanced by record count."""
    by_source: dict[str, list[tuple[str, dict[str, Any]]]] = {}
    for source, body in batches:
        by_source.setdefault(source, []).append((source, body))
    parts: list[list[tuple[str, dict[str, Any]]]] = [[] for _ in range(workers)]
    for items in sorted(by_source.values(), key=len, reverse=True):
        min(parts, key=len).extend(items)
    return [part for part in parts if part]


def _worker(
    url: str, part: list[tuple[str, dict[str, Any]]], tokens: dict[str, Any], ready: Any, go: Any, out: Any
) -> None:
    """One agency client process: its own app and connection; starts when every worker is ready."""
    app = make_app(url)
    ready.put(1)
    go.wait()
    started = time.time()
    result = ingest(app, part, tokens)
    out.put({**result, "started": started, "ended": time.time()})


def ingest_concurrently(
    url: str, batches: list[tuple[str, dict[str, Any]]], tokens: dict[str, Any], workers: int
) -> dict[str, Any]:
    """`workers` agency clients at once (processes), each applying its sources' batches in order."""
    import multiprocessing

    context = multiprocessing.get_context("spawn")
    parts = partition(batches, workers)
    ready, out, go = context.Queue(), context.Queue(), context.Event()
    procs = [context.Process(target=_worker, args=(url, part, tokens, ready, go, out)) for part in parts]
    for proc in procs:
        proc.start()
    for _ in procs:
        ready.get()
    start = time.time()
    go.set()
    results = [out.get() for _ in procs]
    for proc in procs:
        proc.join()
    wall = max(r["ended"] for r in results) - start
    records = sum(r["records"] for r in results)
    return {
        "records": records,
        "seconds": wall,
        "records_per_s": records / wall,
        "workers": len(parts),
        "batch_median_s": statistics.median(r["batch_median_s"] for r in results),
        "batch_median_cpu_s": statistics.median(r["batch_median_cpu_s"] for r in results),
        "batch_median_server_cpu_s": statistics.median(r["batch_median_server_cpu_s"] for r in results),
        "matched_students": sum(r["matched_students"] for r in results),
        "reevaluated": sum(r["reevaluated"] for r in results),
    }


def redetermine(app: Any, **kwargs: Any) -> dict[str, Any]:
    from aidservice.extensions import db
    from aidservice.services.actors import Actor
    from aidservice.services.determinations.region import redetermine_region
    from aidservice.wiring import settings

    with app.app_context():
        start = time.perf_counter()
        result = redetermine_region(
            db.session,
            actor=Actor.system("bench"),
            settings=settings(),
            checkpoint=None if kwargs.get("dry_run") else db.session.commit,
            **kwargs,
        )
        db.session.commit()
        seconds = time.perf_counter() - start
        db.session.remove()
    out = {
        "seconds": seconds,
        "students": result.students,
        "stored": result.stored,
        "changed": result.changed,
        "students_per_s": result.students / seconds,
    }
    if result.diff is not None:
        out["diff_students"] = result.diff.students
    return out


def draft_rules() -> Any:
    """The policy rules with the junior living subsidy for subsistence-allowance families raised."""
    from aidservice.engine import load_rules

    target = Path(tempfile.mkdtemp()) / "rules"
    shutil.copytree(REPO / "rules", target)
    path = target / "parameters" / "basic_education.yaml"
    path.write_text(
        path.read_text(encoding="utf-8").replace("values: {2018-09-01: 2000}", "values: {2018-09-01: 2200}"),
        encoding="utf-8",
    )
    return load_rules(target)


# ------------------------------------------------------------------------------------------ main


def timed_runs(
    runs: int, prepare: Callable[[], None], measure: Callable[[], dict[str, Any]]
) -> list[dict[str, Any]]:
    results = []
    for _ in range(runs):
        prepare()
        results.append(measure())
        print(
            "   ",
            json.dumps({k: round(v, 3) if isinstance(v, float) else v for k, v in results[-1].items()}),
            flush=True,
        )
    return results


def median_of(results: list[dict[str, Any]], key: str) -> float:
    return statistics.median(r[key] for r in results)


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
        "load": os.getloadavg(),
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=1_000_000)
    parser.add_argument("--batches", type=int, default=100)
    parser.add_argument("--batch-size", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seed", type=int, default=2020)
    parser.add_argument(
        "--server",
        default=os.environ.get("BENCH_SERVER_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"),
    )
    parser.add_argument("--database", default="aidservice_bench")
    parser.add_argument("--skip", nargs="*", default=[], choices=["ingest", "redetermine"])
    parser.add_argument("--workers", type=int, default=1, help="concurrent agency clients during ingest")
    parser.add_argument(
        "--determined",
        action="store_true",
        help="before each ingest run, determine every student (redetermine cold, untimed): the "
        "ingest then meets a province that already has determinations",
    )
    parser.add_argument("--out", default="registry", help="results file name under bench/out/ (.json)")
    args = parser.parse_args(argv)
    report: dict[str, Any] = {"machine": machine(), "args": vars(args)}
    url = create_database(args.server, args.database)
    app = make_app(url)
    migrate(app)
    start = time.perf_counter()
    roster = load_roster(url, args.students, args.seed)
    report["load_seconds"] = time.perf_counter() - start
    print(
        f"roster: {args.students} students, {len(roster.guardians)} guardians in {report['load_seconds']:.1f} s",
        flush=True,
    )
    tokens = clients(app)
    batches = make_batches(roster, args.batches, args.batch_size, args.seed)
    feed_tables = ("feed_batches", "agency_records", "determinations", "audit_events", "counters", "jobs")
    if "ingest" not in args.skip:
        print(f"ingest: {args.batches} x {args.batch_size} records, {args.runs} run(s)", flush=True)

        def measure() -> dict[str, Any]:
            if args.workers > 1:
                return ingest_concurrently(url, batches, tokens, args.workers)
            return ingest(app, batches, tokens)

        def prepare() -> None:
            reset(url, *feed_tables)
            if args.determined:
                done = redetermine(app)
                print(
                    f"    determined first: {done['stored']} students in {done['seconds']:.1f} s", flush=True
                )

        runs = timed_runs(args.runs, prepare, measure)
        report["ingest"] = {
            "runs": runs,
            "median_records_per_s": median_of(runs, "records_per_s"),
            "median_seconds": median_of(runs, "seconds"),
        }
    else:
        ingest(app, batches, tokens)
    if "redetermine" not in args.skip:
        print(f"redetermine cold (no determinations), {args.runs} run(s)", flush=True)
        cold = timed_runs(args.runs, lambda: reset(url, "determinations", "jobs"), lambda: redetermine(app))
        print("redetermine warm (nothing changed)", flush=True)
        warm = timed_runs(args.runs, lambda: None, lambda: redetermine(app))
        print("redetermine dry run of a draft rule set", flush=True)
        rules = draft_rules()
        dry = timed_runs(args.runs, lambda: None, lambda: redetermine(app, rules=rules, dry_run=True))
        report["redetermine"] = {
            name: {"runs": runs, "median_seconds": median_of(runs, "seconds")}
            for name, runs in (("cold", cold), ("warm", warm), ("dry_run", dry))
        }
    report["machine"]["load_after"] = os.getloadavg()
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / f"{args.out}.json").write_text(json.dumps(report, indent=2, default=str))
    print(json.dumps({k: v for k, v in report.items() if k != "args"}, indent=2, default=str)[:4000])


if __name__ == "__main__":
    main(sys.argv[1:])
