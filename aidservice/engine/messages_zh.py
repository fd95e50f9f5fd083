"""The loader's messages in Chinese: a catalogue keyed by the English message, as gettext keys by msgid.

The loader writes each problem once, in English (`file:line: reason`), and engineers read that. A policy
analyst reads `aid rules check` in Chinese: `translate` finds the catalogue entry whose English template
matches the whole message (the most specific one, by literal text, when several do), translates the
values it captured that are themselves phrases of the catalogue ("fact 'stage'" -> "事实 'stage'", or a
nested expression error), and fills the Chinese template. Ids, file names and values stay as written.
The "did you mean" suffixes the loader appends are translated on their own.

`tests/unit/engine/test_messages_zh.py` reads every message the loader and the expression checker can
write (from their source, with `ast`) and fails on any without an entry here, so a new message cannot
ship untranslated.
"""

from __future__ import annotations

import re
import string

MESSAGES: dict[str, str] = {
    # loader: files and sections
    "rules directory not found": "找不到规则目录",
    "no rule files (*.yaml) found": "没有找到规则文件（*.yaml）",
    "not UTF-8 text: {reason}": "不是 UTF-8 文本：{reason}",
    "a rules file is a mapping of sections ({sections})": "规则文件应为各部分的映射（{sections}）",
    "unknown section '{section}' (allowed: {sections})": "未知的部分 '{section}'（允许：{sections}）",
    "{section} is a mapping of id -> definition": "{section} 应为“标识 -> 定义”的映射",
    "{section} is a list": "{section} 应为列表",
    "duplicate {kind} id '{key}' (first at {file}:{line})": "重复的{kind}标识 '{key}'（首次出现在 {file}:{line}）",
    "a rule test file has one key, 'tests', holding a list": "规则测试文件只有一个键 'tests'，其值为列表",
    # YAML
    "YAML syntax error: {problem}": "YAML 语法错误：{problem}",
    "YAML syntax error: character U+{code} is not allowed": "YAML 语法错误：不允许字符 U+{code}",
    "duplicate key '{key}'": "重复的键 '{key}'",
    "not an integer: {raw}": "不是整数：{raw}",
    "not a number: {raw}": "不是数字：{raw}",
    "not a date (YYYY-MM-DD): {raw}": "不是日期（YYYY-MM-DD）：{raw}",
    # generic field checks
    "{what} must be a mapping": "{what} 应为映射",
    "unknown key '{key}' in {what} (allowed: {allowed})": "{what} 中有未知的键 '{key}'（允许：{allowed}）",
    "{what} is missing required key '{key}'": "{what} 缺少必需的键 '{key}'",
    "{what} id '{name}' must be snake_case ([a-z][a-z0-9_]*)": "{what}标识 '{name}' 须为小写下划线形式（[a-z][a-z0-9_]*）",
    "{what}: '{key}' must be text": "{what}：'{key}' 须为文本",
    "{what}: status must be one of {allowed}, not {status}": "{what}：status 须为 {allowed} 之一，而不是 {status}",
    "{what}: a provisional value needs a 'note' saying why": "{what}：暂定（provisional）取值须有说明原因的 'note'",
    "{what}: unknown document '{document}' (see documents.yaml)": "{what}：未知的文件 '{document}'（见 documents.yaml）",
    "{what}: effective.{key} must be a date (YYYY-MM-DD)": "{what}：effective.{key} 须为日期（YYYY-MM-DD）",
    "{what}: effective range is reversed ({start} after {end})": "{what}：生效期起止颠倒（{start} 晚于 {end}）",
    # coverage and documents
    "no coverage declared: the rule set needs 'coverage: {{from: YYYY-MM-DD, to: YYYY-MM-DD}}' (policy §0)": (
        "没有声明覆盖期：规则集需要 'coverage: {{from: YYYY-MM-DD, to: YYYY-MM-DD}}'（政策说明 §0）"
    ),
    "duplicate coverage (first at {file}:{line})": "重复的覆盖期（首次出现在 {file}:{line}）",
    "coverage.{key} must be a date (YYYY-MM-DD)": "coverage.{key} 须为日期（YYYY-MM-DD）",
    "coverage is reversed ({start} after {end})": "覆盖期起止颠倒（{start} 晚于 {end}）",
    "document '{id}': issued must be a date (YYYY-MM-DD, or \"YYYY-MM\" / YYYY when only that is known)": (
        "文件 '{id}'：issued 须为日期（YYYY-MM-DD；只知年月或年份时写 \"YYYY-MM\" 或 YYYY）"
    ),
    # facts
    "{what}: type must be one of {allowed}": "{what}：type 须为 {allowed} 之一",
    "{what}: source must be one of {allowed} (the sources are named in sources.yaml)": (
        "{what}：source 须为 {allowed} 之一（数据来源在 sources.yaml 中列出）"
    ),
    "{what}: an enum needs a non-empty list of values, or a mapping of value -> label": (
        "{what}：枚举须有非空的取值列表，或“取值 -> 名称”的映射"
    ),
    "{what}: duplicate enum value": "{what}：枚举取值重复",
    "{what}: only enum facts have values": "{what}：只有枚举事实才有 values",
    "{what}: decimals must be an integer 0-6": "{what}：decimals 须为 0 至 6 的整数",
    "{what}: money has 2 decimals": "{what}：金额保留 2 位小数",
    "{what}: {key} must be a number on a numeric fact": "{what}：{key} 须为数值，且只用于数值型事实",
    "{what}: min is above max": "{what}：min 大于 max",
    "{what}: required must be true or false": "{what}：required 须为 true 或 false",
    # parameters
    "{what}: key '{key}' is not an enum fact": "{what}：key '{key}' 不是枚举事实",
    "{what}: a keyed parameter maps each {key} value to dated values": "{what}：按键取值的参数须把每个 {key} 取值映射到带日期的取值",
    "{what}: '{value}' is not a value of {key}": "{what}：'{value}' 不是 {key} 的取值",
    "{what}: '{key}' is not a date (YYYY-MM-DD)": "{what}：'{key}' 不是日期（YYYY-MM-DD）",
    "{what}: dates must be in increasing order": "{what}：日期须按先后顺序排列",
    "{what}: from/to must be dates (YYYY-MM-DD)": "{what}：from/to 须为日期（YYYY-MM-DD）",
    "{what}: range is reversed ({start} after {end})": "{what}：区间起止颠倒（{start} 晚于 {end}）",
    "{what}: ranges overlap ({a}..{b} and {c}..{d})": "{what}：区间重叠（{a}..{b} 与 {c}..{d}）",
    "{what}: values are dated, e.g. {{2019-01-01: 2000}}": "{what}：取值须带日期，例如 {{2019-01-01: 2000}}",
    "{what}: no values": "{what}：没有取值",
    "{what}: {value} has more than {decimals} decimals": "{what}：{value} 的小数超过 {decimals} 位",
    "{what}: {value} is not a {type}": "{what}：{value} 不是 {type} 类型",
    # derived values, levels, clauses, programs, combinations
    "derived value '{name}' has the same name as a fact, parameter or 'level'": "派生值 '{name}' 与某个事实、参数或 'level' 重名",
    "derived value '{name}': type must be bool, int, number or money": "派生值 '{name}'：type 须为 bool、int、number 或 money",
    "derived value '{name}' cannot read 'level'": "派生值 '{name}' 不能读取 'level'",
    "{what}: expected an expression, got {type}": "{what}：应为表达式，实际为 {type}",
    "{what}: {error}": "{what}：{error}",
    "unknown level '{level}' (levels are {levels})": "未知的等级 '{level}'（等级为 {levels}）",
    "levels missing: {missing}": "缺少等级：{missing}",
    "no levels defined (levels.yaml)": "没有定义等级（levels.yaml）",
    "level '{level}': clauses is a list": "等级 '{level}'：clauses 应为列表",
    "duplicate clause id '{id}' (first at {where})": "重复的条款标识 '{id}'（首次出现在 {where}）",
    "{what}: an identification clause cannot read 'level'": "{what}：认定条款不能读取 'level'",
    "{what}: kind must be one of {allowed}": "{what}：kind 须为 {allowed} 之一",
    "{what}: payment must be one of {allowed}": "{what}：payment 须为 {allowed} 之一",
    "{what}: unknown stage(s) {stages}": "{what}：未知的学段 {stages}",
    "{what}: amount has no cases": "{what}：amount 没有任何情形",
    "duplicate combination id '{id}'": "重复的组合规则标识 '{id}'",
    "{what}: exclusive lists two or more programs": "{what}：exclusive 须列出两个或更多项目",
    "{what}: unknown program(s) {programs}": "{what}：未知的项目 {programs}",
    # sources and special groups
    "{what}: statuses is a mapping of status -> how it reaches": "{what}：statuses 应为“状态 -> 适用范围”的映射",
    "{what}: label is required text": "{what}：label 为必填文本",
    "{what}: reaches must be one of {allowed}": "{what}：reaches 须为 {allowed} 之一",
    "{what}: only a personal status gives a guardian fact (a household one reaches the student itself)": (
        "{what}：只有个人状态才能给出监护人事实（家庭状态本身即适用于学生）"
    ),
    "{what}: attributes is a mapping of name -> {{fact, required}}": "{what}：attributes 应为“名称 -> {{fact, required}}”的映射",
    "{what}: attribute '{name}': required must be true or false": "{what}：属性 '{name}' 的 required 须为 true 或 false",
    "{what}: unknown fact '{fact}'": "{what}：未知的事实 '{fact}'",
    "{what}: fact '{fact}' says its source is '{said}', not '{source}'": "{what}：事实 '{fact}' 的来源是 '{said}'，不是 '{source}'",
    "{what}: fact '{fact}' must be a bool (a status is held or not)": "{what}：事实 '{fact}' 须为 bool（状态只有“是”或“否”）",
    "fact '{fact}': source '{source}' sends no such status, guardian fact or attribute (see sources.yaml)": (
        "事实 '{fact}'：来源 '{source}' 不报送这一状态、监护人事实或属性（见 sources.yaml）"
    ),
    "{what}: a declared status must be a status an agency sends; '{name}' is not": (
        "{what}：申报类状态须是某个部门报送的状态；'{name}' 不是"
    ),
    "{what}: reaches must be as the agency's status ({reaches})": "{what}：reaches 须与部门报送的该状态一致（{reaches}）",
    "{what}: a declared status carries no guardian fact or attributes": "{what}：申报类状态不能带监护人事实或属性",
    "special group '{status}': no source sends this status": "特殊群体 '{status}'：没有任何来源报送这一状态",
    "duplicate special group '{status}'": "重复的特殊群体 '{status}'",
    # expressions
    "empty expression": "表达式为空",
    "syntax error in {text}: {error}": "{text} 有语法错误：{error}",
    "{text} is {type}, expected {expected}": "{text} 的类型是 {type}，应为 {expected}",
    "{message} in {text}": "{text} 中：{message}",
    "unknown name '{name}' in {text}": "{text} 中有未知的名称 '{name}'",
    "'{segment}' is not allowed": "不允许 '{segment}'",
    "literal {value} is not allowed": "不允许字面量 {value}",
    "only a keyed parameter can be subscripted": "只有按键取值的参数可以使用下标",
    "'{name}' is not a keyed parameter": "'{name}' 不是按键取值的参数",
    "parameter '{name}' is keyed by {key}": "参数 '{name}' 按 {key} 取值",
    "parameter '{name}' is keyed by {key}: write {name2}[{key2}]": "参数 '{name}' 按 {key} 取值：请写作 {name2}[{key2}]",
    "'{segment}' combines a non-boolean with and/or": "'{segment}' 用 and/or 连接了非布尔值",
    "'not' needs a boolean": "'not' 需要布尔值",
    "'-' needs a number": "'-' 需要数值",
    "unary operator not allowed": "不允许一元运算符",
    "operator in '{segment}' is not allowed (only + - *)": "'{segment}' 中的运算符不允许（只允许 + - *）",
    "arithmetic on a non-number in '{segment}'": "'{segment}' 对非数值做了算术运算",
    "comparison operator not allowed": "不允许该比较运算符",
    "'{op}' is not defined between these values (only == and != on enums)": "'{op}' 不能用于这些值之间（枚举只能用 == 和 !=）",
    "cannot compare {left} with {right} in '{segment}'": "'{segment}' 中不能比较 {left} 与 {right}",
    "'{value}' is not a value of {what} ({allowed})": "'{value}' 不是 {what} 的取值（{allowed}）",
    "string '{value}' compared with {type}": "字符串 '{value}' 与 {type} 比较",
    "'in' needs a literal list like ('a', 'b')": "'in' 需要字面量列表，例如 ('a', 'b')",
    "'in' needs literals": "'in' 只能用于字面量",
    "{value} is not a {type} value": "{value} 不是 {type} 类型的值",
}
"""English template -> Chinese template; `{name}` fields are the values the message carries."""

PHRASES: dict[str, str] = {
    "fact '{n}'": "事实 '{n}'",
    "parameter '{n}'": "参数 '{n}'",
    "document '{n}'": "文件 '{n}'",
    "derived value '{n}'": "派生值 '{n}'",
    "clause '{n}'": "条款 '{n}'",
    "clause of level '{n}'": "等级 '{n}' 的条款",
    "level '{n}'": "等级 '{n}'",
    "program '{n}'": "项目 '{n}'",
    "combination '{n}'": "组合规则 '{n}'",
    "source '{n}'": "来源 '{n}'",
    "status '{n}' of source '{s}'": "来源 '{s}' 的状态 '{n}'",
    "special group '{n}'": "特殊群体 '{n}'",
    "special group": "特殊群体",
    "coverage": "覆盖期（coverage）",
    "procedure.notice_working_days": "公示期工作日数（procedure.notice_working_days）",
    "procedure.quota_order": "名额分配顺序（procedure.quota_order）",
    "procedure.guide_ratios": "资助比例指导值（procedure.guide_ratios）",
    "{w} basis": "{w} 的引用（basis）",
    "{w} effective": "{w} 的生效期（effective）",
    "{w} range": "{w} 的取值区间",
    "{w} amount case {i}": "{w} 的第 {i} 个金额情形",
    "{w}: attribute '{n}'": "{w} 的属性 '{n}'",
    "{w}: guardian": "{w} 的监护人事实（guardian）",
    "document": "文件",
    "fact": "事实",
    "parameter": "参数",
    "derived value": "派生值",
    "clause": "条款",
    "program": "项目",
    "combination": "组合规则",
    "source": "来源",
    "attribute": "属性",
    "derived": "派生值",
    "bool": "布尔",
    "int": "整数",
    "number": "数值",
    "money": "金额",
    "enum": "枚举",
}
"""Phrases the messages carry as values (what is wrong, type names), translated where they appear."""

GENERIC = ("{what}: {error}", "{message} in {text}")
"""Wrappers around another message: tried after every specific template, outer (the loader's) first."""
_SUGGESTION = re.compile(r"; did you mean (.+?)\?$")
_TYPE_NAME = re.compile(r"[a-z_]+( [a-z_]+)?")
_DEPTH = 4


def translate(message: str) -> str:
    """`message` in Chinese; a message no template matches comes back unchanged."""
    return _translate(message, _DEPTH)


def _translate(message: str, depth: int) -> str:
    hints: list[str] = []
    while (found := _SUGGESTION.search(message)) is not None:
        hints.insert(0, f"；是否应为 {found.group(1).replace(' or ', ' 或 ')}？")
        message = message[: found.start()]
    return _whole(message, MESSAGES, depth) + "".join(hints)


def _whole(text: str, catalogue: dict[str, str], depth: int) -> str:
    """The most specific template matching all of `text` whose fields hold what their names say."""
    for pattern, _literal, english, names in _compiled(catalogue):
        match = pattern.fullmatch(text)
        if match is None:
            continue
        values = {names[g]: v for g, v in match.groupdict().items()}
        if not all(_fits(name, value) for name, value in values.items()):
            continue
        if depth > 0:
            values = {name: _value(value, depth - 1) for name, value in values.items()}
        return catalogue[english].format(**values)
    return text


def _fits(name: str, value: str) -> bool:
    """`what` holds a phrase of PHRASES, `type` a type name, `text` a quoted expression; others anything."""
    if name in ("what", "w"):
        return _whole(value, PHRASES, 0) != value
    if name == "type":
        return _TYPE_NAME.fullmatch(value) is not None
    if name == "text":  # an expression, as repr() writes it
        return len(value) >= 2 and value[0] == value[-1] and value[0] in "'\""
    return True


def _value(value: str, depth: int) -> str:
    """A value a message carries: a phrase, a nested message (an expression's error), or itself."""
    phrase = _whole(value, PHRASES, depth)
    if phrase != value:
        return phrase
    nested = _translate(value, depth)
    return nested if nested != value else value


_Compiled = tuple[tuple[re.Pattern[str], int, str, dict[str, str]], ...]
_CACHE: dict[int, _Compiled] = {}


def _compiled(catalogue: dict[str, str]) -> _Compiled:
    """Each template as a regex with one lazy group per field, its literal length, and the field names."""
    cached = _CACHE.get(id(catalogue))
    if cached is not None:
        return cached
    out = []
    for english in catalogue:
        regex, literal = "", 0
        names: dict[str, str] = {}
        for text, field, _spec, _conv in string.Formatter().parse(english):
            regex += re.escape(text)
            literal += len(text)
            if field is not None:
                group = f"g{len(names)}"
                names[group] = field
                regex += f"(?P<{group}>.+?)"
        out.append((re.compile(regex, re.DOTALL), literal, english, names))
    out.sort(
        key=lambda item: (item[2] in GENERIC, GENERIC.index(item[2]) if item[2] in GENERIC else -item[1])
    )
    _CACHE[id(catalogue)] = compiled = tuple(out)
    return compiled


def template_key(english: str) -> str:
    """A template with its fields' names dropped (`{what}: x` -> `{}: x`): how the test compares them."""
    return "".join(
        text.replace("{", "{{").replace("}", "}}") + ("{}" if field is not None else "")
        for text, field, _spec, _conv in string.Formatter().parse(english)
    )
