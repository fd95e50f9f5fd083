"""The reference evaluator: walks the rules with exact fractions and records a full trace.

It defines the semantics; the compiled per-record path and the columnar path are tested
against it. Unknown values follow Kleene logic: `None` is unknown.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from fractions import Fraction
from math import floor
from typing import cast

from . import expr as ex
from .coverage import require_covered
from .model import AmountCase, Clause, Dated, Parameter, Program, Rules
from .result import LEVELS, Award, Citation, Reason, Result, TraceEntry

RANK = {name: i for i, name in enumerate(LEVELS)}


def round_fen(yuan: Fraction) -> int:
    """Yuan to integer fen, half away from zero (the usual rounding of money)."""
    fen = yuan * 100
    return floor(abs(fen) + Fraction(1, 2)) * (1 if fen >= 0 else -1)


def render(value: object, decimals: int | None = None) -> object:
    """JSON-ready rendering of a value for explanations: numbers as exact strings, money with two places."""
    if isinstance(value, Fraction):
        exact = Decimal(value.numerator) / Decimal(value.denominator)
        if decimals is not None:
            return str(exact.quantize(Decimal(1).scaleb(-decimals)))
        return str(exact.normalize()) if value.denominator != 1 else str(value.numerator)
    return value


class _Scope:
    """One evaluation: facts, date, level, and what each item read."""

    def __init__(self, rules: Rules, facts: dict[str, object], as_of: date) -> None:
        self.rules = rules
        self.facts = facts
        self.as_of = as_of
        self.level: str | None = None
        self.read: dict[str, object] = {}
        self.params: list[dict[str, object]] = []
        self.unknown: set[str] = set()

    def start_item(self) -> None:
        self.read, self.params, self.unknown = {}, [], set()

    def fact(self, name: str) -> object:
        spec = self.rules.facts[name]
        raw = self.facts.get(name, spec.default)
        if raw is None:
            self.unknown.add(name)
            value: object = None
        elif spec.numeric:
            value = Fraction(cast(int, raw), spec.scale)  # normalised numbers are scaled ints
        else:
            value = raw
        self.read[name] = render(value, spec.decimals if spec.numeric and spec.type != "int" else None)
        return value

    def param(self, name: str, key: str | None) -> object:
        param: Parameter = self.rules.parameters[name]
        dated: Dated | None = param.at(self.as_of, key)
        value: object = None
        if dated is not None:
            value = dated.value if param.type == "bool" else Fraction(cast(int, dated.value), param.scale)
        else:
            self.unknown.add(name)
        self.params.append(
            {
                "name": name,
                "key": key,
                "value": render(value, param.decimals if param.type == "money" else None),
                "from": dated.start.isoformat() if dated and dated.start else None,
                "to": dated.end.isoformat() if dated and dated.end else None,
                "status": dated.status if dated else param.status,
                "note": dated.note if dated else param.note,
                "basis": "; ".join(str(c) for c in (dated.basis if dated and dated.basis else param.basis)),
            }
        )
        return value

    def derived(self, name: str) -> object:
        """Evaluated afresh for each item, so each item's trace lists the facts and parameters behind it."""
        derived = self.rules.derived[name]
        value = self.eval(derived.expr)
        self.read[name] = render(value, 2 if derived.type == "money" else None)
        return value

    def eval(self, node: ex.Node) -> object:
        if isinstance(node, ex.Const):
            return node.value
        if isinstance(node, ex.Ref):
            if node.kind == "fact":
                return self.fact(node.name)
            if node.kind == "param":
                return self.param(node.name, None)
            if node.kind == "derived":
                return self.derived(node.name)
            self.read["level"] = self.level
            return self.level
        if isinstance(node, ex.ParamAt):
            key = self.eval(node.key)
            if key is None:
                return None
            return self.param(node.name, str(key))
        if isinstance(node, ex.Not):
            value = self.eval(node.operand)
            return None if value is None else not value
        if isinstance(node, ex.BoolOp):
            values = [self.eval(o) for o in node.operands]
            decisive = node.op == "or"  # True decides `or`, False decides `and`
            if any(v is decisive for v in values):
                return decisive
            return None if any(v is None for v in values) else not decisive
        if isinstance(node, ex.Compare):
            return _compare(node, self.eval(node.left), self.eval(node.right))
        if isinstance(node, ex.Member):
            value = self.eval(node.operand)
            if value is None:
                return None
            return (value in node.values) != node.negate
        if isinstance(node, ex.Arith):
            left, right = self.eval(node.left), self.eval(node.right)
            if left is None or right is None:
                return None
            if node.op == "+":
                return left + right  # type: ignore[operator]
            if node.op == "-":
                return left - right  # type: ignore[operator]
            return left * right  # type: ignore[operator]
        if isinstance(node, ex.Neg):
            value = self.eval(node.operand)
            return None if value is None else -value  # type: ignore[operator]
        raise TypeError(node)  # pragma: no cover


def _compare(node: ex.Compare, left: object, right: object) -> bool | None:
    if left is None or right is None:
        return None
    if node.left.type.kind == "level":
        left, right = RANK[str(left)], RANK[str(right)]
    op = node.op
    if op == "==":
        return left == right
    if op == "!=":
        return left != right
    # ordered operands are numbers (exact fractions) or level ranks: the checker allows nothing else
    a, b = cast(Fraction | int, left), cast(Fraction | int, right)
    if op == "<":
        return a < b
    if op == "<=":
        return a <= b
    if op == ">":
        return a > b
    return a >= b


def _basis(*groups: tuple[Citation, ...]) -> str:
    return "; ".join(str(c) for group in groups for c in group)


def evaluate(
    rules: Rules, facts: dict[str, object], as_of: date, trace: bool = True, level_override: str | None = None
) -> Result:
    """Evaluate one student's normalised facts on `as_of`, explaining every step.

    A given `level` replaces the identified one (a review's adjustment); reasons still list the
    clauses that fired. A date outside the rules' coverage is refused (OutsideCoverage).
    """
    require_covered(rules, as_of)
    scope = _Scope(rules, facts, as_of)
    entries: list[TraceEntry] = []
    missing: set[str] = set()
    reasons: list[Reason] = []
    level = "none"
    for clause in rules.clauses:
        fired = _clause(scope, clause, entries, missing)
        if fired:
            reasons.append(Reason(clause.id, clause.level, clause.label, clause.status, _basis(clause.basis)))
            if RANK[clause.level] > RANK[level]:
                level = clause.level
    if level_override is not None:
        level = level_override
    scope.level = level
    awarded: dict[str, Award] = {}
    for program in rules.programs:
        award = _program(scope, program, entries, missing)
        if award is not None:
            awarded[program.id] = award
    for combo in rules.combinations:
        present = [pid for pid in combo.exclusive if pid in awarded]
        for loser in present[1:]:
            del awarded[loser]
        entries.append(
            TraceEntry(
                item=f"combination:{combo.id}",
                label=" / ".join(combo.exclusive),
                result={"kept": present[:1], "dropped": present[1:]},
                facts={},
                parameters=[],
                status=combo.status,
                basis=_basis(combo.basis),
                note=combo.note,
            )
        )
    return Result(
        rule_set_version=rules.version,
        as_of=as_of,
        level=level,
        reasons=reasons,
        awards=list(awarded.values()),
        missing=sorted(missing),
        trace=entries if trace else None,
    )


def _clause(scope: _Scope, clause: Clause, entries: list[TraceEntry], missing: set[str]) -> bool:
    scope.start_item()
    value = scope.eval(clause.when)
    unknown = tuple(sorted(scope.unknown)) if value is None else ()
    missing.update(unknown)
    entries.append(
        TraceEntry(
            item=f"clause:{clause.id}",
            label=f"{clause.label}（{ex.to_text(clause.when)}）",
            result=value,
            facts=scope.read,
            parameters=scope.params,
            missing=unknown,
            status=clause.status,
            basis=_basis(clause.basis),
            note=clause.note,
        )
    )
    return value is True


def param_names(rules: Rules, nodes: list[ex.Node | None]) -> set[str]:
    """Parameters an item reads, directly or through derived values."""
    names: set[str] = set()
    pending = [n for n in nodes if n is not None]
    while pending:
        node = pending.pop()
        for kind, name in ex.references(node):
            if kind == "param":
                names.add(name)
            elif kind == "derived":
                pending.append(rules.derived[name].expr)
    return names


def param_provisional(param: Parameter, as_of: date) -> bool:
    """Provisional on a date when a value in force then is (a value's own status overrides the parameter's);
    with no value in force, the parameter's status counts."""
    in_force = [d for series in param.series.values() for d in series if d.holds(as_of)]
    if not in_force:
        return param.status == "provisional"
    return any(d.status == "provisional" for d in in_force)


def award_status(rules: Rules, program: Program, case: AmountCase, as_of: date) -> str:
    """Provisional when the program, the amount case, or any parameter they read is: a property of the rule."""
    if program.status == "provisional" or case.status == "provisional":
        return "provisional"
    names = param_names(rules, [program.when, case.when, case.value])
    return "provisional" if any(param_provisional(rules.parameters[n], as_of) for n in names) else "confirmed"


def _program(scope: _Scope, program: Program, entries: list[TraceEntry], missing: set[str]) -> Award | None:
    scope.start_item()
    item = f"program:{program.id}"
    if program.effective is not None and not program.effective.holds(scope.as_of):
        entries.append(
            TraceEntry(
                item=item,
                label=f"{program.name}: not in effect on {scope.as_of.isoformat()}",
                result=False,
                facts={},
                parameters=[],
                status=program.status,
                basis=_basis(program.basis),
                note=program.note,
            )
        )
        return None
    value = scope.eval(program.when)
    unknown = tuple(sorted(scope.unknown)) if value is None else ()
    missing.update(unknown)
    entries.append(
        TraceEntry(
            item=item,
            label=f"{program.name}（{ex.to_text(program.when)}）",
            result=value,
            facts=scope.read,
            parameters=scope.params,
            missing=unknown,
            status=program.status,
            basis=_basis(program.basis),
            note=program.note,
        )
    )
    if value is not True:
        return None
    return _amount(scope, program, entries, missing)


def _amount(scope: _Scope, program: Program, entries: list[TraceEntry], missing: set[str]) -> Award | None:
    for index, case in enumerate(program.amount):
        if case.effective is not None and not case.effective.holds(scope.as_of):
            continue
        scope.start_item()
        chosen = True if case.when is None else scope.eval(case.when)
        if chosen is False:
            continue
        fen: int | None = None
        if chosen is True:
            value = scope.eval(case.value)
            fen = None if value is None else round_fen(value)  # type: ignore[arg-type]
        unknown = tuple(sorted(scope.unknown)) if fen is None else ()
        missing.update(unknown)
        status = award_status(scope.rules, program, case, scope.as_of)
        entries.append(_amount_entry(program, index, case, fen, scope, unknown, status))
        return Award(
            program=program.id,
            name=program.name,
            kind=program.kind,
            amount_fen=fen,
            basis=_basis(program.basis, case.basis),
            status=status,
            missing=unknown,
        )
    return None


def _amount_entry(
    program: Program,
    index: int,
    case: AmountCase,
    fen: int | None,
    scope: _Scope,
    unknown: tuple[str, ...],
    status: str,
) -> TraceEntry:
    condition = "" if case.when is None else f"{ex.to_text(case.when)} → "
    return TraceEntry(
        item=f"amount:{program.id}#{index}",
        label=f"{program.name}金额：{case.label or ''}{condition}{ex.to_text(case.value)}",
        result=fen,
        facts=scope.read,
        parameters=scope.params,
        missing=unknown,
        status=status,
        basis=_basis(case.basis or program.basis),
        note=case.note,
    )
