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
from typing import Any

SUMMARY_VERSION = 1


def summary_of(
    result: Any, *, running_version: str, rules_dir: str | None, ran_at: datetime | None = None
) -> dict[str, Any]:
    """What is kept of a dry run (`redetermine_region.RegionResult`): parameters, counts and the aggregate diff."""
    diff = result.diff.as_json() if result.diff is not None else {}
    diff.pop("examples", None)  # students of every school: not for a page everyone signed in can read
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


def save(path: str | Path, summary: dict[str, Any]) -> None:
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


def load(path: str | Path) -> dict[str, Any] | None:
    """The last summary, or None when no what-if has been run (or the file is unreadable)."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("summary_version") != SUMMARY_VERSION:
        return None
    return data
