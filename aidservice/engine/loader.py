"""Load a rules directory strictly: every problem is reported with file:line, nothing is guessed."""

from __future__ import annotations

import hashlib
import itertools
import re
from collections.abc import Mapping
from datetime import date
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any

from . import expr as ex
from .model import (
    FACT_TYPES,
    PARAM_TYPES,
    PAYMENTS,
    SOURCES,
    STATUSES,
    UNBOUNDED,
    AmountCase,
    Clause,
    Combination,
    Coverage,
    Dated,
    Derived,
    Document,
    Effective,
    FactSpec,
    Parameter,
    Program,
    Rules,
    Where,
)
from .result import KINDS, Citation
from .yamlsrc import RuleIssue, YList, YMap, load_text

IDENT = re.compile(r"^[a-z][a-z0-9_]*$")
SECTIONS = ("coverage", "documents", "facts", "derived", "parameters", "levels", "programs", "combinations")
LEVEL_ORDER = ("special", "difficult", "general")  # highest first, as clauses are tried and listed


class RulesError(Exception):
    """A rule set that cannot be loaded; `issues` lists every problem found."""

    def __init__(self, issues: list[RuleIssue]) -> None:
        self.issues = sorted(issues, key=lambda i: (i.file, i.line, i.message))
        super().__init__("\n".join(str(i) for i in self.issues))


def rule_files(root: Path) -> list[Path]:
    """The files that make up a rule set (tests are not part of it)."""
    return sorted(p for p in root.rglob("*.yaml") if "tests" not in p.relative_to(root).parts[:1])


def version_of(texts: Mapping[str, str]) -> str:
    """Content hash over the rule files in path order: the same files give the same version anywhere."""
    digest = hashlib.sha256()
    for rel in sorted(texts):
        digest.update(rel.encode() + b"\0" + texts[rel].encode("utf-8") + b"\0")
    return "sha256:" + digest.hexdigest()[:16]


def load(root: str | Path) -> Rules:
    """Read, validate and link a rules directory into `Rules`, or raise RulesError."""
    root = Path(root)
    if not root.is_dir():
        raise RulesError([RuleIssue(str(root), 0, "rules directory not found")])
    files = rule_files(root)
    if not files:
        raise RulesError([RuleIssue(str(root), 0, "no rule files (*.yaml) found")])
    texts: dict[str, str] = {}
    issues: list[RuleIssue] = []
    for path in files:
        rel = path.relative_to(root).as_posix()
        try:
            texts[rel] = path.read_bytes().decode("utf-8")
        except UnicodeDecodeError as exc:
            issues.append(RuleIssue(f"{root.name}/{rel}", 1, f"not UTF-8 text: {exc.reason}"))
    if issues:
        raise RulesError(issues)
    return load_texts(texts, root.name)


def load_texts(texts: Mapping[str, str], name: str = "rules", *, published: bool = False) -> Rules:
    """Build `Rules` from {relative path: text}: how a published rule set is loaded back for replay.

    `published`: the texts are a set the service ran before (the `rule_sets` table). Sets published before
    rule sets declared a coverage have none; they evaluated whatever date they were asked, so they load with
    an unbounded coverage, and replay asks them again only for the dates their decisions recorded.
    """
    rule_texts = {
        rel: text for rel, text in texts.items() if rel.endswith(".yaml") and not rel.startswith("tests/")
    }
    if not rule_texts:
        raise RulesError([RuleIssue(name, 0, "no rule files (*.yaml) found")])
    return _Builder(name, rule_texts, version_of(rule_texts), published=published).build()


class _Builder:
    def __init__(self, name: str, texts: Mapping[str, str], version: str, *, published: bool = False) -> None:
        self.name = name
        self.published = published
        self.version = version
        self.texts = dict(sorted(texts.items()))
        self.issues: list[RuleIssue] = []
        self.sections: dict[str, dict[str, tuple[Any, str, int]]] = {s: {} for s in SECTIONS}
        self.ordered: dict[str, list[tuple[Any, str, int]]] = {"combinations": [], "coverage": []}
        self.documents: dict[str, Document] = {}
        self.facts: dict[str, FactSpec] = {}
        self.parameters: dict[str, Parameter] = {}
        self.derived: dict[str, Derived] = {}
        self.symbols: dict[str, ex.Symbol] = {}
        self.unreadable: list[str] = []  # files that did not parse: their names are unknown, not wrong

    # ---------------------------------------------------------------- reading

    def build(self) -> Rules:
        for rel, text in self.texts.items():
            self._read(rel, text)
        coverage = self._build_coverage()
        self._build_documents()
        self._build_facts()
        self._build_parameters()
        self._build_symbols()
        self._build_derived()
        clauses, labels = self._build_levels()
        programs = self._build_programs()
        combinations = self._build_combinations(set(self.sections["programs"]))
        if self.issues or coverage is None:
            raise RulesError(self.issues)
        return Rules(
            version=self.version,
            documents=self.documents,
            facts=self.facts,
            parameters=self.parameters,
            derived=self.derived,
            clauses=tuple(clauses),
            level_labels=labels,
            programs=tuple(programs),
            combinations=tuple(combinations),
            coverage=coverage,
            files=self.texts,
        )

    def _read(self, rel: str, text: str) -> None:
        display = f"{self.name}/{rel}"
        try:
            top = load_text(text, display)
        except RuleIssue as issue:
            self.issues.append(issue)
            self.unreadable.append(display)
            return
        if not isinstance(top, YMap):
            self.issues.append(
                RuleIssue(display, 1, f"a rules file is a mapping of sections ({', '.join(SECTIONS)})")
            )
            return
        for section, body in top.items():
            line = top.key_lines[section]
            if section not in SECTIONS:
                self.error(display, line, f"unknown section '{section}' (allowed: {', '.join(SECTIONS)})")
                continue
            if section == "coverage":
                self.ordered["coverage"].append((body, display, line))
                continue
            if section == "combinations":
                if not isinstance(body, YList):
                    self.error(display, line, "combinations is a list")
                    continue
                self.ordered["combinations"] += [
                    (item, display, ln) for item, ln in zip(body, body.item_lines, strict=True)
                ]
                continue
            if not isinstance(body, YMap):
                self.error(display, line, f"{section} is a mapping of id -> definition")
                continue
            for key, value in body.items():
                key_line = body.key_lines[key]
                seen = self.sections[section].get(key)
                if seen is not None:
                    self.error(
                        display,
                        key_line,
                        f"duplicate {section[:-1] if section != 'derived' else 'derived value'} id '{key}' (first at {seen[1]}:{seen[2]})",
                    )
                    continue
                self.sections[section][key] = (value, display, key_line)

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
                    f"{what}: unknown document '{spec['document']}' (see documents.yaml)",
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

    # ---------------------------------------------------------------- sections

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
            issued = spec.get("issued")
            if issued is not None and not isinstance(issued, date):
                self.error(file, self.line_of(spec, "issued"), f"document '{doc_id}': issued must be a date")
                issued = None
            self.documents[doc_id] = Document(
                doc_id, str(spec["title"]), str(spec["number"]), issued, spec.get("url")
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
            if spec["source"] not in SOURCES:
                self.error(
                    file, self.line_of(spec, "source"), f"{what}: source must be one of {', '.join(SOURCES)}"
                )
                continue
            values: tuple[str, ...] = ()
            if ftype == "enum":
                raw = spec.get("values")
                if not isinstance(raw, YList) or not raw or not all(isinstance(v, str | int) for v in raw):
                    self.error(
                        file,
                        self.line_of(spec, "values"),
                        f"{what}: an enum needs a non-empty list of values",
                    )
                    continue
                values = tuple(str(v) for v in raw)
                if len(set(values)) != len(values):
                    self.error(file, self.line_of(spec, "values"), f"{what}: duplicate enum value")
                    continue
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
            )

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
                    item, file, iline, f"{what} range", {"value"}, {"from", "to", "status", "note"}
                )
                if spec is None:
                    return None
                start, end = spec.get("from"), spec.get("to")
                if any(v is not None and not isinstance(v, date) for v in (start, end)):
                    self.error(file, iline, f"{what}: from/to must be dates (YYYY-MM-DD)")
                    return None
                if start and end and end < start:
                    self.error(file, iline, f"{what}: range is reversed ({start} after {end})")
                    return None
                converted = self.param_value(
                    spec["value"], file, self.line_of(spec, "value"), what, ptype, decimals
                )
                if converted is _BAD:
                    return None
                item_status, item_note = self.status(spec, file, what, required=False)
                items.append(Dated(start, end, converted, item_status or status, item_note or note))
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

    def _build_symbols(self) -> None:
        for name, fact in self.facts.items():
            kind = (
                ex.Type("enum", fact.values)
                if fact.type == "enum"
                else (ex.BOOL if fact.type == "bool" else ex.NUM)
            )
            self.symbols[name] = ex.Symbol("fact", kind)
        for name, param in self.parameters.items():
            if name in self.symbols:
                self.error(*_where(param.where), f"parameter '{name}' has the same name as a fact")
                continue
            self.symbols[name] = ex.Symbol("param", ex.BOOL if param.type == "bool" else ex.NUM, param.key)
        self.symbols["level"] = ex.Symbol("level", ex.LEVEL)
        for name, (_value, file, line) in self.sections["derived"].items():
            if name in self.symbols:
                self.error(
                    file, line, f"derived value '{name}' has the same name as a fact, parameter or 'level'"
                )

    def _build_derived(self) -> None:
        pending = dict(self.sections["derived"])
        specs: dict[str, tuple[YMap, str, int]] = {}
        for name, (value, file, line) in pending.items():
            spec = self.fields(
                value, file, line, f"derived value '{name}'", {"type", "formula"}, {"label", "description"}
            )
            if spec is None or not self.ident(name, file, line, "derived value") or name in self.symbols:
                continue
            if spec["type"] not in ("bool", "int", "number", "money"):
                self.error(
                    file,
                    self.line_of(spec, "type"),
                    f"derived value '{name}': type must be bool, int, number or money",
                )
                continue
            specs[name] = (spec, file, line)
            self.symbols[name] = ex.Symbol("derived", ex.BOOL if spec["type"] == "bool" else ex.NUM)
        for name, (spec, file, line) in specs.items():
            expect = ex.BOOL if spec["type"] == "bool" else ex.NUM
            node = self.parse(
                spec["formula"], file, self.line_of(spec, "formula"), f"derived value '{name}'", expect
            )
            if node is not None and ("level", "level") in ex.references(node):
                self.error(file, self.line_of(spec, "formula"), f"derived value '{name}' cannot read 'level'")
            elif node is not None:
                self.derived[name] = Derived(
                    name,
                    spec["type"],
                    self.text(spec, "label", file, name, name),
                    node,
                    where=Where(file, line),
                )
        self._check_cycles()

    def _check_cycles(self) -> None:
        state: dict[str, int] = {}

        def visit(name: str, path: tuple[str, ...]) -> None:
            if state.get(name) == 2:
                return
            if state.get(name) == 1:
                derived = self.derived[name]
                self.error(
                    *_where(derived.where),
                    f"derived value '{name}' depends on itself ({' -> '.join((*path, name))})",
                )
                return
            state[name] = 1
            for kind, ref in ex.references(self.derived[name].expr):
                if kind == "derived" and ref in self.derived:
                    visit(ref, (*path, name))
            state[name] = 2

        for name in list(self.derived):
            visit(name, ())

    def parse(self, source: Any, file: str, line: int, what: str, expect: ex.Type) -> ex.Node | None:
        if isinstance(source, bool):
            source = "true" if source else "false"
        if not isinstance(source, str | int | Decimal):
            self.error(file, line, f"{what}: expected an expression, got {type(source).__name__}")
            return None
        try:
            return ex.parse(str(source), self.symbols, expect)
        except ex.ExprError as exc:
            if exc.name is None or not self.declared_but_broken(exc.name):
                self.error(file, line, f"{what}: {exc}")
            return None

    def declared_but_broken(self, name: str) -> bool:
        """A name whose own definition already failed: reporting its uses too would only add noise."""
        return any(name in self.sections[s] for s in ("facts", "parameters", "derived")) or bool(
            self.unreadable
        )

    def _build_levels(self) -> tuple[list[Clause], dict[str, str]]:
        clauses: list[Clause] = []
        labels: dict[str, str] = {"none": "不困难"}
        seen: dict[str, str] = {}
        levels = self.sections["levels"]
        for level in levels:
            if level not in LEVEL_ORDER:
                _value, file, line = levels[level]
                self.error(file, line, f"unknown level '{level}' (levels are {', '.join(LEVEL_ORDER)})")
        if self.sections["levels"] and set(levels) != set(LEVEL_ORDER):
            missing = ", ".join(sorted(set(LEVEL_ORDER) - set(levels)))
            if missing:
                _value, file, line = next(iter(levels.values()))
                self.error(file, line, f"levels missing: {missing}")
        if not levels:
            self.issues.append(RuleIssue(self.name, 0, "no levels defined (levels.yaml)"))
        for level in LEVEL_ORDER:
            if level not in levels:
                continue
            value, file, line = levels[level]
            spec = self.fields(value, file, line, f"level '{level}'", {"clauses"}, {"label", "description"})
            if spec is None:
                continue
            labels[level] = self.text(spec, "label", file, level, level)
            raw = spec["clauses"]
            if not isinstance(raw, YList):
                self.error(file, self.line_of(spec, "clauses"), f"level '{level}': clauses is a list")
                continue
            for item, iline in zip(raw, raw.item_lines, strict=True):
                clause = self._clause(level, item, file, iline, seen)
                if clause is not None:
                    clauses.append(clause)
        return clauses, labels

    def _clause(self, level: str, item: Any, file: str, line: int, seen: dict[str, str]) -> Clause | None:
        spec = self.fields(
            item,
            file,
            line,
            f"clause of level '{level}'",
            {"id", "when", "status"},
            {"label", "note", "basis", "description"},
        )
        if spec is None:
            return None
        cid = str(spec["id"])
        what = f"clause '{cid}'"
        if not self.ident(cid, file, line, "clause"):
            return None
        if cid in seen:
            self.error(file, line, f"duplicate clause id '{cid}' (first at {seen[cid]})")
            return None
        seen[cid] = f"{file}:{line}"
        status, note = self.status(spec, file, what)
        node = self.parse(spec["when"], file, self.line_of(spec, "when"), what, ex.BOOL)
        if node is None:
            return None
        if ("level", "level") in ex.references(node):
            self.error(
                file, self.line_of(spec, "when"), f"{what}: an identification clause cannot read 'level'"
            )
            return None
        return Clause(
            cid,
            level,
            self.text(spec, "label", file, what, cid),
            node,
            status,
            note,
            self.basis(spec, file, what),
            Where(file, line),
        )

    def _build_programs(self) -> list[Program]:
        programs: list[Program] = []
        for pid, (value, file, line) in self.sections["programs"].items():
            what = f"program '{pid}'"
            spec = self.fields(
                value,
                file,
                line,
                what,
                {"name", "kind", "when", "amount", "status"},
                {"note", "basis", "stages", "effective", "payment", "description", "label"},
            )
            if spec is None or not self.ident(pid, file, line, "program"):
                continue
            if spec["kind"] not in KINDS:
                self.error(
                    file, self.line_of(spec, "kind"), f"{what}: kind must be one of {', '.join(KINDS)}"
                )
                continue
            payment = spec.get("payment", "none" if spec["kind"] == "loan" else "semesters")
            if payment not in PAYMENTS:
                self.error(
                    file,
                    self.line_of(spec, "payment"),
                    f"{what}: payment must be one of {', '.join(PAYMENTS)}",
                )
                continue
            stages = spec.get("stages") or ()
            stage_values = self.facts["stage"].values if "stage" in self.facts else ()
            bad = [s for s in stages if s not in stage_values]
            if bad:
                self.error(
                    file, self.line_of(spec, "stages"), f"{what}: unknown stage(s) {', '.join(map(str, bad))}"
                )
                continue
            status, note = self.status(spec, file, what)
            when = self.parse(spec["when"], file, self.line_of(spec, "when"), what, ex.BOOL)
            cases = self._amount_cases(spec, file, what)
            if when is None or cases is None:
                continue
            programs.append(
                Program(
                    id=pid,
                    name=str(spec["name"]),
                    kind=spec["kind"],
                    when=when,
                    amount=cases,
                    status=status,
                    note=note,
                    basis=self.basis(spec, file, what),
                    payment=payment,
                    stages=tuple(stages),
                    effective=self.effective(spec, file, what),
                    description=self.text(spec, "description", file, what),
                    where=Where(file, line),
                )
            )
        return programs

    def _amount_cases(self, spec: YMap, file: str, what: str) -> tuple[AmountCase, ...] | None:
        raw = spec["amount"]
        line = self.line_of(spec, "amount")
        if not isinstance(raw, YList):
            node = self.parse(raw, file, line, f"{what} amount", ex.NUM)
            return None if node is None else (AmountCase(node, where=Where(file, line)),)
        cases: list[AmountCase] = []
        for index, (item, iline) in enumerate(zip(raw, raw.item_lines, strict=True)):
            case_what = f"{what} amount case {index + 1}"
            cspec = self.fields(
                item,
                file,
                iline,
                case_what,
                {"value"},
                {"when", "label", "status", "note", "basis", "effective"},
            )
            if cspec is None:
                return None
            value = self.parse(cspec["value"], file, self.line_of(cspec, "value"), case_what, ex.NUM)
            when = None
            if "when" in cspec:
                when = self.parse(cspec["when"], file, self.line_of(cspec, "when"), case_what, ex.BOOL)
                if when is None:
                    return None
            if value is None:
                return None
            status, note = self.status(cspec, file, case_what, required=False)
            cases.append(
                AmountCase(
                    value=value,
                    when=when,
                    label=self.text(cspec, "label", file, case_what),
                    status=status or "confirmed",
                    note=note,
                    basis=self.basis(cspec, file, case_what),
                    effective=self.effective(cspec, file, case_what),
                    where=Where(file, iline),
                )
            )
        if not cases:
            self.error(file, line, f"{what}: amount has no cases")
            return None
        return tuple(cases)

    def _build_combinations(self, program_ids: set[str]) -> list[Combination]:
        out: list[Combination] = []
        seen: set[str] = set()
        for item, file, line in self.ordered["combinations"]:
            spec = self.fields(
                item,
                file,
                line,
                "combination",
                {"id", "exclusive", "status"},
                {"note", "basis", "description"},
            )
            if spec is None:
                continue
            cid = str(spec["id"])
            what = f"combination '{cid}'"
            if cid in seen:
                self.error(file, line, f"duplicate combination id '{cid}'")
                continue
            seen.add(cid)
            members = spec["exclusive"]
            if not isinstance(members, YList) or len(members) < 2:
                self.error(
                    file, self.line_of(spec, "exclusive"), f"{what}: exclusive lists two or more programs"
                )
                continue
            unknown = [m for m in members if m not in program_ids]
            if unknown:
                self.error(
                    file,
                    self.line_of(spec, "exclusive"),
                    f"{what}: unknown program(s) {', '.join(map(str, unknown))}",
                )
                continue
            status, note = self.status(spec, file, what)
            out.append(
                Combination(
                    cid, tuple(members), status, note, self.basis(spec, file, what), Where(file, line)
                )
            )
        return out


_BAD = object()


def _where(where: Where | None) -> tuple[str, int]:
    return (where.file, where.line) if where else ("rules", 0)
