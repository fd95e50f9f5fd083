"""What verified out-of-province declarations add to an application's facts, and how its reasons name them.

A verified declaration of a status (sources.yaml, a source of `kind: declared`) sets that status's fact
exactly as an agency record would: `{value: true, source: <the declared source>, record_ids: [],
declaration_ids: [...]}` (declaration ids are kept apart from agency record ids). Where an agency record
already gives the status, the record stays the source. Pending and rejected declarations add nothing.

Pure: no database. A reason the rules give because of such a fact names it ("外省建档立卡（已核实）"), so the
application and every decision made from it explain where the status came from, and a replay (which reads
only the values) is identical.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from aidservice.engine.result import Result

VERIFIED_SUFFIX = "（已核实）"


@dataclass(frozen=True, slots=True)
class Verified:
    """A verified declaration as the facts need it."""

    id: int
    source: str
    status: str


def with_verified(
    snapshot: Mapping[str, Mapping[str, Any]], verified: Iterable[Verified]
) -> dict[str, dict[str, Any]]:
    """The snapshot with the verified declarations' statuses set (an agency record that gives one wins)."""
    out = {name: dict(entry) for name, entry in snapshot.items()}
    for item in sorted(verified, key=lambda v: v.id):
        entry = out.get(item.status)
        if entry is not None and entry.get("value") is True and "declaration_ids" not in entry:
            continue  # the Jiangsu record says so already
        if entry is None or "declaration_ids" not in entry:
            entry = out[item.status] = {
                "value": True,
                "source": item.source,
                "record_ids": [],
                "declaration_ids": [],
            }
        entry["declaration_ids"] = sorted({*entry["declaration_ids"], item.id})
    return out


def declared_label(rules: Any, source_id: str, status: str) -> str:
    """外省建档立卡（已核实）: the status as the declared source names it, verified."""
    source = rules.vocabulary.source(source_id)
    found = source.status(status) if source is not None else None
    name = (found.label if found is not None else "") or rules.facts[status].label or status
    return name + VERIFIED_SUFFIX


def annotate(
    rules: Any, stored: dict[str, Any], result: Result, snapshot: Mapping[str, Mapping[str, Any]]
) -> dict[str, Any]:
    """Each stored reason whose clause read a fact a verified declaration set gains `declared`:
    [{fact, source, source_label, label, declaration_ids}]."""
    declared = {name: e for name, e in snapshot.items() if e.get("declaration_ids")}
    if not declared or not result.trace:
        return stored
    read = {e.item: e.facts for e in result.trace if e.item.startswith("clause:")}
    for reason in stored.get("reasons", []):
        facts = read.get(f"clause:{reason['clause']}") or {}
        notes = []
        for name in sorted(set(facts) & set(declared)):
            entry = declared[name]
            source = rules.vocabulary.source(entry["source"])
            notes.append(
                {
                    "fact": name,
                    "source": entry["source"],
                    "source_label": source.label if source is not None else entry["source"],
                    "label": declared_label(rules, entry["source"], name),
                    "declaration_ids": list(entry["declaration_ids"]),
                }
            )
        if notes:
            reason["declared"] = notes
    return stored
