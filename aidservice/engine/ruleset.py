"""RuleSet: the engine's one entry point for callers (API, CLI, services, batch)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date
from decimal import Decimal
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import expr as ex
from . import facts as fx
from . import interp
from .compiler import compile_record
from .loader import load, load_texts
from .model import Parameter, Procedure, Rules
from .result import LEVELS, Citation, Result
from .ruletests import TestOutcome, run_tests
from .vocabulary import Vocabulary

if TYPE_CHECKING:
    import polars as pl


class RuleSet:
    """A loaded, validated rule set; evaluation is pure and thread-safe."""

    def __init__(self, rules: Rules, path: Path | None = None) -> None:
        self.rules = rules
        self.path = path
        self._compiled: dict[date, Callable[..., Result]] = {}

    @property
    def version(self) -> str:
        return self.rules.version

    @property
    def facts(self) -> Mapping[str, Any]:
        return self.rules.facts

    @property
    def vocabulary(self) -> Vocabulary:
        """Sources, the statuses each sends, and the special groups (rules/sources.yaml)."""
        return self.rules.vocabulary

    @property
    def procedure(self) -> Procedure:
        """The notice length, quota order and guide ratios (rules/procedure.yaml). Every rule set the service
        runs has one (the loader requires it); only a published set replayed for its decisions may lack it."""
        if self.rules.procedure is None:
            raise LookupError(
                f"rule set {self.version} declares no procedure (published before it was policy)"
            )
        return self.rules.procedure

    # ------------------------------------------------------------------ facts

    def validate_facts(self, raw: Mapping[str, object], *, text: bool = False) -> dict[str, object]:
        """Normalise raw facts, or raise FactsError naming each bad fact."""
        return fx.normalise(self.rules.facts, raw, text=text)

    def fact_to_json(self, name: str, value: object) -> object:
        """Render an internal fact value for JSON (money as a two-place string)."""
        spec = self.rules.facts.get(name)
        return value if spec is None else fx.to_json(spec, value)

    def facts_to_json(self, facts: Mapping[str, object]) -> dict[str, object]:
        return {name: self.fact_to_json(name, value) for name, value in facts.items()}

    # ------------------------------------------------------------- evaluation

    def evaluate(
        self, facts: Mapping[str, object], as_of: date, *, trace: bool = False, level: str | None = None
    ) -> Result:
        """Evaluate normalised facts; with `trace` every clause, value and parameter is explained.

        `level` replaces the identified level (a review group's adjustment, recorded by the caller).
        """
        if level is not None and level not in LEVELS:
            raise ValueError(f"unknown level {level!r}")
        if trace:
            return interp.evaluate(self.rules, dict(facts), as_of, trace=True, level_override=level)
        return self.compiled(as_of)(facts, None if level is None else LEVELS.index(level))

    def explain(self, facts: Mapping[str, object], as_of: date, *, level: str | None = None) -> Result:
        """The reference evaluation with its full trace (the semantics the fast paths must match)."""
        return interp.evaluate(self.rules, dict(facts), as_of, trace=True, level_override=level)

    def compiled(self, as_of: date) -> Callable[..., Result]:
        """The per-record evaluator specialised to one date (parameters folded in), cached."""
        evaluator = self._compiled.get(as_of)
        if evaluator is None:
            evaluator = compile_record(self.rules, as_of)
            if len(self._compiled) > 64:
                self._compiled.clear()
            self._compiled[as_of] = evaluator
        return evaluator

    def evaluate_frame(self, frame: pl.DataFrame, as_of: date) -> pl.DataFrame:
        """Columnar evaluation of a whole table of normalised facts (see `columnar`)."""
        from .columnar import evaluate_frame  # polars is heavy: only for callers that evaluate frames

        return evaluate_frame(self.rules, frame, as_of)

    # ------------------------------------------------------------------ tests

    def run_tests(self, tests_dir: str | Path) -> list[TestOutcome]:
        """Run the data-driven rule tests (`rules/tests/*.yaml`) on every evaluation path."""
        return run_tests(self, Path(tests_dir))

    # -------------------------------------------------------------- describe

    @cached_property
    def description(self) -> dict[str, Any]:
        return _describe(self.rules)

    def describe(self) -> dict[str, Any]:
        """The rule set as JSON-ready data: programs, parameters, statuses, citations."""
        return self.description


def load_rules(path: str | Path) -> RuleSet:
    """Load and validate a rules directory; raises RulesError with file:line issues."""
    return RuleSet(load(path), Path(path))


def rules_from_files(files: Mapping[str, str], name: str = "rules", *, published: bool = False) -> RuleSet:
    """A rule set from {relative path: text}, e.g. a published version loaded back to replay a decision
    (`published`: one the service ran before, which may predate the coverage; see `load_texts`)."""
    return RuleSet(load_texts(files, name, published=published))


def _citations(basis: tuple[Citation, ...]) -> list[dict[str, str]]:
    return [
        {"document": c.document, "number": c.number, "title": c.title, "clause": c.clause, "text": str(c)}
        for c in basis
    ]


def _param(param: Parameter) -> dict[str, Any]:
    def value(v: object) -> object:
        if v is None or param.type in ("bool", "int"):
            return v
        return str(Decimal(v).scaleb(-param.decimals))  # type: ignore[arg-type]

    return {
        "name": param.name,
        "label": param.label,
        "type": param.type,
        "unit": param.unit,
        "key": param.key,
        "status": param.status,
        "note": param.note,
        "basis": _citations(param.basis),
        "values": [
            {
                "key": key,
                "from": d.start.isoformat() if d.start else None,
                "to": d.end.isoformat() if d.end else None,
                "value": value(d.value),
                "status": d.status,
                "note": d.note,
                "basis": _citations(d.basis or param.basis),
            }
            for key, series in param.series.items()
            for d in series
        ],
    }


def _describe(rules: Rules) -> dict[str, Any]:
    return {
        "version": rules.version,
        "coverage": {"from": rules.coverage.start.isoformat(), "to": rules.coverage.end.isoformat()},
        "documents": [
            {
                "id": d.id,
                "title": d.title,
                "number": d.number,
                "issued": d.issued.isoformat() if d.issued else None,
                "url": d.url,
            }
            for d in rules.documents.values()
        ],
        "facts": [
            {
                "name": f.name,
                "type": f.type,
                "label": f.label,
                "source": f.source,
                "required": f.required,
                "values": list(f.values) or None,
                "value_labels": dict(f.value_labels) or None,
                "min": None if f.min is None else interp.render(f.min),
                "max": None if f.max is None else interp.render(f.max),
                "decimals": f.decimals,
            }
            for f in rules.facts.values()
        ],
        "derived": [
            {"name": d.name, "label": d.label, "type": d.type, "formula": ex.to_text(d.expr)}
            for d in rules.derived.values()
        ],
        "levels": [
            {
                "level": level,
                "label": rules.level_labels.get(level, level),
                "clauses": [
                    {
                        "id": c.id,
                        "label": c.label,
                        "when": ex.to_text(c.when),
                        "status": c.status,
                        "note": c.note,
                        "basis": _citations(c.basis),
                    }
                    for c in rules.clauses
                    if c.level == level
                ],
            }
            for level in ("special", "difficult", "general")
        ],
        "programs": [
            {
                "id": p.id,
                "name": p.name,
                "kind": p.kind,
                "stages": list(p.stages),
                "when": ex.to_text(p.when),
                "payment": p.payment,
                "status": p.status,
                "note": p.note,
                "basis": _citations(p.basis),
                "effective": None
                if p.effective is None
                else {
                    "from": p.effective.start.isoformat() if p.effective.start else None,
                    "to": p.effective.end.isoformat() if p.effective.end else None,
                },
                "amount": [
                    {
                        "when": None if c.when is None else ex.to_text(c.when),
                        "value": ex.to_text(c.value),
                        "label": c.label,
                        "status": c.status,
                        "note": c.note,
                        "basis": _citations(c.basis),
                    }
                    for c in p.amount
                ],
            }
            for p in rules.programs
        ],
        "parameters": [_param(p) for p in rules.parameters.values()],
        "combinations": [
            {
                "id": c.id,
                "exclusive": list(c.exclusive),
                "status": c.status,
                "note": c.note,
                "basis": _citations(c.basis),
            }
            for c in rules.combinations
        ],
        "sources": [
            {
                "id": source.id,
                "label": source.label,
                "kind": source.kind,
                **({"report_label": source.report_label} if source.report_label else {}),
                **({"basis": _citations(source.basis)} if source.basis else {}),
                "statuses": [
                    {
                        "status": st.name,
                        "label": st.label or rules.facts[st.name].label,
                        **({"basis": _citations(st.basis)} if st.basis else {}),
                        "reaches": st.reaches,
                        "guardian_fact": st.guardian_fact,
                        "attributes": [
                            {"name": a.name, "fact": a.fact, "required": a.required} for a in st.attributes
                        ],
                    }
                    for st in source.statuses
                ],
            }
            for source in rules.vocabulary.sources
        ],
        "special_groups": [{"status": g.status, "label": g.label} for g in rules.vocabulary.groups],
        "procedure": _procedure(rules.procedure),
    }


def _procedure(procedure: Procedure | None) -> dict[str, Any] | None:
    """Notice length, quota order (each with its status, note and citations) and guide ratios by stage."""
    if procedure is None:
        return None
    out: dict[str, Any] = {}
    for name, value in (
        ("notice_working_days", procedure.notice_working_days),
        ("quota_order", list(procedure.quota_order)),
    ):
        source = procedure.provenance.get(name)
        out[name] = {
            "value": value,
            "status": source.status if source else None,
            "note": source.note if source else "",
            "basis": _citations(source.basis) if source else [],
        }
    out["guide_ratios"] = dict(procedure.guide_ratios)
    return out
