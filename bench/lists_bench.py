"""The officers' lists on SQLite: a page, filtered pages, the search by the last digits, and the whole-list
downloads, over a demo province (`aid demo-data`), as the service functions the routes call.

    .venv/bin/python bench/lists_bench.py                       # 20,000 students, 5 runs
    .venv/bin/python bench/lists_bench.py --students 50000 --runs 3

Each case runs as a city administrator (the largest scope a list page usually has) and as the system (the
province); medians of `--runs` in milliseconds, and each as a ratio to the plain first page of the same scope.
Results printed as JSON; the temporary database is removed afterwards.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--students", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()

    from flask_migrate import upgrade

    from aidservice import create_app
    from aidservice.demo.load import load_province
    from aidservice.demo.province import generate
    from aidservice.extensions import db
    from aidservice.models import Student
    from aidservice.services.actors import Actor
    from aidservice.services.lists import downloads, filters, students
    from aidservice.wiring import settings as app_settings
    from config import TestingConfig

    folder = Path(tempfile.mkdtemp(prefix="aid-lists-bench-"))
    config = TestingConfig.from_env(
        {"DATABASE_URL": f"sqlite:///{folder / 'bench.sqlite3'}", "AID_WHATIF_FILE": str(folder / "w.json")}
    )
    app = create_app(config)
    with app.app_context():
        upgrade()
        settings = app_settings()
        origins = (
            settings.rules.facts["east_west_origin"].values
            if "east_west_origin" in settings.rules.facts
            else ()
        )
        province = generate(args.students, settings.rules.vocabulary, 7, settings.default_as_of(), origins)
        load_province(db.session(), settings, province, bulk=True, note=lambda what: None)
        session = db.session()
        city = session.query(Student.school_code).first()
        region = (city[0] if city else "320100")[:4] + "00"
        actors = {
            "city_admin": Actor("user", "bench-city", 1, "city_admin", region_code=region),
            "province (system)": Actor.system("bench"),
        }
        tail = settings.ids.open_row("student", session.query(Student).first())[-4:]
        group = settings.rules.vocabulary.group_statuses[0]
        cases: dict[str, Callable[[Actor], Any]] = {}

        def flt(**changes: Any) -> filters.ListFilter:
            return filters.ListFilter(kind="students", **changes)

        cases["page 1"] = lambda a: students.page(session, actor=a, settings=settings, flt=flt())
        cases["page 40, sorted by name desc"] = lambda a: students.page(
            session, actor=a, settings=settings, flt=flt(page=40, sort="name", desc=True)
        )
        cases["grade 2 + level general"] = lambda a: students.page(
            session, actor=a, settings=settings, flt=flt(grade=2, level="general")
        )
        cases[f"special group {group}"] = lambda a: students.page(
            session, actor=a, settings=settings, flt=flt(group=group)
        )
        cases["search by name 王"] = lambda a: students.page(
            session, actor=a, settings=settings, flt=flt(q="王")
        )
        cases["search by last 4 (officer path)"] = lambda a: students.page(
            session,
            actor=Actor("user", "o", 2, "school_officer", school_code=city[0] if city else ""),
            settings=settings,
            flt=flt(q=tail),
        )
        cases["XLSX, whole list (≤ 20,000)"] = lambda a: _export(
            downloads, session, a, settings, flt(), "xlsx"
        )
        cases["CSV, whole list (≤ 20,000)"] = lambda a: _export(downloads, session, a, settings, flt(), "csv")
        out: dict[str, Any] = {"students": args.students, "runs": args.runs, "region": region, "results": {}}
        for label, actor in actors.items():
            total = students.count(session, actor=actor, settings=settings, flt=flt())
            times = {name: _median(run, actor, args.runs) for name, run in cases.items()}
            base = times["page 1"]
            out["results"][label] = {
                "rows in scope": total,
                **{name: {"ms": round(ms, 1), "x page 1": round(ms / base, 2)} for name, ms in times.items()},
            }
            session.rollback()
        print(json.dumps(out, ensure_ascii=False, indent=2))


def _export(downloads: Any, session: Any, actor: Any, settings: Any, flt: Any, fmt: str) -> int:
    try:
        made = downloads.student_export(
            session, actor=actor, settings=settings, flt=flt, fmt=fmt, request_id=None
        )
    except Exception as exc:  # over the row limit: the refusal itself is what is timed
        return len(str(exc))
    session.rollback()  # the audit event stays uncommitted
    return len(made.content)


def _median(run: Callable[[Any], Any], actor: Any, runs: int) -> float:
    took = []
    for _ in range(runs):
        started = time.perf_counter()
        run(actor)
        took.append((time.perf_counter() - started) * 1000)
    return statistics.median(took)


if __name__ == "__main__":
    main()
