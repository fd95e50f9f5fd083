"""Approving applications in one batch action against one at a time, on SQLite, through the API.

    .venv/bin/python bench/batch_approve.py                  # 300 applications each way, with a quota
    .venv/bin/python bench/batch_approve.py --count 100 --no-quota

A fresh SQLite file is migrated; one school gets `2 × count` students and applications (submitted, reviewed and
published through the batch service, not timed), and a quota for the compulsory living subsidy with fewer
places than applicants when `--quota` (the default), so every approval ranks the school's approved ones. Then,
after the notice period, timed with the Flask test client (one request = what gunicorn would run, without the
socket): half the applications approved one request each (`POST /api/v1/applications/{id}/actions`), the other
half in one `POST /api/v1/applications/actions`. The audit chain is verified afterwards and the funded counts
are compared with the quota. Results are printed and written to bench/out/batch_approve.json.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import platform
import sys
import tempfile
import time
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
OUT = REPO / "bench" / "out"
SUBMITTED = date(2020, 10, 12)
AFTER_NOTICE = date(2020, 10, 19)
PROGRAM = "compulsory_living_subsidy"
DECLARED = {
    "household_size": 4,
    "per_capita_income": "5000.00",
    "major_illness": False,
    "disaster": False,
    "unemployed_parent": False,
    "single_parent": False,
    "covid_impact": False,
    "covid_infected_family": False,
    "academic_rank_pct": "40.00",
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=300)
    parser.add_argument("--quota", action=argparse.BooleanOptionalAction, default=True)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        result = run(f"sqlite:///{tmp}/bench.sqlite3", args.count, args.quota)
    OUT.mkdir(exist_ok=True)
    (OUT / "batch_approve.json").write_text(json.dumps(result, indent=2, ensure_ascii=False))
    print(json.dumps(result, indent=2, ensure_ascii=False))


def run(url: str, count: int, quota: bool) -> dict[str, Any]:
    from flask_migrate import upgrade

    from aidservice import create_app, wiring
    from aidservice.extensions import db
    from aidservice.models import Quota
    from config import TestingConfig
    from tests.world.factories import bearer, make_school, make_student, make_user

    app = create_app(TestingConfig.from_env({"DATABASE_URL": url, "AID_RULES_DIR": str(REPO / "rules")}))
    with app.app_context():
        upgrade()
        session = db.session
        school = make_school(session, "S1", "320102", stages=("primary", "junior"), name="南京市第一中学")
        _user, token = make_user(session, "school_officer", school_code="S1")
        for i in range(2 * count):
            make_student(session, f"B{i:05d}", school, seed=1000 + i, stage="junior", grade=2, guardians=())
        if quota:
            session.add(
                Quota(
                    school_code="S1", program=PROGRAM, school_year="2020-2021", places=count, set_by="bench"
                )
            )
        session.commit()
        today = {"date": SUBMITTED}
        original = wiring.settings
        wiring.settings = lambda: dataclasses.replace(original(), today=today["date"])  # type: ignore[assignment]
        client = app.test_client()
        headers = bearer(token)
        apps = prepare(client, headers, count)
        today["date"] = AFTER_NOTICE
        singles, batched = apps[:count], apps[count:]
        single_s = time_singles(client, headers, singles)
        batch_s, statuses = time_batch(client, headers, batched)
        checks = check(session)
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.node()} {platform.processor() or platform.machine()} python {platform.python_version()}",
        "database": "sqlite",
        "count": count,
        "quota_places": count if quota else None,
        "single_actions_s": round(single_s, 2),
        "one_batch_s": round(batch_s, 2),
        "ratio_single_to_batch": round(single_s / batch_s, 1),
        "batch_statuses": statuses,
        **checks,
    }


def prepare(client: Any, headers: dict[str, str], count: int) -> list[dict[str, int]]:
    """2 × count applications submitted, reviewed and published (not timed)."""
    items = []
    for i in range(2 * count):
        body = {
            "student_id": f"B{i:05d}",
            "school_year": "2020-2021",
            "declared": DECLARED,
            "commitment_signed": True,
        }
        made = ok(client.post("/api/v1/applications", json=body, headers=headers), 201)
        items.append({"id": made["id"], "version": made["version"]})
    for action in ("review", "publish_notice"):
        results = ok(
            client.post(
                "/api/v1/applications/actions", json={"action": action, "items": items}, headers=headers
            )
        )
        items = [
            {"id": r["application"]["id"], "version": r["application"]["version"]} for r in results["results"]
        ]
    return items


def time_singles(client: Any, headers: dict[str, str], items: list[dict[str, int]]) -> float:
    started = time.perf_counter()
    for item in items:
        body = {"action": "approve", "version": item["version"], "note": "同意"}
        ok(client.post(f"/api/v1/applications/{item['id']}/actions", json=body, headers=headers))
    return time.perf_counter() - started


def time_batch(
    client: Any, headers: dict[str, str], items: list[dict[str, int]]
) -> tuple[float, dict[str, int]]:
    started = time.perf_counter()
    body = {"action": "approve", "note": "同意", "items": items}
    results = ok(client.post("/api/v1/applications/actions", json=body, headers=headers))["results"]
    elapsed = time.perf_counter() - started
    statuses: dict[str, int] = {}
    for r in results:
        statuses[r["status"]] = statuses.get(r["status"], 0) + 1
    return elapsed, statuses


def check(session: Any) -> dict[str, Any]:
    """The audit chain intact, and the funded decisions within the quota (the batch changed nothing of that)."""
    import sqlalchemy as sa

    from aidservice.models import Decision
    from aidservice.services import audit

    events, broken = audit.verify(session)
    counts = dict(
        session.execute(
            sa.select(Decision.status, sa.func.count())
            .where(Decision.current.is_(True))
            .group_by(Decision.status)
        ).all()
    )
    return {"audit_events": events, "audit_chain_intact": broken is None, "current_decisions": counts}


def ok(response: Any, status: int = 200) -> Any:
    if response.status_code != status:
        raise SystemExit(f"{response.status_code}: {response.get_data(as_text=True)[:500]}")
    return response.json


if __name__ == "__main__":
    main()
