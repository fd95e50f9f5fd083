"""CPU per request, by route, in one process: what the load test's server spends, without the noise.

    .venv/bin/python bench/request_cpu.py --database lead_demo                 # table of CPU ms per call
    .venv/bin/python bench/request_cpu.py --database lead_demo --profile "GET /applications/{id}"

The app is built as gunicorn builds it (production settings, the demo keys) and called through
Flask's test client, so the figures are the application's own cost: no HTTP parsing, no sockets,
no threads. Accounts come from `bench/load.py`'s setup. Each route is called `--calls` times after
a warm-up; the table gives the median and mean CPU time of the process per call (time.process_time),
which a busy machine slows far less than wall time. `--profile ROUTE` prints a pyinstrument
profile of that route's calls.
"""

from __future__ import annotations

import argparse
import os
import random
import secrets
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

import load  # noqa: E402 - the load test's setup and request bodies


def build_app(url: str) -> Any:
    from aidservice import create_app
    from config import load_config

    # the demo province's development keys, which production refuses; otherwise production's settings
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "AID_ENV": "development",
        "AID_SECURE_COOKIES": "true",
        "SECRET_KEY": secrets.token_hex(32),
        "AID_RULES_DIR": str(REPO / "rules"),
    }
    return create_app(load_config(env))


def calls(client: Any, plan: dict[str, Any], rnd: random.Random) -> dict[str, Callable[[], Any]]:
    """One callable per route of the load mix; each makes one request and checks its status."""

    def login(username: str) -> dict[str, str]:
        answer = client.post("/api/v1/auth/login", json={"username": username, "password": load.PASSWORD})
        if answer.status_code != 200:
            raise SystemExit(f"login failed: {answer.status_code} {answer.get_data(as_text=True)[:200]}")
        return {"Authorization": f"Bearer {answer.get_json()['token']}"}

    officer = plan["officers"][0]
    office = login(officer["username"])
    desks = [(office, officer)] + [(login(o["username"]), o) for o in plan["officers"][1:]]
    for _headers, o in desks:
        o["students_left"] = list(o["students"])
        rnd.shuffle(o["students_left"])
    county = login(plan["admins"][0]["username"])
    agency = {"Authorization": f"Bearer {plan['agencies'][0]['token']}"}
    apps: list[dict[str, Any]] = []

    def expect(answer: Any, status: int) -> Any:
        if answer.status_code != status:
            raise SystemExit(f"{answer.status_code}: {answer.get_data(as_text=True)[:300]}")
        return answer.get_json()

    def create() -> None:
        headers, desk = next(
            (h, o) for h, o in desks if o["students_left"]
        )  # officers of the largest schools
        body = {
            "student_id": desk["students_left"].pop(),
            "school_year": "2020-2021",
            "declared": load.declared(rnd),
            "commitment_signed": True,
        }
        made = expect(client.post("/api/v1/applications", json=body, headers=headers), 201)
        apps.append(
            {
                "id": made["id"],
                "version": made["version"],
                "state": made["state"],
                "level": made["level"],
                "headers": headers,
            }
        )

    def act() -> None:
        for a in apps:
            if a["state"] in load.NEXT:
                body: dict[str, Any] = {
                    "action": load.next_action(a["state"], a["level"]),
                    "version": a["version"],
                    "note": "家庭经济情况未达认定标准" if a["state"] == "reviewed" else "复核",
                }
                if body["action"] == "resolve":
                    body["outcome"] = "dismissed"
                done = expect(
                    client.post(f"/api/v1/applications/{a['id']}/actions", json=body, headers=a["headers"]),
                    200,
                )
                a.update(version=done["version"], state=done["state"], level=done["level"])
                return
        create()

    def read(a: dict[str, Any]) -> Any:
        return expect(client.get(f"/api/v1/applications/{a['id']}", headers=a["headers"]), 200)

    def batch() -> None:
        records = [
            {
                "id_number": n,
                "name": "张某",
                "status": "subsistence_allowance",
                "valid_from": "2020-03-01",
                "valid_to": None,
                "attributes": {},
            }
            for n in rnd.sample(plan["people"], 100)
        ]
        body = {"batch_id": f"cpu-{secrets.token_hex(6)}", "records": records}
        expect(
            client.post(f"/api/v1/feeds/{plan['agencies'][0]['source']}/batches", json=body, headers=agency),
            200,
        )

    def archived() -> None:
        """An archived report of the county administrator's region (setup archived it): the file, not JSON."""
        answer = client.get(
            f"/api/v1/reports/archive/{rnd.choice(plan['admins'][0]['reports'])}", headers=county
        )
        if answer.status_code != 200:
            raise SystemExit(f"{answer.status_code}: {answer.get_data(as_text=True)[:300]}")

    return {
        "POST /evaluate": lambda: expect(client.post("/api/v1/evaluate", json=load.evaluate_body(rnd)), 200),
        "GET /students/{id}": lambda: expect(
            client.get(f"/api/v1/students/{rnd.choice(officer['students'])}", headers=office), 200
        ),
        "POST /applications": create,
        "GET /applications/{id}": lambda: read(rnd.choice(apps)),
        "POST /applications/{id}/actions": act,
        "GET /applications": lambda: expect(
            client.get(f"/api/v1/applications?school={officer['school']}", headers=office), 200
        ),
        "GET /applications (county)": lambda: expect(
            client.get("/api/v1/applications?limit=50", headers=county), 200
        ),
        "GET /feeds/{source}/outcomes": lambda: expect(
            client.get(f"/api/v1/feeds/{plan['agencies'][0]['source']}/outcomes?limit=100", headers=agency),
            200,
        ),
        "POST /feeds/{source}/batches (100)": batch,
        "GET /reports/archive/{id}": archived,
        "GET /reports/programs": lambda: expect(
            client.get(
                f"/api/v1/reports/programs?period=2020-2021-autumn&region={plan['admins'][0]['region']}&format=json",
                headers=county,
            ),
            200,
        ),
    }


def students_left(plan: dict[str, Any]) -> list[str]:
    return [s for o in plan["officers"] for s in o.get("students_left", ())]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", required=True, help="PostgreSQL database holding a demo province")
    parser.add_argument("--server", default=load.SERVER)
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument(
        "--officers", type=int, default=10, help="officers (of the largest schools) who apply"
    )
    parser.add_argument("--only", action="append", default=[], help="measure only these routes (repeatable)")
    parser.add_argument("--profile", help="print a pyinstrument profile of this route")
    args = parser.parse_args(argv)
    url = f"{args.server}/{args.database}"
    plan = load.setup(url, "c" + time.strftime("%H%M%S"), officers=args.officers)
    app = build_app(url)
    rnd = random.Random(2020)
    with app.test_client() as client:
        routes = calls(client, plan, rnd)
        routes["POST /applications"]()  # one application before the reads of one
        chosen = args.only or ([args.profile] if args.profile else list(routes))
        print("| route | calls | CPU ms median | CPU ms mean | wall ms median |")
        print("|---|---|---|---|---|")
        for name in chosen:
            call = routes[name]
            for _ in range(min(20, args.calls)):
                call()
            profiler = None
            if args.profile:
                from pyinstrument import Profiler

                profiler = Profiler(interval=0.0005)
                profiler.start()
            cpu, wall = [], []
            count = (
                min(args.calls, len(students_left(plan)) - 5) if name == "POST /applications" else args.calls
            )
            for _ in range(count):
                c0, w0 = time.process_time(), time.perf_counter()
                call()
                cpu.append(time.process_time() - c0)
                wall.append(time.perf_counter() - w0)
            if profiler is not None:
                profiler.stop()
            print(
                f"| {name} | {count} | {statistics.median(cpu) * 1000:.2f} | {statistics.mean(cpu) * 1000:.2f} "
                f"| {statistics.median(wall) * 1000:.2f} |",
                flush=True,
            )
            if profiler is not None:
                print(profiler.output_text(unicode=False, color=False, show_all=False))


if __name__ == "__main__":
    main()
