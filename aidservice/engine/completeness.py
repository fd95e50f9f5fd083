"""Completeness checks of a loaded rule set: what `aid rules check` adds to the loader's strictness.

The loader refuses what is wrong; these checks find what is missing, in a rule set that loads:

- a keyed parameter (`subsistence_line_monthly[city_code]`) that lacks a value for one of its key
  fact's values (a city missing from the line table);
- a parameter a clause or program reads (directly or through derived values) that has no value on
  some day of the coverage (within the program's and the amount case's `effective` range);
- a program whose `stages` disagree with its condition (a stage listed that the condition excludes,
  or a stage the condition admits that is not listed);
- a program, clause or parameter that cites no document, and a document without an issuing body,
  a number (or "无文号") or an issue date.

Each finding names `file:line` and is written in Chinese, with the English kept (`text("en")`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, timedelta

from . import expr as ex
from .model import Document, Effective, Parameter, Program, Rules, Where
from .result import Citation
from .yamlsrc import RuleIssue, YMap, load_text

NO_NUMBER = "无文号"
_DAY = timedelta(days=1)
_DOC_NUMBER = re.compile(r"^\S.*[〔\[(（]\d{4}[〕\])）]\s*第?\d+号$")  # 教财〔2018〕16号


@dataclass(frozen=True, slots=True)
class Finding:
    """One incompleteness: where, and the reason in Chinese (`zh`) and English (`en`)."""

    file: str
    line: int
    zh: str
    en: str

    def text(self, lang: str = "zh") -> str:
        return f"{self.file}:{self.line}: {self.en if lang == 'en' else self.zh}"


def check(rules: Rules) -> list[Finding]:
    """Every completeness finding of `rules`, sorted by file and line."""
    raw = _RawIndex(rules)
    findings = [
        *_keyed_parameters(rules, raw),
        *_coverage_gaps(rules, raw),
        *_stages(rules, raw),
        *_citations(rules, raw),
    ]
    return sorted(set(findings), key=lambda f: (f.file, f.line, f.en))


class _RawIndex:
    """The rule files parsed again with their lines, to point a finding at the key or field concerned."""

    def __init__(self, rules: Rules) -> None:
        self.rules = rules
        self._files: dict[str, object] = {}

    def _top(self, display: str) -> object:
        if display not in self._files:
            rel = display.split("/", 1)[1] if "/" in display else display
            text = self.rules.files.get(rel)
            try:
                self._files[display] = load_text(text, display) if text is not None else None
            except RuleIssue:  # the loader read it; this cannot fail on a loaded rule set
                self._files[display] = None
        return self._files[display]

    def definition(self, section: str, ident: str, where: Where | None) -> YMap | None:
        """The raw mapping that defined `ident` in `section` of the file `where` names."""
        if where is None:
            return None
        top = self._top(where.file)
        body = top.get(section) if isinstance(top, YMap) else None
        spec = body.get(ident) if isinstance(body, YMap) else None
        return spec if isinstance(spec, YMap) else None

    def document_where(self, doc_id: str) -> Where:
        """Where `doc_id` is defined (documents carry no `where` in the model)."""
        for rel in sorted(self.rules.files):
            display = self._display(rel)
            top = self._top(display)
            body = top.get("documents") if isinstance(top, YMap) else None
            if isinstance(body, YMap) and doc_id in body:
                return Where(display, body.key_lines[doc_id])
        return Where("documents.yaml", 0)

    def document_field_line(self, doc_id: str, key: str) -> Where:
        where = self.document_where(doc_id)
        spec = self.definition("documents", doc_id, where)
        line = spec.key_lines.get(key, where.line) if spec is not None else where.line
        return Where(where.file, line)

    def _display(self, rel: str) -> str:
        prefix = self._prefix()
        return f"{prefix}/{rel}" if prefix else rel

    def _prefix(self) -> str:
        wheres = [p.where for p in self.rules.programs] + [p.where for p in self.rules.parameters.values()]
        for where in wheres:
            if where is not None and "/" in where.file:
                return where.file.split("/", 1)[0]
        return ""


def _line(spec: YMap | None, key: str, where: Where) -> int:
    return spec.key_lines.get(key, where.line) if spec is not None else where.line


# --- which parameters each clause and program reads, and over which dates -------------------------


def _params_of(node: ex.Node, rules: Rules, seen: frozenset[str] = frozenset()) -> set[str]:
    """Parameters an expression reads, following derived values."""
    found: set[str] = set()
    for kind, name in ex.references(node):
        if kind == "param":
            found.add(name)
        elif kind == "derived" and name in rules.derived and name not in seen:
            found |= _params_of(rules.derived[name].expr, rules, seen | {name})
    return found


def _keyed_uses(node: ex.Node, rules: Rules, seen: frozenset[str] = frozenset()) -> set[tuple[str, str]]:
    """(parameter, key fact) of every keyed lookup an expression makes, following derived values."""
    found: set[tuple[str, str]] = set()
    for item in node.walk():
        if isinstance(item, ex.ParamAt):
            found.add((item.name, item.key.name))
        elif (
            isinstance(item, ex.Ref)
            and item.kind == "derived"
            and item.name in rules.derived
            and item.name not in seen
        ):
            found |= _keyed_uses(rules.derived[item.name].expr, rules, seen | {item.name})
    return found


def _all_exprs(rules: Rules) -> Iterator[ex.Node]:
    for clause in rules.clauses:
        yield clause.when
    for program in rules.programs:
        yield program.when
        for case in program.amount:
            yield case.value
            if case.when is not None:
                yield case.when


def _window(rules: Rules, *ranges: Effective | None) -> tuple[date, date] | None:
    """The coverage cut down to every given effective range, or None when nothing is left."""
    start, end = rules.coverage.start, rules.coverage.end
    for rng in ranges:
        if rng is None:
            continue
        if rng.start is not None and rng.start > start:
            start = rng.start
        if rng.end is not None and rng.end < end:
            end = rng.end
    return (start, end) if start <= end else None


@dataclass(frozen=True, slots=True)
class _Use:
    """A parameter read by a clause or a program over a window of dates."""

    param: str
    user: str
    start: date
    end: date


def _uses(rules: Rules) -> Iterator[_Use]:
    full = _window(rules)
    for clause in rules.clauses:
        if full is not None:
            for name in _params_of(clause.when, rules):
                yield _Use(name, f"clause '{clause.id}'", *full)
    for program in rules.programs:
        window = _window(rules, program.effective)
        if window is not None:
            for name in _params_of(program.when, rules):
                yield _Use(name, f"program '{program.id}'", *window)
        for case in program.amount:
            window = _window(rules, program.effective, case.effective)
            if window is None:
                continue
            names = _params_of(case.value, rules) | (
                set() if case.when is None else _params_of(case.when, rules)
            )
            for name in names:
                yield _Use(name, f"program '{program.id}'", *window)


def _gaps(param: Parameter, key: str | None, start: date, end: date) -> list[tuple[date, date]]:
    """The sub-ranges of [start, end] on which `param` (at `key`) has no value."""
    held = sorted(
        (d.start or date.min, d.end or date.max) for d in param.series.get(key, ()) if d.value is not None
    )
    gaps: list[tuple[date, date]] = []
    cursor = start
    for lo, hi in held:
        if hi < cursor:
            continue
        if lo > end:
            break
        if lo > cursor:
            gaps.append((cursor, lo - _DAY))
        if hi >= end:
            return gaps
        cursor = hi + _DAY
    gaps.append((cursor, end))
    return gaps


def _span(start: date, end: date) -> str:
    return start.isoformat() if start == end else f"{start.isoformat()} – {end.isoformat()}"


# --- the checks ----------------------------------------------------------------------------------


def _keyed_parameters(rules: Rules, raw: _RawIndex) -> Iterator[Finding]:
    """Every keyed parameter has a value series for every value of the fact it is looked up by."""
    uses: dict[str, set[str]] = {}
    for node in _all_exprs(rules):
        for name, fact in _keyed_uses(node, rules):
            uses.setdefault(name, set()).add(fact)
    for name, facts in sorted(uses.items()):
        param = rules.parameters.get(name)
        if param is None or param.where is None:
            continue
        spec = raw.definition("parameters", name, param.where)
        line = _line(spec, "values", param.where)
        for fact_name in sorted(facts):
            spec_of_key = rules.facts.get(fact_name)
            if spec_of_key is None:
                continue
            missing = [v for v in spec_of_key.values if v not in param.series]
            if missing:
                listed = "、".join(missing)
                yield Finding(
                    param.where.file,
                    line,
                    f"参数 '{name}' 按 {fact_name} 取值，但缺少 {len(missing)} 个取值的数据：{listed}",
                    f"parameter '{name}' is looked up by {fact_name} but has no values for "
                    f"{len(missing)} of them: {', '.join(missing)}",
                )


def _coverage_gaps(rules: Rules, raw: _RawIndex) -> Iterator[Finding]:
    """Every parameter read by a clause or program has a value on every day it may be read."""
    by_param: dict[tuple[str, date, date], list[str]] = {}
    for use in _uses(rules):
        by_param.setdefault((use.param, use.start, use.end), []).append(use.user)
    reported: set[tuple[str, str | None, date, date]] = set()
    for (name, start, end), users in sorted(by_param.items()):
        param = rules.parameters.get(name)
        if param is None or param.where is None:
            continue
        spec = raw.definition("parameters", name, param.where)
        values = spec.get("values") if spec is not None else None
        user = sorted(set(users))[0]
        for key in sorted(param.series, key=lambda k: k or ""):
            for lo, hi in _gaps(param, key, start, end):
                if (name, key, lo, hi) in reported:
                    continue
                reported.add((name, key, lo, hi))
                line = _line(spec, "values", param.where)
                if key is not None and isinstance(values, YMap):
                    line = values.key_lines.get(key, line)
                label = name if key is None else f"{name}[{key}]"
                yield Finding(
                    param.where.file,
                    line,
                    f"参数 '{label}' 在 {_span(lo, hi)} 没有取值（覆盖期 {rules.coverage.start} 至 {rules.coverage.end}，{_zh_user(user)}使用）",
                    f"parameter '{label}' has no value on {_span(lo, hi)} "
                    f"(coverage {rules.coverage}; used by {user})",
                )


def _zh_user(user: str) -> str:
    kind, _, rest = user.partition(" ")
    return ("条款 " if kind == "clause" else "项目 ") + rest + " "


def _stage_verdict(
    node: ex.Node, stage: str, rules: Rules, seen: frozenset[str] = frozenset()
) -> bool | None:
    """The condition's truth when only `stage` is known (None: depends on something else), Kleene logic."""
    if isinstance(node, ex.Const) and isinstance(node.value, bool):
        return node.value
    if isinstance(node, ex.Ref) and node.kind == "derived" and node.name in rules.derived:
        if node.name in seen or node.type != ex.BOOL:
            return None
        return _stage_verdict(rules.derived[node.name].expr, stage, rules, seen | {node.name})
    if isinstance(node, ex.Not):
        inner = _stage_verdict(node.operand, stage, rules, seen)
        return None if inner is None else not inner
    if isinstance(node, ex.BoolOp):
        verdicts = [_stage_verdict(op, stage, rules, seen) for op in node.operands]
        absorbing = node.op == "or"  # true absorbs `or`, false absorbs `and`
        if absorbing in verdicts:
            return absorbing
        return None if None in verdicts else not absorbing
    if isinstance(node, ex.Member) and _is_stage(node.operand):
        inside = stage in node.values
        return inside != node.negate
    if isinstance(node, ex.Compare) and node.op in ("==", "!="):
        for ref, other in ((node.left, node.right), (node.right, node.left)):
            if _is_stage(ref) and isinstance(other, ex.Const) and isinstance(other.value, str):
                return (stage == other.value) == (node.op == "==")
    return None


def _is_stage(node: ex.Node) -> bool:
    return isinstance(node, ex.Ref) and node.kind == "fact" and node.name == "stage"


def _admitted(program: Program, stages: Iterable[str], rules: Rules) -> list[str]:
    return [s for s in stages if _stage_verdict(program.when, s, rules) is not False]


def _stages(rules: Rules, raw: _RawIndex) -> Iterator[Finding]:
    """A program's `stages` list exactly the stages its condition can admit."""
    stage_fact = rules.facts.get("stage")
    if stage_fact is None:
        return
    for program in rules.programs:
        if program.where is None:
            continue
        spec = raw.definition("programs", program.id, program.where)
        line = _line(spec, "stages", program.where)
        admitted = _admitted(program, stage_fact.values, rules)
        listed = set(program.stages)
        if not listed:
            yield Finding(
                program.where.file,
                line,
                f"项目 '{program.id}' 未列出适用学段 stages（条件允许：{'、'.join(admitted) or '无'}）",
                f"program '{program.id}' lists no stages (its condition admits: {', '.join(admitted) or 'none'})",
            )
            continue
        excluded = [s for s in program.stages if s not in admitted]
        if excluded:
            yield Finding(
                program.where.file,
                line,
                f"项目 '{program.id}' 的 stages 列出了条件排除的学段：{'、'.join(excluded)}",
                f"program '{program.id}' lists stage(s) its condition excludes: {', '.join(excluded)}",
            )
        unlisted = [s for s in admitted if s not in listed]
        if unlisted:
            yield Finding(
                program.where.file,
                line,
                f"项目 '{program.id}' 的条件允许未列入 stages 的学段：{'、'.join(unlisted)}",
                f"program '{program.id}''s condition admits stage(s) not listed in stages: {', '.join(unlisted)}",
            )


def _citations(rules: Rules, raw: _RawIndex) -> Iterator[Finding]:
    """Programs, clauses and parameters cite a document; every document is fully identified."""
    items: list[tuple[str, str, str, tuple[Citation, ...], Where | None]] = []
    items += [("项目", "program", p.id, p.basis, p.where) for p in rules.programs]
    items += [("参数", "parameter", p.name, p.basis, p.where) for p in rules.parameters.values()]
    items += [("条款", "clause", c.id, c.basis, c.where) for c in rules.clauses]
    for zh_kind, en_kind, ident, basis, where in items:
        if not basis and where is not None:
            yield Finding(
                where.file,
                where.line,
                f"{zh_kind} '{ident}' 没有引用政策文件（basis，见 documents.yaml）",
                f"{en_kind} '{ident}' cites no document (basis, see documents.yaml)",
            )
    for doc in rules.documents.values():
        yield from _document(doc, raw)


def _document(doc: Document, raw: _RawIndex) -> Iterator[Finding]:
    if not doc.issuer.strip():
        where = raw.document_where(doc.id)
        yield Finding(
            where.file,
            where.line,
            f"文件 '{doc.id}' 缺少发文机关（issuer）",
            f"document '{doc.id}' has no issuing body (issuer)",
        )
    number = doc.number.strip()
    if number != NO_NUMBER and not _DOC_NUMBER.match(number):
        where = raw.document_field_line(doc.id, "number")
        shown = f"'{number}' " if number else ""
        yield Finding(
            where.file,
            where.line,
            f"文件 '{doc.id}' 的文号 {shown}不是发文字号（没有文号请写 \"{NO_NUMBER}\"）",
            f"document '{doc.id}': number {shown}is not a document number (write \"{NO_NUMBER}\" when it has none)",
        )
    if not doc.issued_as:
        where = raw.document_field_line(doc.id, "issued")
        yield Finding(
            where.file,
            where.line,
            f"文件 '{doc.id}' 缺少发文日期（issued）",
            f"document '{doc.id}' has no issue date (issued)",
        )
