"""What the /whatif page shows: the regions an administrator may choose, the server's drafts, the recent
what-if jobs in scope, and one job's totals with the names read from the running rules and the regions."""

from __future__ import annotations

from typing import Any, TypedDict, cast

from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import Session

from aidservice.engine import RuleSet
from aidservice.models import Region
from aidservice.services import jobs as jobs_service
from aidservice.services.actors import Actor, in_region
from aidservice.services.determinations.whatif import SUMMARY_VERSION, WhatIfSummary
from aidservice.services.determinations.whatif_files import KIND

RECENT = 10


class Move(TypedDict):
    before: str
    after: str
    students: int


class ProgramLine(TypedDict):
    program: str
    name: str
    gained: int
    lost: int
    delta: str | None


class RegionLine(TypedDict):
    code: str
    name: str
    totals: dict[str, Any]


class ResultView(TypedDict):
    job: jobs_service.JobView
    result: dict[str, Any]
    programs: list[ProgramLine]
    regions: list[RegionLine]
    moves: list[Move]
    scope_name: str


def region_choices(session: Session, actor: Actor) -> list[tuple[str, str]]:
    """(code, '320100 南京市') of the actor's region and every division in it (all of them for an auditor)."""
    query = select(Region.code, Region.name).order_by(Region.code)
    if actor.role != "auditor":
        if not actor.region_code:
            return []
        column: ColumnElement[str] = Region.code  # type: ignore[assignment]
        query = query.where(in_region(column, actor.region_code))
    choices = [(code, f"{code} {name}") for code, name in session.execute(query)]
    if actor.region_code and actor.region_code not in {c for c, _n in choices}:
        choices.insert(0, (actor.region_code, actor.region_code))
    return choices


def recent_jobs(session: Session, actor: Actor) -> list[jobs_service.JobView]:
    return jobs_service.list_jobs(session, actor=actor, kind=KIND, limit=RECENT)["items"]


def latest_summary(session: Session, actor: Actor, kept: WhatIfSummary | None) -> WhatIfSummary | None:
    """The newer of the summary `aid whatif` kept in its file and the last finished what-if job the actor may
    see (aggregate counts only in either)."""
    done = jobs_service.list_jobs(session, actor=actor, kind=KIND, state="done", limit=1)["items"]
    result = done[0]["result"] if done else None
    if not result or result.get("summary_version") != SUMMARY_VERSION:
        return kept
    summary = cast(WhatIfSummary, {k: v for k, v in result.items() if k in WhatIfSummary.__annotations__})
    if kept is None or summary["ran_at"] >= kept["ran_at"]:
        return summary
    return kept


def result_view(session: Session, job: jobs_service.JobView, rules: RuleSet) -> ResultView | None:
    """A finished job's totals with program, level and region names (None for a job that has no result)."""
    result = job["result"]
    if job["state"] != "done" or not result or "diff" not in result:
        return None
    diff = result["diff"]
    names = {p.id: p.name for p in rules.rules.programs}
    programs: list[ProgramLine] = []
    for program in sorted({*diff["programs_gained"], *diff["programs_lost"], *diff["money_delta"]}):
        programs.append(
            {
                "program": program,
                "name": names.get(program, program),
                "gained": diff["programs_gained"].get(program, 0),
                "lost": diff["programs_lost"].get(program, 0),
                "delta": diff["money_delta"].get(program),
            }
        )
    codes = [*result["by_region"], result["region"]]
    query = select(Region.code, Region.name).where(Region.code.in_(codes))
    known: dict[str, str] = {code: name for code, name in session.execute(query)}
    regions: list[RegionLine] = [
        {"code": code, "name": known.get(code, ""), "totals": totals}
        for code, totals in result["by_region"].items()
    ]
    moves: list[Move] = []
    for move, n in diff["level_moves"].items():
        before, _arrow, after = move.partition("->")
        moves.append({"before": before, "after": after, "students": n})
    scope = result["region"]
    return {
        "job": job,
        "result": result,
        "programs": programs,
        "regions": regions,
        "moves": moves,
        "scope_name": f"{scope} {known.get(scope, '')}".strip(),
    }
