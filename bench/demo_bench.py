"""`aid demo-data --students N` on PostgreSQL, timed end to end, with the CPU each side used.

    .venv/bin/python bench/demo_bench.py                          # 1,000,000 students into h6_demo_bench
    .venv/bin/python bench/demo_bench.py --students 100000 --runs 3

Each run drops, creates and migrates the database, then runs the command as a subprocess (what a
user types) and records: wall time; the command's phase times (its own progress notes); the CPU
seconds of the command and of its PostgreSQL backends (sampled from /proc every 0.5 s, so a
backend that exits between samples loses at most its last half second); the load average before
and after (the machine is shared: wall time alone says little when other jobs hold the CPUs).
Results go to bench/out/demo-<students>.json; the database is left loaded for the load test.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
OUT = REPO / "bench" / "out"
SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432"
TICK = os.sysconf("SC_CLK_TCK")
NOTE = re.compile(r"^\s*([\d.]+) s  (.+)$")


def cpu_of(pid: int) -> float | None:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / TICK


class BackendSampler(threading.Thread):
    """Keeps the last CPU reading of every PostgreSQL backend connected to one database."""

    def __init__(self, database: str) -> None:
        super().__init__(daemon=True)
        self.database, self.seen, self.done = database, {}, threading.Event()

    def run(self) -> None:
        import psycopg

        with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as conn:
            while not self.done.wait(0.5):
                pids = [
                    p
                    for (p,) in conn.execute(
                        "SELECT pid FROM pg_stat_activity WHERE datname = %s", (self.database,)
                    )
                ]
                for pid in pids:
                    cpu = cpu_of(pid)
                    if cpu is not None:
                        self.seen[pid] = cpu

    def total(self) -> float:
        return round(sum(self.seen.values()), 1)


def fresh_database(name: str) -> str:
    import psycopg

    with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    url = f"{SERVER}/{name}"
    flask = [str(REPO / ".venv" / "bin" / "flask"), "--app", "wsgi"]
    subprocess.run(
        [*flask, "db", "upgrade"],
        cwd=REPO,
        env={**os.environ, "DATABASE_URL": url},
        check=True,
        capture_output=True,
    )
    return url


def one_run(database: str, students: int, seed: int) -> dict[str, Any]:
    url = fresh_database(database)
    sampler = BackendSampler(database)
    sampler.start()
    load_before = os.getloadavg()
    command = [
        str(REPO / ".venv" / "bin" / "flask"),
        "--app",
        "wsgi",
        "aid",
        "demo-data",
        "--students",
        str(students),
        "--seed",
        str(seed),
        "--logins",
        str(OUT / f"demo-logins-{database}.txt"),
    ]
    started = time.perf_counter()
    before = os.times()
    done = subprocess.run(
        command, cwd=REPO, env={**os.environ, "DATABASE_URL": url}, capture_output=True, text=True
    )
    wall = time.perf_counter() - started
    after = os.times()
    sampler.done.set()
    sampler.join()
    if done.returncode != 0:
        raise SystemExit(f"demo-data failed:\n{done.stderr[-3000:]}")
    notes = [
        (float(m[1]), m[2])
        for line in done.stderr.replace("\r", "\n").splitlines()
        if (m := NOTE.match(line))
    ]
    return {
        "wall_s": round(wall, 1),
        "command_cpu_s": round(
            after.children_user + after.children_system - before.children_user - before.children_system, 1
        ),
        "postgres_cpu_s": sampler.total(),
        "phases": notes,
        "loadavg_before": [round(x, 2) for x in load_before],
        "loadavg_after": [round(x, 2) for x in os.getloadavg()],
        "summary": done.stderr.strip().splitlines()[-1],
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=2020)
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--database", default="h6_demo_bench")
    args, _rest = parser.parse_known_args(argv)
    OUT.mkdir(parents=True, exist_ok=True)
    runs = []
    for i in range(args.runs):
        run = one_run(args.database, args.students, args.seed)
        runs.append(run)
        print(f"run {i + 1}: {json.dumps(run, ensure_ascii=False)}", flush=True)
    result = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "students": args.students,
        "runs": runs,
        "median_wall_s": statistics.median(r["wall_s"] for r in runs),
        "median_cpu_s": statistics.median(r["command_cpu_s"] + r["postgres_cpu_s"] for r in runs),
    }
    (OUT / f"demo-{args.students}.json").write_text(json.dumps(result, indent=2, ensure_ascii=False))
    print(
        f"demo-data {args.students:,} students: median wall {result['median_wall_s']} s, "
        f"median CPU (command + PostgreSQL) {result['median_cpu_s']} s"
    )
    return result


if __name__ == "__main__":
    main()
