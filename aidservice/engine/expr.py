"""The condition and amount language: parsed with `ast`, checked node by node, never evaluated."""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from typing import overload

from .result import LEVELS
from .suggest import did_you_mean


class ExprError(ValueError):
    """An expression that is not valid in the rules language; `name` is set for an unknown name."""

    def __init__(self, message: str, name: str | None = None) -> None:
        super().__init__(message)
        self.name = name


@dataclass(frozen=True, slots=True)
class Type:
    """Expression types: bool, num, enum (with its values) and the ordered level."""

    kind: str  # "bool" | "num" | "enum" | "level"
    values: tuple[str, ...] = ()

    def __str__(self) -> str:
        return self.kind


BOOL = Type("bool")
NUM = Type("num")
LEVEL = Type("level", LEVELS)


class Node:
    """Base of expression nodes; every node knows its type."""

    __slots__ = ()
    type: Type

    def children(self) -> tuple[Node, ...]:
        return ()

    def walk(self) -> Iterator[Node]:
        yield self
        for child in self.children():
            yield from child.walk()


@dataclass(frozen=True, slots=True)
class Const(Node):
    value: Fraction | str | bool
    type: Type


@dataclass(frozen=True, slots=True)
class Ref(Node):
    """A fact, derived value, unkeyed parameter, or `level`."""

    name: str
    kind: str  # "fact" | "derived" | "param" | "level"
    type: Type


@dataclass(frozen=True, slots=True)
class ParamAt(Node):
    """A keyed parameter looked up by the value of an enum fact: `line_monthly[city_code]`."""

    name: str
    key: Ref
    type: Type

    def children(self) -> tuple[Node, ...]:
        return (self.key,)


@dataclass(frozen=True, slots=True)
class Not(Node):
    operand: Node
    type: Type = BOOL

    def children(self) -> tuple[Node, ...]:
        return (self.operand,)


@dataclass(frozen=True, slots=True)
class BoolOp(Node):
    op: str  # "and" | "or"
    operands: tuple[Node, ...]
    type: Type = BOOL

    def children(self) -> tuple[Node, ...]:
        return self.operands


@dataclass(frozen=True, slots=True)
class Compare(Node):
    op: str  # "<" "<=" "==" "!=" ">" ">="
    left: Node
    right: Node
    type: Type = BOOL

    def children(self) -> tuple[Node, ...]:
        return (self.left, self.right)


@dataclass(frozen=True, slots=True)
class Member(Node):
    """`x in (a, b)`; the values are literals of x's type."""

    operand: Node
    values: tuple[Fraction | str, ...]
    negate: bool = False
    type: Type = BOOL

    def children(self) -> tuple[Node, ...]:
        return (self.operand,)


@dataclass(frozen=True, slots=True)
class Arith(Node):
    op: str  # "+" | "-" | "*"
    left: Node
    right: Node
    type: Type = NUM

    def children(self) -> tuple[Node, ...]:
        return (self.left, self.right)


@dataclass(frozen=True, slots=True)
class Neg(Node):
    operand: Node
    type: Type = NUM

    def children(self) -> tuple[Node, ...]:
        return (self.operand,)


@dataclass(frozen=True, slots=True)
class Symbol:
    """What a name means to the checker."""

    kind: str  # "fact" | "derived" | "param" | "level"
    type: Type
    key: str | None = None  # keyed parameters: the enum fact they are keyed by


_CMP = {ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=", ast.Eq: "==", ast.NotEq: "!="}
_ARITH = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*"}
_LITERAL_NAMES = {"true": True, "false": False, "True": True, "False": False}


def parse(source: str, symbols: Mapping[str, Symbol], expect: Type | None = None) -> Node:
    """Parse and type-check `source`; raise ExprError naming what is wrong."""
    text = str(source).strip()
    if not text:
        raise ExprError("empty expression")
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError as exc:
        raise ExprError(f"syntax error in {text!r}: {exc.msg}") from None
    node = _Checker(text, symbols).visit(tree.body)
    if expect is not None and node.type.kind != expect.kind:
        raise ExprError(f"{text!r} is {node.type}, expected {expect}")
    return node


class _Checker:
    def __init__(self, text: str, symbols: Mapping[str, Symbol]) -> None:
        self.text = text
        self.symbols = symbols

    def fail(self, node: ast.AST, message: str) -> ExprError:
        return ExprError(f"{message} in {self.text!r}")

    def visit(self, node: ast.AST) -> Node:
        handler: Callable[[ast.AST], Node] | None = getattr(self, "visit_" + type(node).__name__, None)
        if handler is None:
            segment = ast.get_source_segment(self.text, node) or type(node).__name__
            raise self.fail(node, f"'{segment}' is not allowed")
        return handler(node)

    def visit_Name(self, node: ast.Name) -> Node:
        if node.id in _LITERAL_NAMES:
            return Const(_LITERAL_NAMES[node.id], BOOL)
        symbol = self.symbols.get(node.id)
        if symbol is None:
            hint = did_you_mean(node.id, self.symbols)
            raise ExprError(f"unknown name '{node.id}' in {self.text!r}{hint}", node.id)
        if symbol.key is not None:
            raise self.fail(
                node, f"parameter '{node.id}' is keyed by {symbol.key}: write {node.id}[{symbol.key}]"
            )
        return Ref(node.id, symbol.kind, symbol.type)

    def visit_Constant(self, node: ast.Constant) -> Node:
        value = node.value
        if isinstance(value, bool):
            return Const(value, BOOL)
        if isinstance(value, int | float):
            segment = ast.get_source_segment(self.text, node) or repr(value)
            return Const(Fraction(segment.replace("_", "")), NUM)  # exact: from the text, not the float
        if isinstance(value, str):
            return Const(value, Type("str"))
        raise self.fail(node, f"literal {value!r} is not allowed")

    def visit_Subscript(self, node: ast.Subscript) -> Node:
        if not isinstance(node.value, ast.Name):
            raise self.fail(node, "only a keyed parameter can be subscripted")
        symbol = self.symbols.get(node.value.id)
        if symbol is None:
            hint = did_you_mean(node.value.id, self.symbols)
            raise ExprError(f"unknown name '{node.value.id}' in {self.text!r}{hint}", node.value.id)
        if symbol.kind != "param" or symbol.key is None:
            raise self.fail(node, f"'{node.value.id}' is not a keyed parameter")
        key = self.visit(node.slice)
        if not isinstance(key, Ref) or key.name != symbol.key:
            raise self.fail(node, f"parameter '{node.value.id}' is keyed by {symbol.key}")
        return ParamAt(node.value.id, key, symbol.type)

    def visit_BoolOp(self, node: ast.BoolOp) -> Node:
        operands = tuple(self.visit(v) for v in node.values)
        for operand in operands:
            if operand.type != BOOL:
                raise self.fail(node, f"'{_segment(self.text, node)}' combines a non-boolean with and/or")
        return BoolOp("and" if isinstance(node.op, ast.And) else "or", operands)

    def visit_UnaryOp(self, node: ast.UnaryOp) -> Node:
        operand = self.visit(node.operand)
        if isinstance(node.op, ast.Not):
            if operand.type != BOOL:
                raise self.fail(node, "'not' needs a boolean")
            return Not(operand)
        if isinstance(node.op, ast.USub):
            if operand.type != NUM:
                raise self.fail(node, "'-' needs a number")
            if isinstance(operand, Const) and isinstance(operand.value, Fraction):  # a numeric literal
                return Const(-operand.value, NUM)
            return Neg(operand)
        raise self.fail(node, "unary operator not allowed")

    def visit_BinOp(self, node: ast.BinOp) -> Node:
        op = _ARITH.get(type(node.op))
        if op is None:
            raise self.fail(node, f"operator in '{_segment(self.text, node)}' is not allowed (only + - *)")
        left, right = self.visit(node.left), self.visit(node.right)
        if left.type != NUM or right.type != NUM:
            raise self.fail(node, f"arithmetic on a non-number in '{_segment(self.text, node)}'")
        return Arith(op, left, right)

    def visit_Compare(self, node: ast.Compare) -> Node:
        parts: list[Node] = []
        left = self.visit(node.left)
        for op_node, comparator in zip(node.ops, node.comparators, strict=True):
            if isinstance(op_node, ast.In | ast.NotIn):
                parts.append(self._member(node, left, comparator, isinstance(op_node, ast.NotIn)))
                left = self.visit(comparator) if not isinstance(comparator, ast.Tuple | ast.List) else left
                continue
            op = _CMP.get(type(op_node))
            if op is None:
                raise self.fail(node, "comparison operator not allowed")
            right = self.visit(comparator)
            parts.append(self._compare(node, op, left, right))
            left = right
        return parts[0] if len(parts) == 1 else BoolOp("and", tuple(parts))

    def _compare(self, node: ast.AST, op: str, left: Node, right: Node) -> Node:
        left, right = self._coerce_literal(node, left, right), self._coerce_literal(node, right, left)
        lt, rt = left.type, right.type
        if lt.kind == "num" and rt.kind == "num":
            return Compare(op, left, right)
        if op in ("==", "!=") and lt == rt and lt.kind in ("bool", "enum", "level"):
            return Compare(op, left, right)
        if lt.kind == "level" and rt.kind == "level":
            return Compare(op, left, right)
        if lt.kind == "enum" and rt.kind == "enum":
            raise self.fail(node, f"'{op}' is not defined between these values (only == and != on enums)")
        raise self.fail(node, f"cannot compare {lt} with {rt} in '{_segment(self.text, node)}'")

    @overload
    def _coerce_literal(self, node: ast.AST, value: Const, other: Node) -> Const: ...

    @overload
    def _coerce_literal(self, node: ast.AST, value: Node, other: Node) -> Node: ...

    def _coerce_literal(self, node: ast.AST, value: Node, other: Node) -> Node:
        """A string literal compared with an enum or level takes its type, if it is one of its values."""
        if isinstance(value, Const) and value.type.kind == "str":
            if other.type.kind in ("enum", "level"):
                if value.value not in other.type.values:
                    allowed = ", ".join(other.type.values)
                    raise self.fail(node, f"'{value.value}' is not a value of {_describe(other)} ({allowed})")
                return Const(value.value, other.type)
            raise self.fail(node, f"string '{value.value}' compared with {other.type}")
        return value

    def _member(self, node: ast.AST, operand: Node, container: ast.AST, negate: bool) -> Node:
        if not isinstance(container, ast.Tuple | ast.List) or not container.elts:
            raise self.fail(node, "'in' needs a literal list like ('a', 'b')")
        values: list[Fraction | str] = []
        for elt in container.elts:
            item = self.visit(elt)
            if not isinstance(item, Const):
                raise self.fail(node, "'in' needs literals")
            item = self._coerce_literal(node, item, operand)
            if item.type.kind != operand.type.kind or isinstance(item.value, bool):
                raise self.fail(node, f"{item.value!r} is not a {operand.type} value")
            values.append(item.value)
        return Member(operand, tuple(values), negate)


def _segment(text: str, node: ast.AST) -> str:
    return ast.get_source_segment(text, node) or text


def _describe(node: Node) -> str:
    return node.name if isinstance(node, Ref | ParamAt) else str(node.type)


def references(node: Node) -> set[tuple[str, str]]:
    """(kind, name) of every fact, derived value, parameter and level an expression reads."""
    found: set[tuple[str, str]] = set()
    for item in node.walk():
        if isinstance(item, Ref):
            found.add((item.kind, item.name))
        elif isinstance(item, ParamAt):
            found.add(("param", item.name))
    return found


def to_text(node: Node) -> str:
    """Render an expression back to the rules language, for explanations."""
    if isinstance(node, Const):
        if isinstance(node.value, bool):
            return "true" if node.value else "false"
        if isinstance(node.value, Fraction):
            return _fraction_text(node.value)
        return repr(node.value)
    if isinstance(node, Ref):
        return node.name
    if isinstance(node, ParamAt):
        return f"{node.name}[{node.key.name}]"
    if isinstance(node, Not):
        return f"not {_paren(node.operand)}"
    if isinstance(node, BoolOp):
        return f" {node.op} ".join(_paren(o) for o in node.operands)
    if isinstance(node, Compare):
        return f"{to_text(node.left)} {node.op} {to_text(node.right)}"
    if isinstance(node, Member):
        items = ", ".join(repr(v) if isinstance(v, str) else _fraction_text(v) for v in node.values)
        return f"{to_text(node.operand)} {'not in' if node.negate else 'in'} ({items})"
    if isinstance(node, Arith):
        return f"{_paren(node.left)} {node.op} {_paren(node.right)}"
    if isinstance(node, Neg):
        return f"-{_paren(node.operand)}"
    raise TypeError(node)  # pragma: no cover


def _paren(node: Node) -> str:
    text = to_text(node)
    return f"({text})" if isinstance(node, BoolOp | Arith | Compare) else text


def _fraction_text(value: Fraction) -> str:
    if value.denominator == 1:
        return str(value.numerator)
    return str(Decimal(value.numerator) / Decimal(value.denominator))
