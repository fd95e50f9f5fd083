"""`aid rules check` in Chinese: every message the loader can write has a catalogue entry, and reads right."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from aidservice.engine import RulesError, load_rules
from aidservice.engine.messages_zh import MESSAGES, PHRASES, template_key, translate

from .conftest import MINI, write_rules

ENGINE = Path(__file__).resolve().parents[3] / "aidservice" / "engine"
MESSAGE_CALLS = {"self.error": 2, "RuleIssue": 2, "ExprError": 0, "self.fail": 1}
"""Calls that carry a message, and the position of the message among their arguments."""
PHRASE_CALLS = {"self.fields": 3, "self.ident": 3}


def _template(node: ast.expr) -> str | None:
    """The English template of a message expression: fields as `{}`, "did you mean" suffixes dropped."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value.replace("{", "{{").replace("}", "}}")
    if isinstance(node, ast.JoinedStr):
        parts = []
        for value in node.values:
            if isinstance(value, ast.Constant):
                parts.append(str(value.value).replace("{", "{{").replace("}", "}}"))
            elif isinstance(value, ast.FormattedValue) and ast.unparse(value.value) == "hint":
                continue  # a "did you mean" suffix, translated on its own
            else:
                parts.append("{}")
        return "".join(parts)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        if "did_you_mean" in ast.unparse(node.right):
            return _template(node.left)
        left, right = _template(node.left), _template(node.right)
        return None if left is None or right is None else left + right
    return None


def _written(calls: dict[str, int], names: tuple[str, ...] = ()) -> set[tuple[str, int, str]]:
    found = set()
    for path in sorted(ENGINE.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            expr: ast.expr | None = None
            if isinstance(node, ast.Call) and ast.unparse(node.func) in calls:
                position = calls[ast.unparse(node.func)]
                expr = node.args[position] if len(node.args) > position else None
            elif isinstance(node, ast.Assign) and any(ast.unparse(t) in names for t in node.targets):
                expr = node.value
            template = None if expr is None else _template(expr)
            if template is not None:
                found.add((path.name, node.lineno, template))
    return found


def test_every_message_the_loader_can_write_has_a_chinese_entry() -> None:
    known = {template_key(english) for english in MESSAGES}
    written = _written(MESSAGE_CALLS)
    assert len(written) > 100  # the extraction sees the loader, the checks and the expression checker
    missing = sorted(
        f"{file}:{line}: {template}" for file, line, template in written if template not in known
    )
    assert not missing, "add these to aidservice/engine/messages_zh.py MESSAGES:\n" + "\n".join(missing)


def test_every_phrase_naming_what_is_wrong_has_a_chinese_entry() -> None:
    known = {template_key(english) for english in PHRASES}
    written = _written(PHRASE_CALLS, ("what", "case_what"))
    missing = sorted(
        f"{file}:{line}: {template}" for file, line, template in written if template not in known
    )
    assert not missing, "add these to aidservice/engine/messages_zh.py PHRASES:\n" + "\n".join(missing)


@pytest.mark.parametrize(
    ("english", "chinese"),
    [
        (
            "clause 'x': unknown name 'registerd_poor' in 'registerd_poor'; did you mean 'registered_poor'?",
            "条款 'x'：'registerd_poor' 中有未知的名称 'registerd_poor'；是否应为 'registered_poor'？",
        ),
        (
            "parameter 'p' basis: unknown document 'docx' (see documents.yaml); did you mean 'doc_a'?",
            "参数 'p' 的引用（basis）：未知的文件 'docx'（见 documents.yaml）；是否应为 'doc_a'？",
        ),
        (
            "program 'a' amount case 2: 'x' is not allowed in 'f(x)'",
            "项目 'a' 的第 2 个金额情形：'f(x)' 中：不允许 'x'",
        ),
        (
            "program 'p': 'stage == 1' is bool, expected money",
            "项目 'p'：'stage == 1' 的类型是 布尔，应为 金额",
        ),
        (
            "duplicate derived value id 'line' (first at a.yaml:3)",
            "重复的派生值标识 'line'（首次出现在 a.yaml:3）",
        ),
        ("something the catalogue has never seen", "something the catalogue has never seen"),
    ],
)
def test_messages_read_as_an_analyst_expects(english: str, chinese: str) -> None:
    assert translate(english) == chinese


def test_a_broken_rule_set_reads_in_chinese(tmp_path: Path) -> None:
    files = dict(MINI)
    files["levels.yaml"] = MINI["levels.yaml"].replace("when: orphan,", "when: orphn,")
    files["facts.yaml"] = MINI["facts.yaml"].replace("source: school}", "source: schol}", 1)
    with pytest.raises(RulesError) as caught:
        load_rules(write_rules(tmp_path, files))
    chinese = [translate(issue.message) for issue in caught.value.issues]
    assert any("未知的名称 'orphn'" in line and "是否应为 'orphan'？" in line for line in chinese), chinese
    assert any(line.startswith("事实 'city_code'：source 须为") for line in chinese), chinese
