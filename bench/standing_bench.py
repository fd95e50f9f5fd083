"""What the standing (services/standing) costs against the determination-only reads it replaced, on a demo province.

    DATABASE_URL=sqlite:////tmp/demo.sqlite3 .venv/bin/python bench/standing_bench.py [--repeat 200]

Three reads, each timed as the median wall time of `--repeat` runs in one process (after a warm-up):
(a) one student: the current determination (what the student detail read before) against `standing_of`;
(b) a roster page of 50 students: their determinations' levels against `standings`;
(c) the province dashboard's level counts: its determinations grouped by level against `level_counts`.
The output is the ratio new / old per read; results go to docs/benchmarks.md with the command and the date.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def median_ms(fn: Callable[[], Any], repeat: int) -> float:
    fn()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def approve(session: Any, app: Any, pks: list[int]) -> None:
    """Take, review, publish and approve an application for each student (incomes so some are 一般困难)."""
    import dataclasses
    from datetime import date

    from aidservice import wiring
    from aidservice.models import Student
    from aidservice.services.actors import Actor
    from aidservice.services.applications import actions, submission
    from aidservice.services.applications.values import ActionRequest

    actor = Actor.system("bench:standing")
    with app.test_request_context():
        base = wiring.settings()
    during, after = (dataclasses.replace(base, today=date(2020, 10, d)) for d in (12, 26))
    for n, pk in enumerate(pks):
        student_id = session.get(Student, pk).student_id
        declared = {
            "household_size": 4,
            "per_capita_income": ("5000.00", "20000.00")[n % 2],
            "major_illness": False,
            "disaster": False,
            "unemployed_parent": False,
            "single_parent": False,
            "covid_impact": False,
            "covid_infected_family": False,
            "academic_rank_pct": "40.00",
        }
        body = {"student_id": student_id, "school_year": base.school_year, "declared": declared}
        application = submission.create_application(
            session, actor=actor, settings=during, payload={**body, "commitment_signed": True}
        )
        for action, settings in (("review", during), ("publish_notice", during), ("approve", after)):
            if application.level == "none":
                break
            application = actions.act(
                session,
                actor=actor,
                settings=settings,
                application_id=application.id,
                request=ActionRequest(action=action, version=application.version),
            )
        session.commit()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=200)
    parser.add_argument(
        "--approve", type=int, default=0, help="first approve this many students (a scratch database only)"
    )
    args = parser.parse_args()

    from sqlalchemy import func, select

    from aidservice import create_app
    from aidservice.extensions import db
    from aidservice.models import Application, Determination, School, Student
    from aidservice.services.standing.standing import level_counts, standing_of, standings
    from config import load_config

    app = create_app(load_config())
    year = app.config["AID_SCHOOL_YEAR"]
    with app.app_context():
        session = db.session()
        pks = list(session.scalars(select(Student.id)))
        rnd = random.Random(7)
        if args.approve:
            approve(session, app, rnd.sample(pks, args.approve))
        approved = session.scalar(
            select(func.count()).select_from(Application).where(Application.state == "approved")
        )

        def one_old() -> None:
            pk = rnd.choice(pks)
            session.execute(
                select(Determination.level, Determination.total_fen).where(
                    Determination.student_pk == pk,
                    Determination.school_year == year,
                    Determination.current.is_(True),
                )
            ).all()

        def one_new() -> None:
            standing_of(session, rnd.choice(pks), year)

        def page_old() -> None:
            start = rnd.randrange(max(1, len(pks) - 50))
            page = pks[start : start + 50]
            session.execute(
                select(Determination.student_pk, Determination.level).where(
                    Determination.student_pk.in_(page),
                    Determination.school_year == year,
                    Determination.current.is_(True),
                )
            ).all()

        def page_new() -> None:
            start = rnd.randrange(max(1, len(pks) - 50))
            standings(session, pks[start : start + 50], year)

        province = select(Student.id).join(School, School.code == Student.school_code)

        def counts_old() -> None:  # the province dashboard's query before the standing
            session.execute(
                select(Determination.level, func.count())
                .join(Student, Student.id == Determination.student_pk)
                .join(School, School.code == Student.school_code)
                .where(Determination.current.is_(True), Determination.school_year == year)
                .group_by(Determination.level)
            ).all()

        def counts_new() -> None:
            level_counts(session, year, province)

        repeat_counts = max(5, args.repeat // 20)
        rows = [
            ("one student", median_ms(one_old, args.repeat), median_ms(one_new, args.repeat)),
            ("roster page of 50", median_ms(page_old, args.repeat), median_ms(page_new, args.repeat)),
            (
                "province level counts",
                median_ms(counts_old, repeat_counts),
                median_ms(counts_new, repeat_counts),
            ),
        ]
        backend = session.get_bind().dialect.name
    print(f"{backend}: {len(pks)} students, {approved} approved applications, school year {year}")
    print(f"{'read':<24}{'old ms':>10}{'new ms':>10}{'new/old':>10}")
    for name, old, new in rows:
        print(f"{name:<24}{old:>10.2f}{new:>10.2f}{new / old:>10.2f}")


if __name__ == "__main__":
    main()
