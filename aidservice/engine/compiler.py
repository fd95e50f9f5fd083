"""The fast per-record path: the rules compiled, for one date, into one Python function.

Like Jinja or `dataclasses`, the engine writes Python source and compiles it; the source is
generated only from the checked expression tree (names are catalogue names, values are literals
the engine produced), so rule text is never evaluated. Parameters in force on the date are
folded in as constants; numbers are exact scaled integers; unknowns follow Kleene logic, as in
the reference evaluator (`interp`), which the tests hold this path equal to.
"""

from __future__ import annotations

import ast
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from fractions import Fraction
from math import gcd

from . import expr as ex
from .coverage import require_covered
from .interp import RANK, award_status, round_fen
from .model import Program, Rules
from .result import LEVELS, Award, Reason, Result


def _kand(*values: bool | None) -> bool | None:
    result: bool | None = True
    for value in values:
        if value is False:
            return False
        if value is None:
            result = None
    return result


def _kor(*values: bool | None) -> bool | None:
    result: bool | None = False
    for value in values:
        if value is True:
            return True
        if value is None:
            result = None
    return result


def _knot(value: bool | None) -> bool | None:
    return None if value is None else not value


def _fen(numerator: int | None, scale: int) -> int | None:
    return None if numerator is None else round_fen(Fraction(numerator, scale))


@dataclass(frozen=True, slots=True)
class _Num:
    """A numeric expression: value = code / scale; `guards` are locals that may be None."""

    code: str
    scale: int
    guards: frozenset[str]
    leaves: frozenset[tuple[str, ...]]
    none: bool = False  # constantly unknown (a parameter with no value on the date)


@dataclass(frozen=True, slots=True)
class _Bool:
    code: str
    nullable: bool
    leaves: frozenset[tuple[str, ...]]


def _lcm(a: int, b: int) -> int:
    return a * b // gcd(a, b)


class _Generator:
    def __init__(self, rules: Rules, as_of: date) -> None:
        self.rules = rules
        self.as_of = as_of
        self.namespace: dict[str, object] = {
            "_kand": _kand,
            "_kor": _kor,
            "_knot": _knot,
            "_fen": _fen,
            "Award": Award,
            "Result": Result,
            "LEVELS": LEVELS,
            "_as_of": as_of,
            "_version": rules.version,
        }
        self.body: list[str] = []
        self.prelude: list[str] = []  # keyed parameters and derived values: facts only, computed once
        self.keyed: dict[tuple[str, str], str] = {}  # (param, key fact) -> local
        self.derived_locals: dict[str, _Num | _Bool] = {}
        self.facts_used: set[str] = set()
        self.counter = 0

    # ------------------------------------------------------------ utilities

    def const(self, value: object, prefix: str = "_c") -> str:
        self.counter += 1
        name = f"{prefix}{self.counter}"
        self.namespace[name] = value
        return name

    def emit(self, line: str, indent: int = 1) -> None:
        self.body.append("    " * indent + line)

    def fact_local(self, name: str) -> str:
        self.facts_used.add(name)
        return f"f_{name}"

    def nullable_fact(self, name: str) -> bool:
        spec = self.rules.facts[name]
        return spec.type != "bool" and not spec.required

    # -------------------------------------------------------------- numbers

    def num(self, node: ex.Node) -> _Num:
        if isinstance(node, ex.Const):
            value = node.value
            assert isinstance(value, Fraction)
            return _Num(str(value.numerator), value.denominator, frozenset(), frozenset())
        if isinstance(node, ex.Ref):
            return self.num_ref(node)
        if isinstance(node, ex.ParamAt):
            local = self.keyed_local(node)
            param = self.rules.parameters[node.name]
            leaves: set[tuple[str, ...]] = {("keyed", node.name, node.key.name)}
            if self.nullable_fact(node.key.name):
                leaves.add(("fact", node.key.name))
            return _Num(local, param.scale, frozenset({local}), frozenset(leaves))
        if isinstance(node, ex.Neg):
            inner = self.num(node.operand)
            return _Num(f"(-{inner.code})", inner.scale, inner.guards, inner.leaves, inner.none)
        if isinstance(node, ex.Arith):
            return self.arith(node)
        raise TypeError(f"not a number: {node}")  # pragma: no cover

    def num_ref(self, node: ex.Ref) -> _Num:
        if node.kind == "fact":
            local = self.fact_local(node.name)
            spec = self.rules.facts[node.name]
            nullable = self.nullable_fact(node.name)
            return _Num(
                local,
                spec.scale,
                frozenset({local} if nullable else ()),
                frozenset({("fact", node.name)} if nullable else ()),
            )
        if node.kind == "param":
            param = self.rules.parameters[node.name]
            dated = param.at(self.as_of)
            if dated is None:
                return _Num("None", 1, frozenset(), frozenset({("param", node.name)}), none=True)
            return _Num(str(dated.value), param.scale, frozenset(), frozenset())
        if node.kind == "derived":
            value = self.derived(node.name)
            assert isinstance(value, _Num)
            return value
        raise TypeError(node)  # pragma: no cover

    def keyed_local(self, node: ex.ParamAt) -> str:
        slot = (node.name, node.key.name)
        if slot not in self.keyed:
            param = self.rules.parameters[node.name]
            table = {}
            for key in param.series:
                dated = param.at(self.as_of, key)
                if dated is not None:
                    table[key] = dated.value
            local = f"k{len(self.keyed)}_{node.name}"
            key_local = self.fact_local(node.key.name)
            self.prelude.append(f"    {local} = {self.const(table, '_t')}.get({key_local})")
            self.keyed[slot] = local
        return self.keyed[slot]

    def arith(self, node: ex.Arith) -> _Num:
        left, right = self.num(node.left), self.num(node.right)
        guards, leaves = left.guards | right.guards, left.leaves | right.leaves
        if left.none or right.none:
            return _Num("None", 1, frozenset(), leaves, none=True)
        if node.op == "*":
            return _Num(f"({left.code} * {right.code})", left.scale * right.scale, guards, leaves)
        scale = _lcm(left.scale, right.scale)
        lcode = _scaled(left.code, scale // left.scale)
        rcode = _scaled(right.code, scale // right.scale)
        return _Num(f"({lcode} {node.op} {rcode})", scale, guards, leaves)

    def derived(self, name: str) -> _Num | _Bool:
        if name not in self.derived_locals:
            derived = self.rules.derived[name]
            local = f"d_{name}"
            if derived.expr.type.kind == "num":
                value = self.num(derived.expr)
                if value.none:
                    self.derived_locals[name] = value
                    return value
                self.prelude.append(f"    {local} = {_guarded(value.code, value.guards)}")
                self.derived_locals[name] = _Num(
                    local, value.scale, frozenset({local}) if value.guards else frozenset(), value.leaves
                )
            else:
                flag = self.boolean(derived.expr)
                self.prelude.append(f"    {local} = {flag.code}")
                self.derived_locals[name] = _Bool(local, flag.nullable, flag.leaves)
        return self.derived_locals[name]

    # ------------------------------------------------------------- booleans

    def boolean(self, node: ex.Node) -> _Bool:
        if isinstance(node, ex.Const):
            return _Bool("True" if node.value else "False", False, frozenset())
        if isinstance(node, ex.Ref):
            if node.kind == "fact":
                local = self.fact_local(node.name)
                nullable = self.nullable_fact(node.name)
                return _Bool(local, nullable, frozenset({("fact", node.name)} if nullable else ()))
            if node.kind == "param":
                dated = self.rules.parameters[node.name].at(self.as_of)
                if dated is None:
                    return _Bool("None", True, frozenset({("param", node.name)}))
                return _Bool(str(bool(dated.value)), False, frozenset())
            value = self.derived(node.name)
            assert isinstance(value, _Bool)
            return value
        if isinstance(node, ex.Not):
            inner = self.boolean(node.operand)
            code = f"_knot({inner.code})" if inner.nullable else f"(not {inner.code})"
            return _Bool(code, inner.nullable, inner.leaves)
        if isinstance(node, ex.BoolOp):
            return self.bool_op(node)
        if isinstance(node, ex.Compare):
            return self.compare(node)
        if isinstance(node, ex.Member):
            return self.member(node)
        raise TypeError(f"not a condition: {node}")  # pragma: no cover

    def bool_op(self, node: ex.BoolOp) -> _Bool:
        parts = [self.boolean(o) for o in node.operands]
        sure = [p.code for p in parts if not p.nullable]
        unsure = [p.code for p in parts if p.nullable]
        leaves = frozenset().union(*(p.leaves for p in parts))
        joiner = f" {node.op} "
        if len(unsure) > 1:
            unsure = [f"{'_kand' if node.op == 'and' else '_kor'}({', '.join(unsure)})"]
        return _Bool(f"({joiner.join(sure + unsure)})", bool(unsure), leaves)

    def compare(self, node: ex.Compare) -> _Bool:
        kind = node.left.type.kind
        if kind == "num":
            left, right = self.num(node.left), self.num(node.right)
            leaves = left.leaves | right.leaves
            if left.none or right.none:
                return _Bool("None", True, leaves)
            code = f"{_scaled(left.code, right.scale)} {node.op} {_scaled(right.code, left.scale)}"
            guards = left.guards | right.guards
            return _Bool(_guarded(code, guards), bool(guards), leaves)
        if kind == "level":
            return _Bool(
                f"({self.level_code(node.left)} {node.op} {self.level_code(node.right)})", False, frozenset()
            )
        left_b, right_b = self.scalar(node.left), self.scalar(node.right)
        code = f"{left_b.code} {node.op} {right_b.code}"
        guards = frozenset(c.code for c in (left_b, right_b) if c.nullable)
        return _Bool(_guarded(code, guards), bool(guards), left_b.leaves | right_b.leaves)

    def level_code(self, node: ex.Node) -> str:
        if isinstance(node, ex.Const):
            return str(RANK[str(node.value)])
        return "lv"

    def scalar(self, node: ex.Node) -> _Bool:
        """An enum or boolean operand of == / != (code is a plain local or literal)."""
        if isinstance(node, ex.Const):
            return _Bool(repr(node.value), False, frozenset())
        if isinstance(node, ex.Ref) and node.kind == "fact":
            local = self.fact_local(node.name)
            nullable = self.nullable_fact(node.name)
            return _Bool(local, nullable, frozenset({("fact", node.name)} if nullable else ()))
        flag = self.boolean(node)
        if flag.nullable:
            local = self.const_local(flag.code)
            return _Bool(local, True, flag.leaves)
        return _Bool(f"({flag.code})", False, flag.leaves)

    def const_local(self, code: str) -> str:
        self.counter += 1
        local = f"t{self.counter}"
        self.emit(f"{local} = {code}")
        return local

    def member(self, node: ex.Member) -> _Bool:
        if node.operand.type.kind == "num":
            value = self.num(node.operand)
            if value.none:
                return _Bool("None", True, value.leaves)
            scaled = frozenset(
                int(Fraction(v) * value.scale)
                for v in node.values
                if (Fraction(v) * value.scale).denominator == 1
            )
            code = f"{value.code} {'not in' if node.negate else 'in'} {self.const(scaled, '_s')}"
            return _Bool(_guarded(code, value.guards), bool(value.guards), value.leaves)
        if node.operand.type.kind == "level":
            ranks = frozenset(RANK[str(v)] for v in node.values)
            return _Bool(
                f"(lv {'not in' if node.negate else 'in'} {self.const(ranks, '_s')})", False, frozenset()
            )
        operand = self.scalar(node.operand)
        code = (
            f"{operand.code} {'not in' if node.negate else 'in'} {self.const(frozenset(node.values), '_s')}"
        )
        guards = frozenset({operand.code}) if operand.nullable else frozenset()
        return _Bool(_guarded(code, guards), operand.nullable, operand.leaves)

    # ------------------------------------------------------------- missing

    def missing_code(self, leaves: frozenset[tuple[str, ...]], indent: int) -> None:
        """Name what was unknown, exactly as the reference evaluator does."""
        for leaf in sorted(leaves):
            if leaf[0] == "fact":
                self.emit(f"if f_{leaf[1]} is None: missing.add({leaf[1]!r})", indent)
            elif leaf[0] == "param":
                self.emit(f"missing.add({leaf[1]!r})", indent)
            else:
                _kind, pname, key = leaf
                local = self.keyed[(pname, key)]
                self.emit(f"if f_{key} is not None and {local} is None: missing.add({pname!r})", indent)

    # ------------------------------------------------------------- program

    def generate(self) -> str:
        rules = self.rules
        self.emit("missing = set()")
        self.emit("reasons = []")
        self.emit("awards = []")
        self.emit("lv = 0")
        for clause in rules.clauses:
            reason = Reason(
                clause.id, clause.level, clause.label, clause.status, "; ".join(str(c) for c in clause.basis)
            )
            flag = self.boolean(clause.when)
            self.emit(f"c = {flag.code}")
            self.emit("if c:")
            self.emit(f"reasons.append({self.const(reason, '_r')})", 2)
            self.emit(f"if lv < {RANK[clause.level]}: lv = {RANK[clause.level]}", 2)
            if flag.nullable:
                self.emit("elif c is None:")
                self.missing_code(flag.leaves, 2)
        self.emit("if lvo is not None: lv = lvo")
        award_locals = {}
        for program in rules.programs:
            if program.effective is not None and not program.effective.holds(self.as_of):
                continue
            award_locals[program.id] = self.program(program)
        for combo in rules.combinations:
            present = [award_locals[p] for p in combo.exclusive if p in award_locals]
            for i, winner in enumerate(present[:-1]):
                for loser in present[i + 1 :]:
                    self.emit(f"if {winner} is not None and {loser} is not None:")
                    self.emit(f"awards.remove({loser}); {loser} = None", 2)
        self.emit(
            "return Result(_version, _as_of, LEVELS[lv], reasons, awards, sorted(missing) if missing else [])"
        )
        prologue = [
            f"    f_{name} = f.get({name!r}, {self.rules.facts[name].default!r})"
            for name in sorted(self.facts_used)
        ]
        return "def evaluate(f, lvo=None):\n" + "\n".join(prologue + self.prelude + self.body) + "\n"

    def program(self, program: Program) -> str:
        local = f"a_{program.id}"
        self.emit(f"{local} = None")
        flag = self.boolean(program.when)
        self.emit(f"w = {flag.code}")
        self.emit("if w:")
        body_start = len(self.body)
        self.cases(program, local)
        if len(self.body) == body_start:
            self.emit("pass", 2)
        if flag.nullable:
            self.emit("elif w is None:")
            self.missing_code(flag.leaves, 2)
        return local

    def cases(self, program: Program, local: str) -> None:
        indent = 2
        for case in program.amount:
            if case.effective is not None and not case.effective.holds(self.as_of):
                continue
            status = award_status(self.rules, program, case, self.as_of)
            basis = "; ".join(str(c) for c in (*program.basis, *case.basis))
            value = self.num(case.value)
            guard: _Bool | None = None if case.when is None else self.boolean(case.when)
            if guard is not None:
                self.emit(f"cw = {guard.code}", indent)
                self.emit("if cw:", indent)
            inner = indent + (1 if guard is not None else 0)
            self.award(program, local, value, status, basis, inner)
            if guard is None:
                return
            if guard.nullable:
                self.emit("elif cw is None:", indent)
                self.missing_code(guard.leaves, indent + 1)
                self.emit(
                    f"{local} = Award({program.id!r}, {program.name!r}, {program.kind!r}, None, "
                    f"{basis!r}, {status!r}, {self._leaf_names(guard.leaves)})",
                    indent + 1,
                )
                self.emit(f"awards.append({local})", indent + 1)
            self.emit("else:", indent)
            indent += 1
        self.emit("pass", indent)

    def _leaf_names(self, leaves: frozenset[tuple[str, ...]]) -> str:
        """Code for the sorted tuple of unknown leaves (the award's own `missing`)."""
        parts = []
        for leaf in sorted(leaves, key=lambda lf: lf[1]):
            if leaf[0] == "fact":
                parts.append(f"(({leaf[1]!r},) if f_{leaf[1]} is None else ())")
            elif leaf[0] == "param":
                parts.append(f"({leaf[1]!r},)")
            else:
                _kind, pname, key = leaf
                parts.append(
                    f"(({pname!r},) if f_{key} is not None and {self.keyed[(pname, key)]} is None else ())"
                )
        return f"tuple(sorted({' + '.join(parts) or '()'}))"

    def award(self, program: Program, local: str, value: _Num, status: str, basis: str, indent: int) -> None:
        def make(fen_code: str) -> str:
            return f"Award({program.id!r}, {program.name!r}, {program.kind!r}, {fen_code}, {basis!r}, {status!r})"

        if value.none or not value.guards:
            fen = None if value.none else _static_fen(value)
            if fen is not None or value.none:
                constant = Award(
                    program.id,
                    program.name,
                    program.kind,
                    fen,
                    basis,
                    status,
                    tuple(sorted(lf[1] for lf in value.leaves)) if value.none else (),
                )
                if value.none:
                    self.missing_code(value.leaves, indent)
                self.emit(f"{local} = {self.const(constant, '_a')}", indent)
                self.emit(f"awards.append({local})", indent)
                return
        fen_code = _fen_code(value)
        self.emit(f"v = {_guarded(fen_code, value.guards)}", indent)
        self.emit("if v is None:", indent)
        self.missing_code(value.leaves, indent + 1)
        self.emit(
            f"{local} = Award({program.id!r}, {program.name!r}, {program.kind!r}, None, {basis!r}, {status!r}, "
            f"{self._leaf_names(value.leaves)})",
            indent + 1,
        )
        self.emit("else:", indent)
        self.emit(f"{local} = {make('v')}", indent + 1)
        self.emit(f"awards.append({local})", indent)


def _scaled(code: str, factor: int) -> str:
    return code if factor == 1 else f"({code} * {factor})"


def _guarded(code: str, guards: frozenset[str]) -> str:
    if not guards:
        return f"({code})"
    test = " or ".join(f"{g} is None" for g in sorted(guards))
    return f"(None if {test} else {code})"


def _static_fen(value: _Num) -> int | None:
    """A constant amount (no locals involved) folded to fen at compile time."""
    if value.guards or not _is_literal(value.code):
        return None
    return round_fen(Fraction(int(_literal(value.code)), value.scale))


def _is_literal(code: str) -> bool:
    try:
        _literal(code)
    except (ValueError, SyntaxError):
        return False
    return True


def _literal(code: str) -> int:
    """Evaluate an integer-only arithmetic literal the generator itself wrote (digits, * + - and parens)."""
    tree = ast.parse(code, mode="eval")

    def walk(node: ast.AST) -> int:
        if isinstance(node, ast.Constant) and isinstance(node.value, int):
            return node.value
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            return -walk(node.operand)
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mult | ast.Add | ast.Sub):
            left, right = walk(node.left), walk(node.right)
            return (
                left * right
                if isinstance(node.op, ast.Mult)
                else left + right
                if isinstance(node.op, ast.Add)
                else left - right
            )
        raise ValueError(code)

    return walk(tree.body)


def _fen_code(value: _Num) -> str:
    if 100 % value.scale == 0:
        return _scaled(value.code, 100 // value.scale)
    return f"_fen({value.code}, {value.scale})"


def compile_record(rules: Rules, as_of: date) -> Callable[..., Result]:
    """Generate, compile and return `evaluate(facts, level_rank=None) -> Result` for one date.

    A given level rank replaces the identified level (a review's adjustment); reasons still list
    the clauses that fired. A date outside the rules' coverage is refused (OutsideCoverage).
    """
    require_covered(rules, as_of)
    generator = _Generator(rules, as_of)
    source = generator.generate()
    namespace = dict(generator.namespace)
    code = compile(source, f"<aidservice rules {rules.version} as of {as_of.isoformat()}>", "exec")
    exec(code, namespace)
    evaluate = namespace["evaluate"]
    evaluate.source = source  # type: ignore[attr-defined]
    return evaluate  # type: ignore[return-value]
