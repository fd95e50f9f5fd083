"""Property: the reference, compiled and columnar paths give the same answer on generated students.

Students carry every fact, unknowns included, with numbers drawn on and around every threshold
the rules compare them with (computed from the loaded rules and parameters, for every key value
and boundary date, not written here), and dates on and around every boundary in the rules
(parameter ranges, program and amount-case effective ranges). The reference evaluator
(`RuleSet.explain`) and the compiled per-record path (`RuleSet.evaluate`) must agree on level,
reasons, awards, total and missing facts; the columnar path (`columnar.evaluate_rows`) on level,
awards (amounts and unknowns) and total.

Two rule sets: the real 2020 policy, and a small one that uses what the policy does not
(rational arithmetic between facts, non-integer thresholds, == on numbers, `in` on numbers,
boolean and keyed parameters, parameters that lapse, rounding of amounts to fen, unknown amount
cases).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, timedelta
from fractions import Fraction
from math import ceil, floor
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aidservice.engine import RuleSet, load_rules
from aidservice.engine import expr as ex
from aidservice.engine.columnar import evaluate_rows
from aidservice.engine.interp import _Scope
from aidservice.engine.model import Rules
from aidservice.engine.ruletests import summary

from .conftest import REPO, write_rules

# --------------------------------------------------------------------------- what the rules say


def boundary_dates(rules: Rules) -> list[date]:
    """Every date where something changes (range starts and ends), with the day before and after, in coverage."""
    edges: set[date] = set()
    for param in rules.parameters.values():
        for series in param.series.values():
            for dated in series:
                edges.update(d for d in (dated.start, dated.end) if d is not None)
    for program in rules.programs:
        ranges = [program.effective, *(case.effective for case in program.amount)]
        for effective in ranges:
            if effective is not None:
                edges.update(d for d in (effective.start, effective.end) if d is not None)
    days = {date(2020, 9, 1), date(2021, 3, 1)}
    edges.update({rules.coverage.start, rules.coverage.end})
    for edge in edges:
        days.update({edge - timedelta(days=1), edge, edge + timedelta(days=1)})
    return sorted(day for day in days if rules.coverage.holds(day))  # outside coverage the engine refuses


def _nodes(rules: Rules) -> Iterable[ex.Node]:
    for clause in rules.clauses:
        yield clause.when
    for program in rules.programs:
        yield program.when
        for case in program.amount:
            if case.when is not None:
                yield case.when
            yield case.value
    for derived in rules.derived.values():
        yield derived.expr


def _keys(rules: Rules, node: ex.Node) -> set[str]:
    """Enum facts a value depends on through keyed parameters (also inside derived values)."""
    found: set[str] = set()
    for item in node.walk():
        if isinstance(item, ex.ParamAt):
            found.add(item.key.name)
        elif isinstance(item, ex.Ref) and item.kind == "derived":
            found |= _keys(rules, rules.derived[item.name].expr)
    return found


def _facts_read(rules: Rules, node: ex.Node) -> set[str]:
    found: set[str] = set()
    for kind, name in ex.references(node):
        if kind == "fact":
            found.add(name)
        elif kind == "derived":
            found |= _facts_read(rules, rules.derived[name].expr)
    return found


Target = tuple[str, tuple[tuple[str, object], ...], tuple[int, ...]]  # fact, key facts' values, values


def targets(rules: Rules, day: date) -> list[Target]:
    """Values on and one unit around every value a numeric fact is compared with on `day`.

    For each comparison `fact OP other` (either side) where `other` reads no numeric fact, `other` is
    evaluated by the reference evaluator for every value of the enum facts it is keyed by (the
    target sets those too); `in` lists give their members.
    """
    out: list[Target] = []
    for root in _nodes(rules):
        for node in root.walk():
            pairs: list[tuple[ex.Node, ex.Node]] = []
            if isinstance(node, ex.Compare) and node.left.type.kind == "num":
                pairs = [(node.left, node.right), (node.right, node.left)]
            elif (
                isinstance(node, ex.Member)
                and isinstance(node.operand, ex.Ref)
                and node.operand.kind == "fact"
            ):
                spec = rules.facts[node.operand.name]
                if spec.numeric:
                    out.append(
                        (
                            spec.name,
                            (),
                            tuple(
                                sorted(set().union(*(_around(Fraction(v) * spec.scale) for v in node.values)))
                            ),
                        )
                    )
                continue
            for side, other in pairs:
                if not (isinstance(side, ex.Ref) and side.kind == "fact"):
                    continue
                if any(rules.facts[f].numeric for f in _facts_read(rules, other)):
                    continue
                spec = rules.facts[side.name]
                combos: list[dict[str, object]] = [{}]
                for key in sorted(_keys(rules, other)):
                    combos = [dict(c, **{key: v}) for c in combos for v in rules.facts[key].values]
                for combo in combos:
                    value = _Scope(rules, combo, day).eval(other)
                    if value is not None:
                        out.append(
                            (
                                spec.name,
                                tuple(sorted(combo.items())),
                                tuple(sorted(_around(Fraction(value) * spec.scale))),
                            )
                        )  # type: ignore[arg-type]
    return out


def thresholds(rules: Rules, days: list[date]) -> dict[str, set[int]]:
    """Per numeric fact, every target value over the boundary dates."""
    out: dict[str, set[int]] = {name: set() for name, spec in rules.facts.items() if spec.numeric}
    for day in days:
        for fact, _, values in targets(rules, day):
            out[fact].update(values)
    return out


def _around(scaled: Fraction) -> set[int]:
    return {floor(scaled) - 1, floor(scaled), ceil(scaled), ceil(scaled) + 1}


# --------------------------------------------------------------------------- strategies


def fact_strategy(
    rules: Rules, days: list[date], day: date | None = None
) -> st.SearchStrategy[dict[str, object]]:
    """Normalised facts (as `RuleSet.validate_facts` returns them) with unknowns and threshold values.

    With `day`, half the students are aimed at one to three thresholds of that day: the compared
    fact is set on or one unit around the threshold, and the key facts (city) to the matching values.
    """
    near = thresholds(rules, days)
    fields: dict[str, st.SearchStrategy[object]] = {}
    for name, spec in rules.facts.items():
        if spec.type == "bool":
            fields[name] = st.booleans()
            continue
        if spec.type == "enum":
            values = st.sampled_from(spec.values)
            fields[name] = values if spec.required else st.one_of(st.none(), values)
            continue
        lo = None if spec.min is None else ceil(spec.min * spec.scale)
        hi = None if spec.max is None else floor(spec.max * spec.scale)
        spread = 10**6 * spec.scale if spec.type != "int" else 20
        lo_gen = lo if lo is not None else -spread
        hi_gen = hi if hi is not None else spread * 10
        special = sorted(v for v in near[name] | {lo_gen, hi_gen} if lo_gen <= v <= hi_gen)
        numbers = (
            st.one_of(st.sampled_from(special), st.integers(lo_gen, hi_gen))
            if special
            else st.integers(lo_gen, hi_gen)
        )
        fields[name] = numbers if spec.required else st.one_of(st.none(), numbers, numbers)
    base = st.fixed_dictionaries(fields)
    if day is None:
        return base
    bounds = {n: (s.min, s.max, s.scale) for n, s in rules.facts.items() if s.numeric}

    def fits(fact: str, value: int) -> bool:
        lo, hi, scale = bounds[fact]
        return (lo is None or value >= lo * scale) and (hi is None or value <= hi * scale)

    aims = [(f, k, tuple(v for v in vs if fits(f, v))) for f, k, vs in targets(rules, day)]
    aims = [a for a in aims if a[2]]
    if not aims:
        return base
    aim = st.sampled_from(aims).flatmap(lambda a: st.tuples(st.just(a), st.sampled_from(a[2])))

    def aimed(student: dict[str, object], chosen: list[tuple[Target, int]]) -> dict[str, object]:
        out = dict(student)
        for (fact, keys, _values), value in chosen:
            out.update(dict(keys))
            out[fact] = value
        return out

    return st.one_of(base, st.builds(aimed, base, st.lists(aim, min_size=1, max_size=3)))


def check_paths_agree(rules: RuleSet, students: list[dict[str, object]], on: date) -> None:
    columnar = evaluate_rows(rules.rules, students, on)
    assert len(columnar) == len(students)
    for facts, fast in zip(students, columnar, strict=True):
        reference = summary(rules.explain(facts, on))
        compiled = summary(rules.evaluate(facts, on))
        assert compiled == reference, f"compiled differs on {on}: {facts}"
        wanted = {k: reference[k] for k in ("level", "awards", "total")}
        assert fast == wanted, f"columnar differs on {on}: {facts}"


# --------------------------------------------------------------------------- the real policy


@pytest.fixture(scope="module")
def policy_rules() -> RuleSet:
    return load_rules(REPO / "rules")


POLICY = load_rules(REPO / "rules")
POLICY_DAYS = boundary_dates(POLICY.rules)
_STRATEGIES: dict[tuple[str, date], st.SearchStrategy[list[dict[str, object]]]] = {}


def students_on(
    rules: RuleSet, days: list[date], day: date, max_size: int
) -> st.SearchStrategy[list[dict[str, object]]]:
    key = (rules.version, day)
    if key not in _STRATEGIES:
        _STRATEGIES[key] = st.lists(fact_strategy(rules.rules, days, day), min_size=1, max_size=max_size)
    return _STRATEGIES[key]


def test_boundary_dates_and_thresholds_come_from_the_rules() -> None:
    days = boundary_dates(POLICY.rules)
    assert date(2019, 1, 1) in days and date(2018, 12, 31) in days  # 2019 amount changes
    assert date(2020, 12, 31) in days and date(2021, 1, 1) in days  # end of the epidemic subsidy
    near = thresholds(POLICY.rules, days)
    assert 1_620_000 in near["per_capita_income"]  # 1.5 × 900 × 12 yuan in fen (南京)
    assert 2_730_000 in near["per_capita_income"]  # 3.5 × 650 × 12 yuan in fen (苏北)
    assert {199, 200, 201, 3000} <= near["academic_rank_pct"]
    assert {2, 3} <= near["disability_grade"]


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)
@given(data=st.data())
def test_reference_compiled_and_columnar_agree_on_the_policy(data: st.DataObject) -> None:
    on = data.draw(st.sampled_from(POLICY_DAYS), label="as_of")
    students = data.draw(students_on(POLICY, POLICY_DAYS, on, 25), label="students")
    check_paths_agree(POLICY, students, on)


# --------------------------------------------------------------------------- a rule set exercising the rest of the language

ODD_RULES = {
    "coverage.yaml": "coverage: {from: 2018-09-01, to: 2021-08-31}\n",
    "procedure.yaml": "procedure: {notice_working_days: {value: 5, status: confirmed},"
    " quota_order: {value: [special_group], status: confirmed}}\n",
    "documents.yaml": """\
        documents:
          doc: {title: 测试, number: 测试〔2020〕1号}
        """,
    "facts.yaml": """\
        facts:
          stage: {type: enum, values: [a, b], required: true, source: roster}
          grade: {type: int, min: 1, max: 9, required: true, source: roster}
          city: {type: enum, values: ["x", "y", "z"], source: school}
          income: {type: money, min: 0, source: application}
          score: {type: number, decimals: 2, min: -100, max: 100, source: application}
          n: {type: int, min: 0, max: 50, source: application}
          fee: {type: money, min: 0, source: school}
          flag: {type: bool, source: application}
          other: {type: bool, source: application}
        derived:
          line:
            type: money
            formula: line_monthly[city] * 12
          rich:
            type: bool
            formula: income >= 3.5 * line or open_flag
          weighted:
            type: number
            formula: score * 1.005 - n
        """,
    "parameters/p.yaml": """\
        parameters:
          line_monthly:
            type: money
            key: city
            status: provisional
            note: test
            values:
              "x": {2019-01-01: 900}
              "y": {2019-01-01: 650, 2020-06-01: 700.5}
              "z":
                - {from: 2020-01-01, to: 2020-03-31, value: 333.33}
          open_flag:
            type: bool
            status: confirmed
            values: {2019-01-01: false, 2020-01-01: true, 2021-01-01: false}
          half:
            type: number
            decimals: 1
            status: confirmed
            values: {2019-01-01: 0.5}
          lapsing:
            type: money
            status: confirmed
            values:
              - {from: 2019-01-01, to: 2019-12-31, value: 100}
        """,
    "levels.yaml": """\
        levels:
          special:
            clauses:
              - {id: s1, when: "income < line * 0.33333 and not flag", status: confirmed}
              - {id: s2, when: "score > 0.125 and score <= 50.005 and income >= line * 2.00001", status: confirmed}
              - {id: s3, when: "not other and score == 12.345", status: confirmed}
          difficult:
            clauses:
              - {id: d1, when: "n in (1, 2, 3.5)", status: confirmed}
              - {id: d2, when: "weighted < -10.001 or (flag and not rich)", status: confirmed}
              - {id: d3, when: "flag and income < half * line", status: confirmed}
              - {id: d4, when: "score * 3 > income - 1000.5 and n >= 1", status: confirmed}
          general:
            clauses:
              - {id: g1, when: rich, status: confirmed}
              - {id: g2, when: "-score >= 10 and lapsing < 200", status: confirmed}
              - {id: g3, when: "flag == other and n != 7", status: confirmed}
        """,
    "programs/a.yaml": """\
        programs:
          p1:
            name: 一
            kind: grant
            when: level >= 'general'
            status: confirmed
            amount:
              - when: stage == 'a' and score > 0
                value: score * 10.005
              - when: other
                value: lapsing
              - when: income > 5000
                value: fee
          p2:
            name: 二
            kind: waiver
            when: stage != 'b' or other
            status: confirmed
            amount: fee * 0.5 + 0.005
          p3:
            name: 三
            kind: scholarship
            effective: {from: 2020-01-01, to: 2020-06-30}
            when: level in ('special', 'difficult') and not (flag == other)
            status: confirmed
            amount:
              - when: city == 'x'
                effective: {to: 2020-03-31}
                value: 100
              - value: line - 1
          p4:
            name: 四
            kind: loan
            when: city in ('x', 'y') and level != 'none'
            status: confirmed
            amount: line
        """,
    "combinations.yaml": """\
        combinations:
          - {id: c1, exclusive: [p3, p1], status: confirmed}
        """,
}


@pytest.fixture(scope="module")
def odd(tmp_path_factory: pytest.TempPathFactory) -> RuleSet:
    return load_rules(write_rules(Path(tmp_path_factory.mktemp("odd")), ODD_RULES))


@settings(
    max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)
@given(data=st.data())
def test_reference_compiled_and_columnar_agree_on_the_whole_language(
    odd: RuleSet, data: st.DataObject
) -> None:
    days = boundary_dates(odd.rules)
    on = data.draw(st.sampled_from(days), label="as_of")
    students = data.draw(students_on(odd, days, on, 20), label="students")
    check_paths_agree(odd, students, on)
