"""The logic of a rule set: derived values, level clauses, programs and their amounts, combinations.

Every formula and condition is parsed against the symbols of the declared facts, parameters and
derived values (`expr.parse` type-checks it); derived values may not depend on themselves, and
identification clauses and derived values may not read `level`. A name whose own definition
already failed is not reported again at each use.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from . import expr as ex
from .loader_checks import RuleChecks
from .model import PAYMENTS, AmountCase, Clause, Combination, Derived, Program, Where
from .result import KINDS
from .suggest import did_you_mean
from .yamlsrc import RuleIssue, YList, YMap

LEVEL_ORDER = ("special", "difficult", "general")  # highest first, as clauses are tried and listed


class LogicSections(RuleChecks):
    """Builds the symbol table, derived values, levels, programs and combinations."""

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
                    file,
                    self.line_of(spec, "stages"),
                    f"{what}: unknown stage(s) {', '.join(map(str, bad))}"
                    + "".join(did_you_mean(str(s), stage_values) for s in bad),
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
                    f"{what}: unknown program(s) {', '.join(map(str, unknown))}"
                    + "".join(did_you_mean(str(m), program_ids) for m in unknown),
                )
                continue
            status, note = self.status(spec, file, what)
            out.append(
                Combination(
                    cid, tuple(members), status, note, self.basis(spec, file, what), Where(file, line)
                )
            )
        return out


def _where(where: Where | None) -> tuple[str, int]:
    return (where.file, where.line) if where else ("rules", 0)
