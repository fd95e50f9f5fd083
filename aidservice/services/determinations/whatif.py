"""The last what-if re-determination (`aid whatif`, a dry run of `aid redetermine`), kept for the rules page.

`aid redetermine --dry-run` prints its diff and stores nothing; the rules page shows the last one, so
`aid whatif` runs the same dry run and keeps its summary in a small JSON file (AID_WHATIF_FILE, in the
instance folder by default): aggregate counts only, never a student or an ID number.
"""

from __future__ import annotations

import json
import os
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypedDict, cast

from aidservice.services.determinations.runs import DiffTotals, RegionResult

SUMMARY_VERSION = 1


class WhatIfSummary(TypedDict):
    """The kept summary of a dry run, as stored in the JSON file and shown on the rules page."""

    summary_version: int
    ran_at: str
    region: str
    as_of: str
    draft: bool
    rules_dir_name: str | None
    rule_set_version: str
    running_version: str
    students: int
    skipped: int
    diff: DiffTotals | dict[str, Any]  # {} when the run had no diff


def summary_of(
    result: RegionResult, *, running_version: str, rules_dir: str | None, ran_at: datetime | None = None
) -> WhatIfSummary:
    """What is kept of a dry run (`region.RegionResult`): parameters, counts and the aggregate diff."""
    # the diff's totals only: its example students (of every school) are not for a page everyone signed in
    # can read
    diff: DiffTotals | dict[str, Any] = result.diff.totals() if result.diff is not None else {}
    return {
        "summary_version": SUMMARY_VERSION,
        "ran_at": (ran_at or datetime.now(UTC)).isoformat(timespec="seconds"),
        "region": result.region or "320000",
        "as_of": result.as_of.isoformat(),
        "draft": rules_dir is not None,
        "rules_dir_name": Path(rules_dir).name if rules_dir else None,
        "rule_set_version": result.rule_set_version,
        "running_version": running_version,
        "students": result.students,
        "skipped": result.skipped,
        "diff": diff,
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
