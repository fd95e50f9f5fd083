"""The loader's shared state and its generic checks: the parts every section builder uses.

`RuleChecks` holds what a load collects (the issues found, the raw sections by id, the definitions built
so far) and the checks a definition's fields go through: known keys only, required keys present,
snake_case ids, text, status with its note, basis citations, effective ranges. Each check records a
`file:line` issue and returns a neutral value, so a load reports every problem at once.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date
from typing import Any

from . import expr as ex
from .model import STATUSES, Derived, Document, Effective, FactSpec, Parameter
from .result import Citation
from .suggest import did_you_mean
from .yamlsrc import RuleIssue, YList, YMap

IDENT = re.compile(r"^[a-z][a-z0-9_]*$")
SECTIONS = (
    "coverage",
    "documents",
    "facts",
    "sources",
    "special_groups",
    "derived",
    "parameters",
    "levels",
    "programs",
    "combinations",
    "procedure",
)
LISTED = ("combinations", "special_groups")
"""Sections written as a list (their order matters); the others map id -> definition."""


class RuleChecks:
    """State of one load and the field checks shared by the section builders."""

    def __init__(self, name: str, texts: Mapping[str, str], version: str, *, published: bool = False) -> None:
        self.name = name
        self.published = published
        self.version = version
        self.texts = dict(sorted(texts.items()))
        self.issues: list[RuleIssue] = []
        self.sections: dict[str, dict[str, tuple[Any, str, int]]] = {s: {} for s in SECTIONS}
        self.ordered: dict[str, list[tuple[Any, str, int]]] = {
            "combinations": [],
            "special_groups": [],
            "coverage": [],
            "procedure": [],
        }
        self.documents: dict[str, Document] = {}
        self.facts: dict[str, FactSpec] = {}
        self.parameters: dict[str, Parameter] = {}
        self.derived: dict[str, Derived] = {}
        self.symbols: dict[str, ex.Symbol] = {}
        self.unreadable: list[str] = []  # files that did not parse: their names are unknown, not wrong

    def error(self, file: str, line: int, message: str) -> None:
        self.issues.append(RuleIssue(file, line, message))

    def fields(
        self, value: Any, file: str, line: int, what: str, required: set[str], optional: set[str]
    ) -> YMap | None:
        """Check a definition's keys: none unknown, none required missing."""
        if not isinstance(value, YMap):
            self.error(file, line, f"{what} must be a mapping")
            return None
        ok = True
        for key in value:
            if key not in required and key not in optional:
                allowed = ", ".join(sorted(required | optional))
                self.error(file, value.key_lines[key], f"unknown key '{key}' in {what} (allowed: {allowed})")
                ok = False
        for key in sorted(required - value.keys()):
            self.error(file, value.line, f"{what} is missing required key '{key}'")
            ok = False
        return value if ok else None

    def line_of(self, ymap: YMap, key: str) -> int:
        return ymap.key_lines.get(key, ymap.line)

    def ident(self, name: str, file: str, line: int, what: str) -> bool:
        if not IDENT.match(name):
            self.error(file, line, f"{what} id '{name}' must be snake_case ([a-z][a-z0-9_]*)")
            return False
        return True

    def text(self, ymap: YMap, key: str, file: str, what: str, default: str = "") -> str:
        value = ymap.get(key, default)
        if value is None:
            return default
        if not isinstance(value, str):
            self.error(file, self.line_of(ymap, key), f"{what}: '{key}' must be text")
            return default
        return value

    def status(self, ymap: YMap, file: str, what: str, required: bool = True) -> tuple[str, str]:
        """status and note; a provisional value must say why in a note."""
        status = ymap.get("status")
        note = self.text(ymap, "note", file, what)
        if status is None and not required:
            return "", note
        if status not in STATUSES:
            self.error(
                file,
                self.line_of(ymap, "status"),
                f"{what}: status must be one of {', '.join(STATUSES)}, not {status!r}",
            )
            return "provisional", note
        if status == "provisional" and not note:
            self.error(
                file, self.line_of(ymap, "status"), f"{what}: a provisional value needs a 'note' saying why"
            )
        return status, note

    def basis(self, ymap: YMap, file: str, what: str) -> tuple[Citation, ...]:
        raw = ymap.get("basis")
        if raw is None:
            return ()
        items = raw if isinstance(raw, YList) else [raw]
        lines = raw.item_lines if isinstance(raw, YList) else [self.line_of(ymap, "basis")]
        out: list[Citation] = []
        for item, line in zip(items, lines, strict=True):
            spec = self.fields(item, file, line, f"{what} basis", {"document"}, {"clause"})
            if spec is None:
                continue
            doc = self.documents.get(str(spec["document"]))
            if doc is None:
                self.error(
                    file,
                    self.line_of(spec, "document"),
                    f"{what}: unknown document '{spec['document']}' (see documents.yaml)"
                    + did_you_mean(str(spec["document"]), self.documents),
                )
                continue
            out.append(Citation(doc.id, doc.number, doc.title, str(spec.get("clause") or "")))
        return tuple(out)

    def effective(self, ymap: YMap, file: str, what: str) -> Effective | None:
        raw = ymap.get("effective")
        if raw is None:
            return None
        spec = self.fields(
            raw, file, self.line_of(ymap, "effective"), f"{what} effective", set(), {"from", "to"}
        )
        if spec is None:
            return None
        start, end = spec.get("from"), spec.get("to")
        for key, value in (("from", start), ("to", end)):
            if value is not None and not isinstance(value, date):
                self.error(
                    file, self.line_of(spec, key), f"{what}: effective.{key} must be a date (YYYY-MM-DD)"
                )
                return None
        if start and end and end < start:
            self.error(file, spec.line, f"{what}: effective range is reversed ({start} after {end})")
            return None
        return Effective(start, end)
