"""Conditions as Chinese sentences: a rule's expression read aloud in the words of the rules.

`sentence(node, rules)` walks an expression (engine/expr.py) and names every fact, derived value, parameter,
enum value and level by the label the rules give it (facts.yaml, levels.yaml, parameters/*.yaml), so
`stage in ('primary', 'junior') and registered_poor` reads "学段为小学或初中，且为建档立卡低收入农户".
No vocabulary lives here: only the connecting words. A name the rules leave unlabelled falls back to the
name itself (the loader requires labels, so the shipped rules never do).
"""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

from .expr import Arith, BoolOp, Compare, Const, Member, Neg, Node, Not, ParamAt, Ref
from .model import Combination, Rules

LEVEL_WORD = "认定等级"
"""How the `level` of a student is named in a sentence."""

_NUM_WORDS = {"<": "低于", "<=": "不高于", ">": "高于", ">=": "不低于", "==": "等于", "!=": "不等于"}
_LEVEL_WORDS = {
    "<": "低于{}",
    "<=": "为{}及以下",
    ">": "高于{}",
    ">=": "为{}及以上",
    "==": "为{}",
    "!=": "不为{}",
}
_ARITH_WORDS = {"+": "加", "-": "减", "*": "×"}


def sentence(node: Node, rules: Rules) -> str:
    """The condition `node` as one Chinese sentence, naming everything by the rules' labels."""
    return _Reader(rules).read(node)


def combination_sentence(combination: Combination, rules: Rules) -> str:
    """A combination rule as a sentence: "A与B不能同时获得；同时符合时享受A" (the earlier program wins)."""
    names = {p.id: p.name for p in rules.programs}
    programs = [f"{names.get(p, p)}" for p in combination.exclusive]
    return f"{'与'.join(programs)}不能同时获得；同时符合时按先后顺序享受{programs[0]}"


class _Reader:
    def __init__(self, rules: Rules) -> None:
        self.rules = rules

    def read(self, node: Node) -> str:
        if isinstance(node, BoolOp):
            joiner = "，且" if node.op == "and" else "，或"
            parts = [self._operand(o, node.op) for o in node.operands]
            return joiner.join(parts)
        if isinstance(node, Not):
            return self._negate(node.operand)
        if isinstance(node, Ref) and node.type.kind == "bool":
            return f"为{self.name(node)}"
        if isinstance(node, Compare):
            return self._compare(node)
        if isinstance(node, Member):
            values = [self._value(node.operand, v) for v in node.values]
            verb = "不为" if node.negate else "为"
            joined = (
                "、".join(values)
                if node.negate or len(values) < 2
                else f"{'、'.join(values[:-1])}或{values[-1]}"
            )
            return f"{self.term(node.operand)}{verb}{joined}"
        return self.term(node)

    def _operand(self, node: Node, parent: str) -> str:
        text = self.read(node)
        return f"（{text}）" if isinstance(node, BoolOp) and node.op != parent else text

    def _negate(self, node: Node) -> str:
        if isinstance(node, Ref) and node.type.kind == "bool":
            return f"不为{self.name(node)}"
        if isinstance(node, Member):
            return self.read(Member(node.operand, node.values, not node.negate))
        return f"并非（{self.read(node)}）"

    def _compare(self, node: Compare) -> str:
        left, right, op = node.left, node.right, node.op
        if isinstance(left, Const) and not isinstance(
            right, Const
        ):  # 'general' <= level reads level >= 'general'
            left, right, op = right, left, {"<": ">", "<=": ">=", ">": "<", ">=": "<="}.get(op, op)
        kind = left.type.kind
        if kind == "level" and isinstance(right, Const):
            return self.term(left) + _LEVEL_WORDS[op].format(self._value(left, right.value))
        if kind in ("enum", "level", "bool"):
            verb = "为" if op == "==" else "不为"
            if kind == "bool" and isinstance(right, Const):
                positive = bool(right.value) == (op == "==")
                return f"{'为' if positive else '不为'}{self.term(left)}"
            return f"{self.term(left)}{verb}{self.term(right, like=left)}"
        return f"{self.term(left)}{_NUM_WORDS[op]}{self.term(right)}"

    def term(self, node: Node, like: Node | None = None) -> str:
        """A value-producing node as a noun phrase."""
        if isinstance(node, Const):
            if isinstance(node.value, bool):
                return "是" if node.value else "否"
            if isinstance(node.value, Fraction):
                return _number(node.value)
            return self._value(like or node, node.value)
        if isinstance(node, Ref):
            return self.name(node)
        if isinstance(node, ParamAt):
            return f"{self._param_label(node.name)}（按{self.name(node.key)}）"
        if isinstance(node, Arith):
            return f"{self._arith_side(node.left)}{_ARITH_WORDS[node.op]}{self._arith_side(node.right)}"
        if isinstance(node, Neg):
            return f"负{self._arith_side(node.operand)}"
        return f"（{self.read(node)}）"

    def _arith_side(self, node: Node) -> str:
        text = self.term(node)
        return f"（{text}）" if isinstance(node, Arith) else text

    def name(self, node: Ref) -> str:
        rules = self.rules
        if node.kind == "level":
            return LEVEL_WORD
        if node.kind == "fact" and node.name in rules.facts:
            return rules.facts[node.name].label
        if node.kind == "derived" and node.name in rules.derived:
            return rules.derived[node.name].label
        if node.kind == "param":
            return self._param_label(node.name)
        return node.name

    def _param_label(self, name: str) -> str:
        parameter = self.rules.parameters.get(name)
        return parameter.label if parameter is not None and parameter.label else name

    def _value(self, operand: Node, value: object) -> str:
        """An enum value or level by its label."""
        if isinstance(value, Fraction):
            return _number(value)
        if operand.type.kind == "level":
            return self.rules.level_labels.get(str(value), str(value))
        if isinstance(operand, Ref) and operand.kind == "fact" and operand.name in self.rules.facts:
            return self.rules.facts[operand.name].label_of(value)
        return str(value)


def _number(value: Fraction) -> str:
    if value.denominator == 1:
        return str(value.numerator)
    return str(Decimal(value.numerator) / Decimal(value.denominator))
