"""The declarations of a rule set: coverage, documents, facts and (effective-dated) parameters.

Each section is read from the raw definitions `RuleChecks` collected; values are checked strictly
(types, enum values, decimals, bounds, date order and overlaps) and parameter values are stored as
scaled integers (money in fen), so evaluation never rounds what a rules file wrote.
"""

from __future__ import annotations

import itertools
import re
from datetime import date
from decimal import Decimal
from fractions import Fraction
from typing import Any

from .loader_checks import IDENT, RuleChecks
from .model import (
    FACT_TYPES,
    PARAM_TYPES,
    UNBOUNDED,
    Coverage,
    Dated,
    Document,
    FactSpec,
    Parameter,
    Where,
)
from .suggest import did_you_mean
from .vocabulary import BUILTIN_SOURCES
from .yamlsrc import RuleIssue, YList, YMap

_BAD = object()
_PARTIAL_DATE = re.compile(r"^(19|20)[0-9]{2}(-(0[1-9]|1[0-2]))?$")


class DeclarationSections(RuleChecks):
    """Builds coverage, documents, facts and parameters."""

    def _build_coverage(self) -> Coverage | None:
        """The one `coverage: {from, to}` of the rule set (policy §0): both dates required, from <= to."""
        declared = self.ordered["coverage"]
        if not declared and self.published:
            return UNBOUNDED
        if not declared:
            if not self.unreadable:  # an unreadable file may hold it
                self.issues.append(
                    RuleIssue(
                        self.name,
                        0,
                        "no coverage declared: the rule set needs "
                        "'coverage: {from: YYYY-MM-DD, to: YYYY-MM-DD}' (policy §0)",
                    )
                )
            return None
        value, file, line = declared[0]
        for _other, other_file, other_line in declared[1:]:
            self.error(other_file, other_line, f"duplicate coverage (first at {file}:{line})")
        spec = self.fields(value, file, line, "coverage", {"from", "to"}, set())
        if spec is None:
            return None
        for key in ("from", "to"):
            if type(spec[key]) is not date:
                self.error(file, self.line_of(spec, key), f"coverage.{key} must be a date (YYYY-MM-DD)")
                return None
        start, end = spec["from"], spec["to"]
        if end < start:
            self.error(file, line, f"coverage is reversed ({start} after {end})")
            return None
        return Coverage(start, end, Where(file, line)) if len(declared) == 1 else None

    def _build_documents(self) -> None:
        for doc_id, (value, file, line) in self.sections["documents"].items():
            spec = self.fields(
                value, file, line, f"document '{doc_id}'", {"title", "number"}, {"issued", "url", "issuer"}
            )
            if spec is None or not self.ident(doc_id, file, line, "document"):
                continue
            issued, issued_as = spec.get("issued"), ""
            if isinstance(issued, date):
                issued_as = issued.isoformat()
            elif issued is not None:
                issued_as = str(issued)
                issued = None
                if not _PARTIAL_DATE.match(issued_as):
                    self.error(
                        file,
                        self.line_of(spec, "issued"),
                        f"document '{doc_id}': issued must be a date (YYYY-MM-DD, or \"YYYY-MM\" / YYYY "
                        "when only that is known)",
                    )
                    issued_as = ""
            self.documents[doc_id] = Document(
                doc_id,
                str(spec["title"]),
                str(spec["number"]),
                issued,
                spec.get("url"),
                self.text(spec, "issuer", file, f"document '{doc_id}'"),
                issued_as,
            )

    def _build_facts(self) -> None:
        for name, (value, file, line) in self.sections["facts"].items():
            what = f"fact '{name}'"
            spec = self.fields(
                value,
                file,
                line,
                what,
                {"type", "source"},
                {"label", "values", "required", "min", "max", "decimals", "description"},
            )
            if spec is None or not self.ident(name, file, line, "fact"):
                continue
            ftype = spec["type"]
            if ftype not in FACT_TYPES:
                self.error(
                    file, self.line_of(spec, "type"), f"{what}: type must be one of {', '.join(FACT_TYPES)}"
                )
                continue
            if not self._known_source(str(spec["source"]), file, self.line_of(spec, "source"), what):
                continue
            values: tuple[str, ...] = ()
            value_labels: tuple[tuple[str, str], ...] = ()
            if ftype == "enum":
                enum = self._enum_values(spec, file, what)
                if enum is None:
                    continue
                values, value_labels = enum
            elif "values" in spec:
                self.error(file, self.line_of(spec, "values"), f"{what}: only enum facts have values")
                continue
            decimals = spec.get("decimals", 2 if ftype == "money" else 0)
            if not isinstance(decimals, int) or isinstance(decimals, bool) or not 0 <= decimals <= 6:
                self.error(file, self.line_of(spec, "decimals"), f"{what}: decimals must be an integer 0-6")
                continue
            if ftype == "money" and decimals != 2:
                self.error(file, self.line_of(spec, "decimals"), f"{what}: money has 2 decimals")
                continue
            bounds: dict[str, Fraction | None] = {}
            for key in ("min", "max"):
                raw_bound = spec.get(key)
                if raw_bound is not None and (
                    ftype not in ("int", "number", "money")
                    or isinstance(raw_bound, bool)
                    or not isinstance(raw_bound, int | Decimal)
                ):
                    self.error(
                        file, self.line_of(spec, key), f"{what}: {key} must be a number on a numeric fact"
                    )
                    raw_bound = None
                bounds[key] = None if raw_bound is None else Fraction(raw_bound)
            if bounds["min"] is not None and bounds["max"] is not None and bounds["min"] > bounds["max"]:
                self.error(file, spec.line, f"{what}: min is above max")
            required = spec.get("required", False)
            if not isinstance(required, bool):
                self.error(file, self.line_of(spec, "required"), f"{what}: required must be true or false")
                required = False
            self.facts[name] = FactSpec(
                name=name,
                type=ftype,
                label=self.text(spec, "label", file, what, name),
                source=spec["source"],
                required=required,
                values=values,
                min=bounds["min"],
                max=bounds["max"],
                decimals=decimals,
                description=self.text(spec, "description", file, what),
                where=Where(file, line),
                value_labels=value_labels,
            )

    def _known_source(self, source: str, file: str, line: int, what: str) -> bool:
        """A fact comes from the roster, the school, the application, or a source of `sources:`.

        A published set from before rule sets named their sources has no `sources:`; its facts' sources
        were checked when it was published, so any id is taken (it is loaded back for replay only).
        """
        declared = self.sections["sources"]
        if source in BUILTIN_SOURCES or source in declared:
            return True
        if self.published and not declared and IDENT.match(source):
            return True
        known = (*BUILTIN_SOURCES, *declared)
        self.error(
            file,
            line,
            f"{what}: source must be one of {', '.join(known)} (the sources are named in sources.yaml)"
            + did_you_mean(source, known),
        )
        return False

    def _enum_values(
        self, spec: YMap, file: str, what: str
    ) -> tuple[tuple[str, ...], tuple[tuple[str, str], ...]] | None:
        """An enum's values: a list, or a mapping of value -> label (`primary: 小学`)."""
        raw = spec.get("values")
        line = self.line_of(spec, "values")
        if isinstance(raw, YMap) and raw and all(isinstance(v, str) and v for v in raw.values()):
            values = tuple(str(v) for v in raw)
            labels = tuple((str(k), str(v)) for k, v in raw.items())
        elif isinstance(raw, YList) and raw and all(isinstance(v, str | int) for v in raw):
            values, labels = tuple(str(v) for v in raw), ()
        else:
            self.error(
                file,
                line,
                f"{what}: an enum needs a non-empty list of values, or a mapping of value -> label",
            )
            return None
        if len(set(values)) != len(values):
            self.error(file, line, f"{what}: duplicate enum value")
            return None
        return values, labels

    def _build_parameters(self) -> None:
        for name, (value, file, line) in self.sections["parameters"].items():
            what = f"parameter '{name}'"
            spec = self.fields(
                value,
                file,
                line,
                what,
                {"type", "status", "values"},
                {"label", "note", "basis", "key", "unit", "description", "decimals"},
            )
            if spec is None or not self.ident(name, file, line, "parameter"):
                continue
            ptype = spec["type"]
            if ptype not in PARAM_TYPES:
                self.error(
                    file, self.line_of(spec, "type"), f"{what}: type must be one of {', '.join(PARAM_TYPES)}"
                )
                continue
            decimals = 2 if ptype == "money" else spec.get("decimals", 0 if ptype == "int" else 4)
            status, note = self.status(spec, file, what)
            key = spec.get("key")
            raw_values = spec["values"]
            series: dict[str | None, tuple[Dated, ...]] = {}
            if key is not None:
                fact = self.facts.get(str(key))
                if fact is None or fact.type != "enum":
                    self.error(file, self.line_of(spec, "key"), f"{what}: key '{key}' is not an enum fact")
                    continue
                if not isinstance(raw_values, YMap):
                    self.error(
                        file,
                        self.line_of(spec, "values"),
                        f"{what}: a keyed parameter maps each {key} value to dated values",
                    )
                    continue
                for key_value, dated in raw_values.items():
                    kline = raw_values.key_lines[key_value]
                    if key_value not in fact.values:
                        self.error(file, kline, f"{what}: '{key_value}' is not a value of {key}")
                        continue
                    ranges = self.dated(
                        dated, file, kline, f"{what}[{key_value}]", ptype, decimals, status, note
                    )
                    if ranges is not None:
                        series[key_value] = ranges
            else:
                ranges = self.dated(
                    raw_values, file, self.line_of(spec, "values"), what, ptype, decimals, status, note
                )
                if ranges is None:
                    continue
                series[None] = ranges
            self.parameters[name] = Parameter(
                name=name,
                type=ptype,
                label=self.text(spec, "label", file, what, name),
                status=status,
                note=note,
                basis=self.basis(spec, file, what),
                key=None if key is None else str(key),
                series=series,
                decimals=decimals,
                unit=self.text(spec, "unit", file, what),
                description=self.text(spec, "description", file, what),
                where=Where(file, line),
            )

    def dated(
        self, raw: Any, file: str, line: int, what: str, ptype: str, decimals: int, status: str, note: str
    ) -> tuple[Dated, ...] | None:
        """Effective-dated values, short form {start: value} or long form [{from, to, value}]."""
        items: list[Dated] = []
        if isinstance(raw, YMap):
            starts = []
            for key, value in raw.items():
                kline = raw.key_lines[key]
                try:
                    start = date.fromisoformat(key)
                except ValueError:
                    self.error(file, kline, f"{what}: '{key}' is not a date (YYYY-MM-DD)")
                    return None
                converted = self.param_value(value, file, kline, what, ptype, decimals)
                if converted is _BAD:
                    return None
                starts.append((start, converted, kline))
            if [s for s, _, _ in starts] != sorted(s for s, _, _ in starts):
                self.error(file, line, f"{what}: dates must be in increasing order")
                return None
            for i, (start, converted, _kline) in enumerate(starts):
                end = (
                    starts[i + 1][0].fromordinal(starts[i + 1][0].toordinal() - 1)
                    if i + 1 < len(starts)
                    else None
                )
                items.append(Dated(start, end, converted, status, note))
        elif isinstance(raw, YList):
            for item, iline in zip(raw, raw.item_lines, strict=True):
                spec = self.fields(
                    item, file, iline, f"{what} range", {"value"}, {"from", "to", "status", "note", "basis"}
                )
                if spec is None:
                    return None
                since, until = spec.get("from"), spec.get("to")
                if any(v is not None and not isinstance(v, date) for v in (since, until)):
                    self.error(file, iline, f"{what}: from/to must be dates (YYYY-MM-DD)")
                    return None
                if since and until and until < since:
                    self.error(file, iline, f"{what}: range is reversed ({since} after {until})")
                    return None
                converted = self.param_value(
                    spec["value"], file, self.line_of(spec, "value"), what, ptype, decimals
                )
                if converted is _BAD:
                    return None
                item_status, item_note = self.status(spec, file, what, required=False)
                items.append(
                    Dated(
                        since,
                        until,
                        converted,
                        item_status or status,
                        item_note or note,
                        self.basis(spec, file, f"{what} range"),
                    )
                )
            items.sort(key=lambda d: d.start or date.min)
            for before, after in itertools.pairwise(items):
                if (
                    before.end is None
                    or (after.start is not None and after.start <= before.end)
                    or after.start is None
                ):
                    self.error(
                        file,
                        line,
                        f"{what}: ranges overlap ({before.start}..{before.end} and {after.start}..{after.end})",
                    )
                    return None
        else:
            self.error(file, line, f"{what}: values are dated, e.g. {{2019-01-01: 2000}}")
            return None
        if not items:
            self.error(file, line, f"{what}: no values")
            return None
        return tuple(items)

    def param_value(self, value: Any, file: str, line: int, what: str, ptype: str, decimals: int) -> object:
        if value is None:
            return None
        if ptype == "bool":
            if isinstance(value, bool):
                return value
        elif isinstance(value, int | Decimal) and not isinstance(value, bool):
            scaled = Decimal(value).scaleb(decimals)
            if scaled == scaled.to_integral_value() and (ptype != "int" or isinstance(value, int)):
                return int(scaled)
            self.error(file, line, f"{what}: {value} has more than {decimals} decimals")
            return _BAD
        self.error(file, line, f"{what}: {value!r} is not a {ptype}")
        return _BAD
