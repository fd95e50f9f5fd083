"""Identity numbers at rest: cost of sealing and opening one number, and `aid keys rotate` throughput.

    .venv/bin/python bench/idcrypto_bench.py [--numbers 50000] [--students 100000] [--runs 5]

Seal/open: medians over --runs passes of --numbers numbers (µs per number). Rotation: a scratch PostgreSQL
database (dropped afterwards) gets --students students with two guardians each, sealed under the dev key
by COPY, then `aid keys rotate` moves them to a second key; rows per second of the whole command.
"""

from __future__ import annotations

import argparse
import base64
import os
import platform
import statistics
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

K2 = "k2:" + base64.b64encode(b"benchmark key two, not a secret!").decode()


def micro(numbers: int, runs: int) -> dict[str, float]:
    from aidservice.crypto import vault_from_config
    from config import DevelopmentConfig
    from tests.world.factories import id_number

    vault = vault_from_config(DevelopmentConfig.from_env({}))
    plain = [id_number(i) for i in range(numbers)]
    seal, open_ = [], []
    for _ in range(runs):
        start = time.perf_counter()
        sealed = [vault.seal("student", n) for n in plain]
        seal.append((time.perf_counter() - start) / numbers * 1e6)
        start = time.perf_counter()
        for s in sealed:
            vault.open("student", cipher=s["id_cipher"], key_id=s["id_key_id"], hmac=s["id_hmac"])
        open_.append((time.perf_counter() - start) / numbers * 1e6)
    return {"seal_us": statistics.median(seal), "open_us": statistics.median(open_)}


def rotation(students: int, server: str) -> dict[str, float]:
    import psycopg

    from aidservice.crypto import SEALED_COLUMNS, vault_from_config
    from config import DevelopmentConfig
    from tests.world.factories import id_number

    name = f"h2_idcrypto_bench_{uuid.uuid4().hex[:6]}"
    with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = f"{server}/{name}"
    env = {**os.environ, "DATABASE_URL": url, "AID_ENV": "development"}
    try:
        subprocess.run(
            [sys.executable, "-m", "flask", "--app", "wsgi", "db", "upgrade"],
            cwd=ROOT,
            env=env,
            check=True,
            capture_output=True,
        )
        vault = vault_from_config(DevelopmentConfig.from_env({}))
        now = datetime.now(UTC)
        with psycopg.connect(url) as conn, conn.cursor() as cur:
            cur.execute(
                "INSERT INTO schools (code, name, region_code, city_code, stages, kind, inclusive_kindergarten,"
                " central_university, created_at, updated_at) VALUES ('B1', 'b', '320100', '320100', "
                "'[\"junior\"]', 'public', false, false, now(), now())"
            )
            with cur.copy(
                "COPY students (id, student_id, " + ", ".join(SEALED_COLUMNS) + ", name, school_code, "
                "class_name, stage, grade, boarding, rural_hukou, agri_major, arts_performance_major, "
                "retired_soldier, salaried, created_at, updated_at) FROM STDIN"
            ) as copy:
                for i in range(students):
                    s = vault.seal("student", id_number(i))
                    copy.write_row(
                        (
                            i + 1,
                            f"B{i:07d}",
                            *(s[c] for c in SEALED_COLUMNS),
                            "学生",
                            "B1",
                            "一班",
                            "junior",
                            1,
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
            with cur.copy(
                "COPY guardians (student_pk, " + ", ".join(SEALED_COLUMNS) + ", name, relation) FROM STDIN"
            ) as copy:
                for i in range(students):
                    for k, relation in enumerate(("father", "mother")):
                        s = vault.seal("guardian", id_number(2 * i + k, born=datetime(1980, 1, 1).date()))
                        copy.write_row((i + 1, *(s[c] for c in SEALED_COLUMNS), "家长", relation))
            conn.commit()
        env["AID_ID_KEYS"] = f"dev:{base64.b64encode(vault.keys['dev']).decode()},{K2}"
        start = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "flask", "--app", "wsgi", "aid", "keys", "rotate", "--batch", "2000"],
            cwd=ROOT,
            env=env,
            check=True,
            capture_output=True,
        )
        seconds = time.perf_counter() - start
    finally:
        with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    rows = students * 3
    return {"rotate_rows": rows, "rotate_seconds": seconds, "rotate_rows_per_second": rows / seconds}


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--numbers", type=int, default=50_000)
    parser.add_argument("--students", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--server", default="postgresql://postgres@127.0.0.1:5432")
    args = parser.parse_args(argv)
    print(
        f"# {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {platform.node()}, {os.cpu_count()} CPUs, "
        f"load {os.getloadavg()[0]:.1f}"
    )
    print(micro(args.numbers, args.runs))
    if args.students:
        print(rotation(args.students, args.server))


if __name__ == "__main__":
    main(sys.argv[1:])
