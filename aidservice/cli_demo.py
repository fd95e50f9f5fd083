"""`flask --app wsgi aid demo-data`: a synthetic province loaded through the same services as real data."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext

BULK_FROM = 50_000  # students from which `--path auto` loads the roster in bulk

DEMO_USERS = (  # username, role, scope keyword, password (demo only; printed by `make run`)
    ("officer", "school_officer", "school", "demo-school-2020"),
    ("county", "county_admin", "region", "demo-xianqu-2020"),
    ("city", "city_admin", "region", "demo-shiqu-2020"),
    ("province", "province_admin", "region", "demo-shengji-2020"),
    ("auditor", "auditor", None, "demo-shenji-2020"),
)


@click.command("demo-data")
@click.option("--students", default=20_000, show_default=True, help="How many students to enrol.")
@click.option(
    "--seed", default=2020, show_default=True, help="Random seed; the same seed gives the same province."
)
@click.option(
    "--logins",
    "logins_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Where to write the demo logins and agency tokens (default: instance/demo-logins.txt).",
)
@click.option(
    "--path",
    "load_path",
    type=click.Choice(["auto", "services", "bulk"]),
    default="auto",
    show_default=True,
    help=f"services: every row through the roster services; bulk: COPY/executemany roster, agency batches "
    f"through the feed service, columnar re-determination; auto: bulk from {BULK_FROM:,} students.",
)
@with_appcontext
def demo_data(students: int, seed: int, logins_path: Path | None, load_path: str) -> None:
    """Load a synthetic province: schools in the 13 cities, students in every stage, agency registers."""
    from aidservice.demo import generate
    from aidservice.extensions import db
    from aidservice.services.bulk_roster import NotEmpty, refuse_if_loaded
    from aidservice.services.rule_sets import publish_current
    from aidservice.wiring import settings as app_settings

    if current_app.config.get("AID_ENV") == "production":
        raise click.ClickException(
            "demo-data refuses to run with AID_ENV=production: it creates accounts with published passwords"
        )
    started = time.perf_counter()
    settings = app_settings()
    session = db.session
    try:
        refuse_if_loaded(session)
    except NotEmpty as exc:
        raise click.ClickException(f"demo-data loads an empty database only: {exc}") from None
    session.rollback()  # no snapshot held open while the province is generated
    bulk = load_path == "bulk" or (load_path == "auto" and students >= BULK_FROM)
    province = generate(students, seed, settings.default_as_of())
    _note(started, f"generated {len(province.students):,} students")
    publish_current(session, settings.rules, settings.rules.rules.files)
    if bulk:
        _bulk_roster(session, settings, province, started)
    else:
        _schools(session, settings, province)
        session.commit()
        _students(session, settings, province)
    lines = _accounts(session, province)
    lines += _registers(session, settings, province, analyze_after=bulk)
    session.commit()
    _note(started, "agency batches applied")
    if bulk:
        _redetermine(session, settings)
        _note(started, "determinations stored")
    path = logins_path or Path(current_app.instance_path) / "demo-logins.txt"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    path.chmod(0o600)
    click.echo(
        f"demo province: {len(province.schools)} schools, {len(province.students)} students, "
        f"{sum(len(r) for r in province.records.values())} agency records in "
        f"{time.perf_counter() - started:.1f} s; logins in {path}",
        err=True,
    )


def _note(started: float, what: str) -> None:
    """Progress with wall and CPU time: on a shared machine the two differ a lot."""
    click.echo(f"{time.perf_counter() - started:7.1f} s  {what} (CPU {time.process_time():.1f} s)", err=True)


def _bulk_roster(session, settings, province, started: float) -> None:  # type: ignore[no-untyped-def]
    """Counties through their service, schools and students set-based with their audit events."""
    from aidservice.services.actors import Actor
    from aidservice.services.bulk_roster import analyze, load_schools, load_students
    from aidservice.services.regions import ensure_county

    system = Actor.system("demo-data")
    for code, name in province.counties:
        ensure_county(session, code, name, actor=system)
    load_schools(session, actor=system, schools=province.schools)
    session.commit()
    _note(started, f"{len(province.schools):,} schools")
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
    _note(started, "students and guardians")


def _redetermine(session, settings) -> None:  # type: ignore[no-untyped-def]
    """Everyone the agency batches did not reach gets a determination from the columnar path."""
    from aidservice.services.actors import Actor
    from aidservice.services.determinations import redetermine_region

    with click.progressbar(length=_count_students(session), label="determinations", file=sys.stderr) as bar:
        redetermine_region(
            session,
            actor=Actor.system("demo-data"),
            settings=settings,
            progress=bar.update,
            checkpoint=session.commit,
        )
    session.commit()


def _count_students(session) -> int:  # type: ignore[no-untyped-def]
    from aidservice.services.redetermine_region import count_students

    return count_students(session, None)


def _schools(session, settings, province) -> None:  # type: ignore[no-untyped-def]
    from aidservice.services.actors import Actor
    from aidservice.services.regions import ensure_county
    from aidservice.services.roster import put_school

    system = Actor.system("demo-data")
    for code, name in province.counties:
        ensure_county(session, code, name, actor=system)
    with click.progressbar(province.schools, label="schools", file=sys.stderr) as bar:
        for school in bar:
            payload = {k: v for k, v in school.items() if k not in ("code", "city_code")}
            put_school(session, actor=system, settings=settings, code=school["code"], payload=payload)


def _students(session, settings, province, chunk: int = 2000) -> None:  # type: ignore[no-untyped-def]
    from aidservice.services.actors import Actor
    from aidservice.services.roster_upsert import upsert_students

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
    from aidservice.services.accounts import create_user
    from aidservice.services.actors import Actor

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
    from aidservice.demo import batches
    from aidservice.services.actors import Actor
    from aidservice.services.auth import client_actor
    from aidservice.services.bulk_roster import analyze
    from aidservice.services.clients import create_client
    from aidservice.services.feeds import apply_batch

    lines = ["agency API tokens (demo only):"]
    for source, records in province.records.items():
        made = create_client(session, actor=Actor.system("demo-data"), name=f"demo {source}", source=source)
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
