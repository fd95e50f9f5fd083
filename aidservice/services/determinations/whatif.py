"""The last what-if (`aid whatif`: a draft against the running rules), kept for the rules page.

`whatif_compare.compare_with_running` evaluates the region twice on one date (running rules, draft) and
stores nothing; the rules page shows the last comparison, so `aid whatif` keeps its summary in a small JSON
file (AID_WHATIF_FILE, in the instance folder by default): aggregate counts only, overall and by region,
never a student or an ID number.
"""

from __future__ import annotations

import json
import os
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import TypedDict, cast

from aidservice.services.determinations.whatif_compare import WhatIfResult
from aidservice.services.determinations.whatif_rows import ComparisonTotals

SUMMARY_VERSION = 2  # 1: the draft against the stored determinations (no longer written)


class WhatIfSummary(TypedDict):
    """The kept summary of a what-if, as stored in the JSON file and shown on the rules page."""

    summary_version: int
    ran_at: str
    region: str
    as_of: str
    draft: bool
    rules_dir_name: str | None
    rule_set_version: str  # the draft's (the running rules' when there was no draft)
    running_version: str
    students: int
    skipped: int
    no_change: bool
    diff: ComparisonTotals
    by_region: dict[str, ComparisonTotals]  # cities of the province, or counties of a city


def summary_of(
    result: WhatIfResult, *, rules_dir: str | None, ran_at: datetime | None = None
) -> WhatIfSummary:
    """What is kept of a comparison: parameters, counts and the aggregate differences (no student: the
    changing students are not for a page everyone signed in can read)."""
    return {
        "summary_version": SUMMARY_VERSION,
        "ran_at": (ran_at or datetime.now(UTC)).isoformat(timespec="seconds"),
        "region": result.region or "320000",
        "as_of": result.as_of.isoformat(),
        "draft": rules_dir is not None,
        "rules_dir_name": Path(rules_dir).name if rules_dir else None,
        "rule_set_version": result.draft_version,
        "running_version": result.running_version,
        "students": result.students,
        "skipped": result.skipped,
        "no_change": result.no_change,
        "diff": result.totals(),
        "by_region": result.regions(),
    }


def save(path: str | Path, summary: WhatIfSummary) -> None:
    """Write the summary atomically (a reader never sees half a file)."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(dir=target.parent, prefix=".whatif-", suffix=".json")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(summary, handle, ensure_ascii=False, indent=1)
        os.replace(temp, target)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def load(path: str | Path) -> WhatIfSummary | None:
    """The last summary, or None when no what-if has been run (or the file is unreadable)."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("summary_version") != SUMMARY_VERSION:
        return None
    return cast(WhatIfSummary, data)
