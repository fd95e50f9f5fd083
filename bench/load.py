"""Load test: gunicorn serving a PostgreSQL province, 50 concurrent clients on loopback for 60 s.

    .venv/bin/python bench/load.py --database h6_load                    # setup + serve + load
    .venv/bin/python bench/load.py --database h6_load --think-ms 0       # closed loop, no think time

The database must already hold a province (`aid demo-data --students N` on PostgreSQL). The script

1. creates accounts and agency clients for this run (`load<tag>-…`, through the services): one school
   officer for each of the largest schools, a county and a city administrator, two agency clients;
2. starts gunicorn (`--workers`, gevent by default or `--worker-class gthread|sync` with `--threads`,
   `--pool-size` connections per worker) on 127.0.0.1:`--port` with production's settings (development keys: the demo's), reaching PostgreSQL
   over TCP or, with `--socket-dir`, its Unix socket; with `--feed-workers N` a second gunicorn on `--port` + 1
   serves the agencies' calls (as a proxy routing /api/v1/feeds/ would), at niceness `--feed-nice`;
3. logs everyone in over HTTP, then runs `--clients` asyncio clients (aiohttp, one process) for
   `--warmup` + `--duration` seconds, each with a role and that role's mix of calls:

   | role (clients) | calls |
   |---|---|
   | public calculator (24 %) | POST /evaluate |
   | school officer (60 %) | GET application, GET student, POST application, POST action, GET applications |
   | county/city administrator (8 %) | GET student, GET applications, GET archived report (programs/regions of the region) |
   | agency (8 %) | POST feed batch of 100 records (own and guardians' numbers), GET outcomes page |

   The administrators' report read is a download from the report archive (GET /api/v1/reports/archive/{id},
   audited as every download is): setup archives the programs and regions reports of 2020-2021-autumn for
   each administrator's region through the archive service (reusing an archived copy from an earlier run),
   as the schedule or a report job would. Generating a report live (GET /api/v1/reports/{kind}) reads the
   whole region and is a job-sized workload, measured by bench/reports_bench.py, not here.
   `--mix online` leaves out reports, feed batches and outcome pages (the agencies' share goes to the
   calculator), to see the interactive routes without the heavy ones.
   Every client waits an exponentially distributed think time (mean `--think-ms`) between calls.
   Only calls that start after the warm-up count. Any status other than the expected one is an error.
4. reports per route: count, errors, p50/p95/p99 (ms); overall requests/s; CPU seconds used by the
   load generator, the gunicorn processes and the PostgreSQL backends of the database; the load
   average before and after. Results go to bench/out/load-<tag>.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import resource
import secrets
import signal
import subprocess
import sys
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
OUT = REPO / "bench" / "out"
SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432"
PASSWORD = "load-test-password-2020"  # accounts made for one run of the benchmark only
TICK = os.sysconf("SC_CLK_TCK")
TARGET_P99_MS = {"POST /evaluate": 100, "GET /applications/{id}": 100}


# ------------------------------------------------------------------------------------------ setup


def setup(url: str, tag: str, officers: int) -> dict[str, Any]:
    """Accounts and clients for this run, and the students each officer may apply for."""
    from sqlalchemy import func, select

    from aidservice import create_app
    from aidservice.extensions import db
    from aidservice.models import Application, Guardian, School, Student
    from aidservice.services.accounts.accounts import create_user
    from aidservice.services.accounts.clients import create_client
    from aidservice.services.actors import Actor, region_prefix
    from aidservice.wiring import settings
    from config import DevelopmentConfig

    app = create_app(DevelopmentConfig.from_env({"DATABASE_URL": url, "AID_RULES_DIR": str(REPO / "rules")}))
    with app.app_context():
        session, system = db.session, Actor.system("bench-load")
        taken = select(Application.student_pk)
        sizes = (
            select(Student.school_code, func.count().label("n"))
            .where(Student.id.not_in(taken))
            .group_by(Student.school_code)
            .order_by(func.count().desc(), Student.school_code)
            .limit(officers)
        )
        plan: dict[str, Any] = {"officers": [], "admins": [], "agencies": [], "tag": tag}
        for i, (code, _n) in enumerate(session.execute(sizes).all()):
            name = f"load{tag}o{i}"
            create_user(
                session,
                actor=system,
                username=name,
                role="school_officer",
                password=PASSWORD,
                school_code=code,
            )
            students = list(
                session.scalars(
                    select(Student.student_id)
                    .where(Student.school_code == code, Student.id.not_in(taken))
                    .order_by(Student.student_id)
                )
            )
            plan["officers"].append({"username": name, "school": code, "students": students})
        first = session.get(School, plan["officers"][0]["school"])
        for role, region in (("county_admin", first.region_code), ("city_admin", first.city_code)):
            name = f"load{tag}{role.split('_')[0]}"
            create_user(
                session, actor=system, username=name, role=role, password=PASSWORD, region_code=region
            )
            in_region = list(
                session.scalars(
                    select(Student.student_id)
                    .join(School)
                    .where(School.region_code.startswith(region_prefix(region)))
                    .order_by(Student.id)
                    .limit(2000)
                )
            )
            plan["admins"].append(
                {
                    "username": name,
                    "region": region,
                    "students": in_region,
                    "reports": archived_reports(session, system, region),
                }
            )
        vault = settings().ids  # numbers are sealed at rest: the agencies' records carry them in full
        people = [
            vault.open_row("guardian", g)
            for g in session.scalars(select(Guardian).order_by(Guardian.id).limit(20000))
        ]
        people += [
            vault.open_row("student", s)
            for s in session.scalars(select(Student).order_by(Student.id.desc()).limit(5000))
        ]
        for source in ("civil_affairs", "poverty_alleviation"):
            made = create_client(session, actor=system, name=f"load {tag} {source}", source=source)
            plan["agencies"].append({"source": source, "token": made.token})
        plan["people"] = people
        session.commit()
        db.engine.dispose()
    return plan


REPORT_PERIOD = "2020-2021-autumn"
REPORT_KINDS = ("programs", "regions")


def archived_reports(session: Any, actor: Any, region: str) -> list[int]:
    """Archive ids of the region's reports the administrators download: an archived copy if there is one, else
    generated now through the archive service (what the monthly schedule or a report job stores)."""
    from sqlalchemy import select

    from aidservice.models.report import ArchivedReport
    from aidservice.services.reports import archive
    from aidservice.wiring import settings

    ids = []
    for kind in REPORT_KINDS:
        found = session.scalar(
            select(ArchivedReport.id)
            .where(
                ArchivedReport.kind == kind,
                ArchivedReport.period == REPORT_PERIOD,
                ArchivedReport.region_code == region,
                ArchivedReport.format == "json",
            )
            .order_by(ArchivedReport.id.desc())
            .limit(1)
        )
        if found is None:
            due = archive.Due(kind, REPORT_PERIOD, region, "json", datetime.now(UTC), "bench")
            row = archive.archive_one(session, actor=actor, settings=settings(), due=due, trigger="manual")
            assert row is not None, f"{kind} report of {region} neither archived nor generated"
            found = row.id
            session.commit()
        ids.append(found)
    return ids


# ------------------------------------------------------------------------------------------ server


def start_server(
    url: str,
    port: int,
    workers: int,
    threads: int,
    kind: str = "gevent",
    switch_ms: float | None = None,
    pool_size: int | None = None,
    nice: int = 0,
) -> subprocess.Popen[bytes]:
    # The demo province was loaded with the development keys, which production refuses: the development
    # configuration with production's secure cookies and a random SECRET_KEY serves it the same way.
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "AID_ENV": "development",
        "AID_SECURE_COOKIES": "true",
        "SECRET_KEY": secrets.token_hex(32),
        "AID_RULES_DIR": str(REPO / "rules"),
    }
    if switch_ms:
        env["LOAD_SWITCH_INTERVAL_MS"] = str(switch_ms)
    if pool_size:
        env["AID_DB_POOL_SIZE"] = str(pool_size)
    log = open(OUT / f"gunicorn-{port}.log", "ab")  # noqa: SIM115 - lives as long as the server
    command = (["nice", "-n", str(nice)] if nice else []) + [
        str(REPO / ".venv" / "bin" / "gunicorn"),
        "--no-control-socket",
        "-c",
        str(REPO / "bench" / "gunicorn_load.py"),
        "-k",
        kind,
        "-w",
        str(workers),
        "--threads",
        str(threads),
        "-b",
        f"127.0.0.1:{port}",
        "--backlog",
        "512",
        "wsgi:app",
    ]
    server = subprocess.Popen(command, cwd=REPO, env=env, stdout=log, stderr=log)
    deadline = time.monotonic() + 60
    import urllib.request

    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/health", timeout=2) as answer:
                if answer.status == 200:
                    return server
        except OSError:
            time.sleep(0.5)
    server.terminate()
    raise SystemExit("gunicorn did not answer /api/v1/health within 60 s (see bench/out/gunicorn-*.log)")


def cpu_seconds(pids: list[int]) -> float:
    """utime + stime of these processes (Linux /proc)."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / TICK


def children(pid: int) -> list[int]:
    found = [pid]
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


def backend_pids(url: str, database: str) -> list[int]:
    import psycopg

    with psycopg.connect(url.replace("+psycopg", "")) as conn:
        return [
            pid
            for (pid,) in conn.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()", (database,)
            )
        ]


# ------------------------------------------------------------------------------------------ clients


@dataclass
class Stats:
    started: float = 0.0  # calls that start before this do not count (warm-up)
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))


class Client:
    """One simulated user: a role, its token, and the state its calls need (applications and versions)."""

    def __init__(self, http: Any, base: str, stats: Stats, rnd: random.Random, token: str | None) -> None:
        self.http, self.base, self.stats, self.rnd = http, base, stats, rnd
        self.headers = {"Authorization": f"Bearer {token}"} if token else {}

    async def call(self, route: str, method: str, path: str, expect: int, **kwargs: Any) -> Any:
        begin = time.perf_counter()
        try:
            async with self.http.request(method, self.base + path, headers=self.headers, **kwargs) as answer:
                body = await answer.read()
                status = answer.status
        except Exception as exc:  # a refused or reset connection is an error of the run, not a crash
            body, status = repr(exc).encode(), -1
        elapsed = time.perf_counter() - begin
        if begin >= self.stats.started:
            self.stats.latencies[route].append(elapsed)
            if status != expect:
                self.stats.errors[route].append(f"{status} {body[:200].decode(errors='replace')}")
        if status != expect:
            return None
        return json.loads(body) if body[:1] in (b"{", b"[") else body


def declared(rnd: random.Random) -> dict[str, Any]:
    return {
        "household_size": rnd.randint(2, 7),
        "per_capita_income": f"{rnd.randrange(1500, 60000, 50)}.00",
        "major_illness": rnd.random() < 0.05,
        "disaster": rnd.random() < 0.02,
        "unemployed_parent": rnd.random() < 0.05,
        "single_parent": rnd.random() < 0.06,
        "academic_rank_pct": f"{rnd.randint(1, 100)}.00",
    }


def evaluate_body(rnd: random.Random) -> dict[str, Any]:
    stage = rnd.choice(["primary", "junior", "senior_high", "vocational", "undergraduate"])
    grade = rnd.randint(1, 3)
    facts: dict[str, Any] = {
        "stage": stage,
        "grade": grade,
        "city_code": rnd.choice(["320100", "320300", "320700", "321300"]),
        "household_size": rnd.randint(2, 6),
        "per_capita_income": f"{rnd.randrange(1500, 40000, 50)}.00",
        "boarding": rnd.random() < 0.4,
        "rural_hukou": rnd.random() < 0.35,
    }
    if rnd.random() < 0.1:
        facts["registered_poor"] = True
    return {"as_of": "2020-09-01", "facts": facts, "trace": rnd.random() < 0.2}


async def public(c: Client, stop: float, think: float) -> None:
    while time.perf_counter() < stop:
        await c.call("POST /evaluate", "POST", "/api/v1/evaluate", 200, json=evaluate_body(c.rnd))
        await pause(c.rnd, think)


async def officer(c: Client, plan: dict[str, Any], stop: float, think: float) -> None:
    students: list[str] = list(plan["students"])
    c.rnd.shuffle(students)
    apps: dict[int, dict[str, Any]] = {}  # id -> {version, state}
    ops = ["get_app", "get_student", "create", "act", "list"]
    weights = [35, 20, 15, 20, 10]
    while time.perf_counter() < stop:
        op = c.rnd.choices(ops, weights)[0]
        if op in ("get_app", "act") and not apps:
            op = "create"
        if op == "create" and not students:
            op = "get_student"
        if op == "get_app":
            app_id = c.rnd.choice(list(apps))
            got = await c.call("GET /applications/{id}", "GET", f"/api/v1/applications/{app_id}", 200)
            if got:
                apps[app_id] = {"version": got["version"], "state": got["state"], "level": got["level"]}
        elif op == "get_student":
            sid = c.rnd.choice(plan["students"])
            await c.call("GET /students/{id}", "GET", f"/api/v1/students/{sid}", 200)
        elif op == "create":
            body = {
                "student_id": students.pop(),
                "school_year": "2020-2021",
                "declared": declared(c.rnd),
                "commitment_signed": True,
            }
            made = await c.call("POST /applications", "POST", "/api/v1/applications", 201, json=body)
            if made:
                apps[made["id"]] = {
                    "version": made["version"],
                    "state": made["state"],
                    "level": made["level"],
                }
        elif op == "act":
            await act(c, apps)
        else:
            await c.call("GET /applications", "GET", f"/api/v1/applications?school={plan['school']}", 200)
        await pause(c.rnd, think)


NEXT = {"submitted": "review", "reviewed": "publish_notice", "notice": "object", "objected": "resolve"}


def next_action(state: str, level: str) -> str:
    """The procedure's next step; an application found not in difficulty is rejected, not put on notice."""
    return "reject" if state == "reviewed" and level == "none" else NEXT[state]


async def act(c: Client, apps: dict[int, dict[str, Any]]) -> None:
    open_ = [i for i, a in apps.items() if a["state"] in NEXT]
    if not open_:
        return
    app_id = c.rnd.choice(open_)
    body: dict[str, Any] = {
        "action": next_action(apps[app_id]["state"], apps[app_id]["level"]),
        "version": apps[app_id]["version"],
        "note": "",
    }
    if body["action"] == "reject":
        body["note"] = "家庭经济情况未达认定标准"
    if body["action"] == "object":
        body["note"] = "家长对认定等级有异议"
    if body["action"] == "resolve":
        body |= {"note": "复核维持原认定", "outcome": "dismissed"}
    done = await c.call(
        "POST /applications/{id}/actions", "POST", f"/api/v1/applications/{app_id}/actions", 200, json=body
    )
    if done:
        apps[app_id] = {"version": done["version"], "state": done["state"], "level": done["level"]}


async def admin(c: Client, plan: dict[str, Any], stop: float, think: float, reports: bool = True) -> None:
    while time.perf_counter() < stop:
        roll = c.rnd.random() * (1 if reports else 0.85)
        if roll < 0.45:
            sid = c.rnd.choice(plan["students"])
            await c.call("GET /students/{id}", "GET", f"/api/v1/students/{sid}", 200)
        elif roll < 0.85:
            await c.call("GET /applications", "GET", "/api/v1/applications?limit=50", 200)
        else:  # a report of the region from the archive (generating one live is a job, see the docstring)
            report = c.rnd.choice(plan["reports"])
            await c.call("GET /reports/archive/{id}", "GET", f"/api/v1/reports/archive/{report}", 200)
        await pause(c.rnd, think)


async def agency(
    c: Client, plan: dict[str, Any], people: list[str], tag: str, stop: float, think: float
) -> None:
    status = {"civil_affairs": "subsistence_allowance", "poverty_alleviation": "registered_poor"}[
        plan["source"]
    ]
    cursor: str | None = None
    number = 0
    while time.perf_counter() < stop:
        if c.rnd.random() < 0.3:
            number += 1
            records = [
                {
                    "id_number": n,
                    "name": "张某",
                    "status": status,
                    "valid_from": (date(2020, 1, 1) + timedelta(days=c.rnd.randrange(200))).isoformat(),
                    "valid_to": None,
                    "attributes": {},
                }
                for n in c.rnd.sample(people, 100)
            ]
            body = {"batch_id": f"load-{tag}-{id(c)}-{number}", "records": records}
            await c.call(
                "POST /feeds/{source}/batches",
                "POST",
                f"/api/v1/feeds/{plan['source']}/batches",
                200,
                json=body,
            )
        else:
            query = f"?limit=100&cursor={cursor}" if cursor else "?limit=100"
            page = await c.call(
                "GET /feeds/{source}/outcomes", "GET", f"/api/v1/feeds/{plan['source']}/outcomes{query}", 200
            )
            if page:
                cursor = page.get("next_cursor") or cursor
        await pause(c.rnd, think)


async def pause(rnd: random.Random, think: float) -> None:
    await asyncio.sleep(rnd.expovariate(1 / think) if think > 0 else 0)


async def login(http: Any, base: str, username: str, attempts: int = 5) -> str:
    """Sign in before the run; a connection reset while workers are still starting is retried."""
    import aiohttp

    for attempt in range(1, attempts):
        try:
            return await _sign_in(http, base, username)
        except aiohttp.ClientConnectionError:
            await asyncio.sleep(0.5 * attempt)
    return await _sign_in(http, base, username)  # the last attempt's error is the run's


async def _sign_in(http: Any, base: str, username: str) -> str:
    async with http.post(
        f"{base}/api/v1/auth/login", json={"username": username, "password": PASSWORD}
    ) as answer:
        if answer.status != 200:
            raise SystemExit(f"login of {username} failed: {answer.status} {await answer.text()}")
        return (await answer.json())["token"]


async def run_load(
    plan: dict[str, Any],
    port: int,
    clients: int,
    warmup: float,
    duration: float,
    think: float,
    seed: int,
    online: bool = False,
    feed_port: int | None = None,
) -> Stats:
    """Run the clients; agencies call `feed_port` when given (a proxy routing /api/v1/feeds/ to its own pool)."""
    import aiohttp

    base = f"http://127.0.0.1:{port}"
    feed_base = f"http://127.0.0.1:{feed_port}" if feed_port else base
    stats = Stats()
    connector = aiohttp.TCPConnector(limit=clients + 5)
    timeout = aiohttp.ClientTimeout(total=120)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as http:
        n_admin = max(1, round(clients * 0.08))
        n_agency = 0 if online else max(1, round(clients * 0.08))
        n_public = max(1, round(clients * 0.24)) + (round(clients * 0.08) if online else 0)
        n_officer = clients - n_admin - n_agency - n_public
        officers = plan["officers"][:n_officer]
        tokens = await asyncio.gather(*(login(http, base, o["username"]) for o in officers))
        admin_tokens = await asyncio.gather(*(login(http, base, a["username"]) for a in plan["admins"]))
        now = time.perf_counter()
        stats.started = now + warmup
        stop = stats.started + duration
        rnd = random.Random(seed)
        tasks = []
        for o, token in zip(officers, tokens, strict=True):
            tasks.append(
                officer(Client(http, base, stats, random.Random(rnd.random()), token), o, stop, think)
            )
        for i in range(n_admin):
            a = plan["admins"][i % len(plan["admins"])]
            tasks.append(
                admin(
                    Client(http, base, stats, random.Random(rnd.random()), admin_tokens[i % 2]),
                    a,
                    stop,
                    think,
                    reports=not online,
                )
            )
        for i in range(n_agency):
            g = plan["agencies"][i % len(plan["agencies"])]
            tasks.append(
                agency(
                    Client(http, feed_base, stats, random.Random(rnd.random()), g["token"]),
                    g,
                    plan["people"],
                    plan["tag"],
                    stop,
                    think,
                )
            )
        for _ in range(n_public):
            tasks.append(public(Client(http, base, stats, random.Random(rnd.random()), None), stop, think))
        await asyncio.gather(*tasks)
    return stats


# ------------------------------------------------------------------------------------------ report


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered) + 0.5) - 1))]


def summarise(stats: Stats, duration: float) -> dict[str, Any]:
    routes = {}
    every: list[float] = []
    for route, values in sorted(stats.latencies.items()):
        every += values
        routes[route] = {
            "count": len(values),
            "errors": len(stats.errors.get(route, [])),
            "p50_ms": round(percentile(values, 50) * 1000, 1),
            "p95_ms": round(percentile(values, 95) * 1000, 1),
            "p99_ms": round(percentile(values, 99) * 1000, 1),
            "max_ms": round(max(values) * 1000, 1),
        }
    return {
        "routes": routes,
        "requests": len(every),
        "errors": sum(r["errors"] for r in routes.values()),
        "requests_per_s": round(len(every) / duration, 1),
        "p50_ms": round(percentile(every, 50) * 1000, 1) if every else None,
        "p99_ms": round(percentile(every, 99) * 1000, 1) if every else None,
        "error_examples": {r: e[:3] for r, e in stats.errors.items()},
    }


def print_table(result: dict[str, Any]) -> None:
    print("| route | requests | errors | p50 ms | p95 ms | p99 ms | max ms |")
    print("|---|---|---|---|---|---|---|")
    for route, r in result["routes"].items():
        print(
            f"| {route} | {r['count']} | {r['errors']} | {r['p50_ms']} | {r['p95_ms']} | {r['p99_ms']} | {r['max_ms']} |"
        )
    print(
        f"| all | {result['requests']} | {result['errors']} | {result['p50_ms']} | | {result['p99_ms']} | |"
    )
    print(
        f"requests/s {result['requests_per_s']}; CPU s: load generator {result['cpu']['load_generator']}, "
        f"gunicorn {result['cpu']['gunicorn']}, postgres backends {result['cpu']['postgres']}; "
        f"load average {result['loadavg_before']} -> {result['loadavg_after']}"
    )
    for route, examples in result["error_examples"].items():
        print(f"errors on {route}: {examples}")


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", default="h6_load", help="PostgreSQL database holding a demo province")
    parser.add_argument("--server", default=SERVER)
    parser.add_argument("--port", type=int, default=5306)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument(
        "--worker-class",
        default="gevent",
        choices=["gevent", "gthread", "sync"],
        help="gunicorn worker class (gevent: greenlets; gthread: --threads per process; "
        "sync: one request at a time per process, no keep-alive)",
    )
    parser.add_argument(
        "--pool-size",
        type=int,
        default=None,
        help="database connections each worker keeps open (AID_DB_POOL_SIZE; the service's default "
        "when not given)",
    )
    parser.add_argument(
        "--switch-interval-ms",
        type=float,
        default=None,
        help="each worker's GIL switch interval (sys.setswitchinterval; Python's default is 5 ms)",
    )
    parser.add_argument(
        "--socket-dir",
        default=None,
        help="serve over PostgreSQL's Unix socket in this directory (as a server on the same host is "
        "reached) instead of TCP; setup and the CPU count still use --server",
    )
    parser.add_argument(
        "--feed-workers",
        type=int,
        default=0,
        help="serve the agencies' feed routes (/api/v1/feeds/) from a second gunicorn with this many "
        "gevent workers on --port + 1, as a proxy in front would route them; 0: one server",
    )
    parser.add_argument(
        "--feed-nice",
        type=int,
        default=0,
        help="run the feed pool at this niceness (a lower CPU weight, as systemd's CPUWeight= would "
        "give it), so officers' requests go first when the CPUs are busy",
    )
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--duration", type=float, default=60)
    parser.add_argument("--warmup", type=float, default=5)
    parser.add_argument(
        "--think-ms", type=float, default=100, help="mean think time between a client's calls"
    )
    parser.add_argument("--seed", type=int, default=2020)
    parser.add_argument(
        "--mix",
        choices=["full", "online"],
        default="full",
        help="online: without the heavy calls (reports, feed batches, outcome pages); agency "
        "clients become public-calculator clients",
    )
    args = parser.parse_args(argv)
    OUT.mkdir(parents=True, exist_ok=True)
    url = f"{args.server}/{args.database}"
    tag = datetime.now(UTC).strftime("%H%M%S")
    plan = setup(url, tag, officers=args.clients)
    served = f"{url}?host={args.socket_dir}" if args.socket_dir else url
    server = start_server(
        served,
        args.port,
        args.workers,
        args.threads,
        args.worker_class,
        args.switch_interval_ms,
        args.pool_size,
    )
    feeds = None
    try:
        if args.feed_workers:
            feeds = start_server(
                served,
                args.port + 1,
                args.feed_workers,
                args.threads,
                args.worker_class,
                args.switch_interval_ms,
                args.pool_size,
                nice=args.feed_nice,
            )
        load_before = os.getloadavg()
        self_before = resource.getrusage(resource.RUSAGE_SELF)
        stats = asyncio.run(
            run_load(
                plan,
                args.port,
                args.clients,
                args.warmup,
                args.duration,
                args.think_ms / 1000,
                args.seed,
                online=args.mix == "online",
                feed_port=args.port + 1 if feeds else None,
            )
        )
        # CPU of the whole run (warm-up and logins included): the processes' totals at the end
        self_after = resource.getrusage(resource.RUSAGE_SELF)
        gunicorn_cpu = cpu_seconds(children(server.pid)) + (cpu_seconds(children(feeds.pid)) if feeds else 0)
        pg_cpu = cpu_seconds(backend_pids(args.server + "/postgres", args.database))
        load_after = os.getloadavg()
    finally:
        for process in (server, feeds):
            if process is not None:
                process.send_signal(signal.SIGTERM)
                process.wait(timeout=60)
    result = summarise(stats, args.duration)
    result |= {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "args": vars(args),
        "cpu": {
            "load_generator": round(
                self_after.ru_utime + self_after.ru_stime - self_before.ru_utime - self_before.ru_stime, 1
            ),
            "gunicorn": round(gunicorn_cpu, 1),
            "postgres": round(pg_cpu, 1),
            "window_s": args.warmup + args.duration,
        },
        "loadavg_before": [round(x, 2) for x in load_before],
        "loadavg_after": [round(x, 2) for x in load_after],
    }
    (OUT / f"load-{tag}.json").write_text(json.dumps(result, indent=2, ensure_ascii=False))
    print_table(result)
    return result


if __name__ == "__main__":
    main()
