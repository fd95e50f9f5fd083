"""A generated province (aidservice.demo.province) loaded through the same services as real data.

`load_province` is the service part of `flask --app wsgi aid demo-data`, which checks the database is
empty and generates the province first. Two paths for the roster:

- services: counties, schools and students through the roster services (`put_school`, `upsert_students`
  in chunks of 2,000), each chunk committed;
- bulk: counties through their service, schools and students set-based (services.bulk_roster: COPY on
  PostgreSQL, executemany elsewhere) with the same audit events, then ANALYZE.

Either way the demo accounts (DEMO_USERS) are created, one agency client per register applies its records
through the feed service in 10,000-record batches (each committed), and on the bulk path everyone the
agency batches did not reach gets a determination from the columnar re-determination. Progress bars go
to stderr.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

import click
from sqlalchemy.orm import Session

from aidservice.demo.province import DemoProvince, batches
from aidservice.services.accounts.accounts import create_user
from aidservice.services.accounts.auth import client_actor
from aidservice.services.accounts.clients import create_client
from aidservice.services.actors import Actor
from aidservice.services.determinations.region import count_students, redetermine_region
from aidservice.services.regions import ensure_county
from aidservice.services.registry.feeds import apply_batch
from aidservice.services.roster.bulk_roster import analyze, load_schools, load_students
from aidservice.services.roster.roster import put_school
from aidservice.services.roster.roster_upsert import upsert_students
from aidservice.services.rule_sets import publish_current

DEMO_USERS = (  # username, role, scope keyword, password (demo only; printed by `make run`)
    ("officer", "school_officer", "school", "demo-school-2020"),
    ("county", "county_admin", "region", "demo-xianqu-2020"),
    ("city", "city_admin", "region", "demo-shiqu-2020"),
    ("province", "province_admin", "region", "demo-shengji-2020"),
    ("auditor", "auditor", None, "demo-shenji-2020"),
)


def load_province(
    session: Session, settings: Any, province: DemoProvince, *, bulk: bool, note: Callable[[str], None]
) -> list[str]:
    """Publish the running rules, load the province (committing as it goes); returns the lines of the logins file."""
    publish_current(session, settings.rules, settings.rules.rules.files)
    if bulk:
        _bulk_roster(session, settings, province, note)
    else:
        _schools(session, settings, province)
        session.commit()
        _students(session, settings, province)
    lines = _accounts(session, province)
    lines += _registers(session, settings, province, analyze_after=bulk)
    session.commit()
    note("agency batches applied")
    if bulk:
        _redetermine(session, settings)
        note("determinations stored")
    return lines


def _bulk_roster(session, settings, province, note: Callable[[str], None]) -> None:  # type: ignore[no-untyped-def]
    """Counties through their service, schools and students set-based with their audit events."""
    system = Actor.system("demo-data")
    for code, name in province.counties:
        ensure_county(session, code, name, actor=system)
    load_schools(session, actor=system, schools=province.schools)
    session.commit()
    note(f"{len(province.schools):,} schools")
    with click.progressbar(length=len(province.students), label="students", file=sys.stderr) as bar:
        load_students(
            session,
            actor=system,
            settings=settings,
            students=province.students,
            progress=bar.update,
            checkpoint=session.commit,
        )
    analyze(session, "schools", "students", "guardians")
    session.commit()
    note("students and guardians")


def _redetermine(session, settings) -> None:  # type: ignore[no-untyped-def]
    """Everyone the agency batches did not reach gets a determination from the columnar path."""
    with click.progressbar(
        length=count_students(session, None), label="determinations", file=sys.stderr
    ) as bar:
        redetermine_region(
            session,
            actor=Actor.system("demo-data"),
            settings=settings,
            progress=bar.update,
            checkpoint=session.commit,
        )
    session.commit()


def _schools(session, settings, province) -> None:  # type: ignore[no-untyped-def]
    system = Actor.system("demo-data")
    for code, name in province.counties:
        ensure_county(session, code, name, actor=system)
    with click.progressbar(province.schools, label="schools", file=sys.stderr) as bar:
        for school in bar:
            payload = {k: v for k, v in school.items() if k not in ("code", "city_code")}
            put_school(session, actor=system, settings=settings, code=school["code"], payload=payload)


def _students(session, settings, province, chunk: int = 2000) -> None:  # type: ignore[no-untyped-def]
    system = Actor.system("demo-data")
    rows = province.students
    with click.progressbar(length=len(rows), label="students", file=sys.stderr) as bar:
        for start in range(0, len(rows), chunk):
            part = [(start + i + 2, row, ()) for i, row in enumerate(rows[start : start + chunk])]
            upsert_students(
                session, actor=system, settings=settings, rows=part, audit_extra={"source": "demo-data"}
            )
            session.commit()
            bar.update(len(part))


def _accounts(session, province) -> list[str]:  # type: ignore[no-untyped-def]
    system = Actor.system("demo-data")
    first = province.schools[0]
    scope = {"school": {"school_code": first["code"]}, None: {}}
    regions = {"county": first["region_code"], "city": first["city_code"], "province": "320000"}
    lines = ["demo logins (username / password):"]
    for username, role, kind, password in DEMO_USERS:
        extra = scope.get(kind, {"region_code": regions.get(username)})
        create_user(session, actor=system, username=username, role=role, password=password, **extra)
        where = extra.get("school_code") or extra.get("region_code") or "province"
        lines.append(f"  {username:<9} {password:<20} {role} ({where})")
    return lines


def _registers(session, settings, province, analyze_after: bool = False) -> list[str]:  # type: ignore[no-untyped-def]
    lines = ["agency API tokens (demo only):"]
    for source, records in province.records.items():
        made = create_client(
            session,
            actor=Actor.system("demo-data"),
            name=f"demo {source}",
            source=source,
            agencies=settings.rules.vocabulary.agency_ids,
        )
        lines.append(f"  {source:<28} {made.token}")
        actor = client_actor(made.client)
        for number, part in enumerate(batches(records), start=1):
            apply_batch(
                session,
                actor=actor,
                settings=settings,
                source=source,
                body={"batch_id": f"demo-{number:04d}", "records": part},
            )
            if analyze_after:  # the agency tables grow from nothing by 10,000 rows a batch
                analyze(session, "agency_records", "feed_batches")
            session.commit()
    return lines
