"""The spreadsheet reader's file-level refusals read in Chinese on the import page: every refusal its source can
write has a template, and the numbers it names survive the translation."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from aidservice.services.sheets import sheet_messages

SHEETS = Path(sheet_messages.__file__).parent
REFUSALS = ("unreadable", "too_large")
HAN = re.compile(r"[\u4e00-\u9fff]")


def _text(node: ast.expr, constants: dict[str, str]) -> str | None:
    """A refusal's message with each interpolated value as 64 (a number, as the reader's bounds are)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.Name):
        return constants.get(node.id)
    if isinstance(node, ast.JoinedStr):
        return "".join(v.value if isinstance(v, ast.Constant) else "64" for v in node.values)  # type: ignore[misc]
    return None


def written_refusals() -> list[str]:
    """Every `file` message the reader's modules write: unreadable(...), too_large(...), {"file": [...]}."""
    found: list[str] = []
    for path in sorted(SHEETS.glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        constants = {
            t.id: n.value.value
            for n in ast.walk(tree)
            if isinstance(n, ast.Assign)
            and isinstance(n.value, ast.Constant)
            and isinstance(n.value.value, str)
            for t in n.targets
            if isinstance(t, ast.Name)
        }
        for node in ast.walk(tree):
            called = (
                isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in REFUSALS
            )
            if called and node.args and (text := _text(node.args[0], constants)) is not None:  # type: ignore[attr-defined]
                found.append(text)
            if isinstance(node, ast.Dict):
                for key, value in zip(node.keys, node.values, strict=True):
                    if isinstance(key, ast.Constant) and key.value == "file" and isinstance(value, ast.List):
                        found += [t for v in value.elts if (t := _text(v, constants)) is not None]
    return [m for m in found if not HAN.search(m) and m != "message"]


def test_every_refusal_the_reader_writes_has_a_chinese_template() -> None:
    refusals = written_refusals()
    assert len(refusals) > 15
    missing = [m for m in refusals if not sheet_messages.known(m)]
    assert not missing, missing
    for message in refusals:
        said = sheet_messages.chinese(message)
        assert HAN.search(said) and not re.search(r"[A-Za-z]+ [A-Za-z]+ [A-Za-z]+", said), (message, said)


def test_the_numbers_a_refusal_names_are_kept() -> None:
    assert sheet_messages.chinese("has more than 64 columns (row 3)") == "文件第 3 行超过 64 列。"
    assert "50000" in sheet_messages.chinese("has more than 50000 rows")


def test_an_unknown_message_becomes_a_general_chinese_sentence_and_chinese_stays() -> None:
    assert sheet_messages.chinese("something new went wrong") == sheet_messages.GENERAL
    assert sheet_messages.chinese("表头下没有数据行") == "表头下没有数据行"
