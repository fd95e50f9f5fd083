"""Read YAML keeping line numbers, so every rules error can name file:line."""

from __future__ import annotations

from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import yaml

from .messages_zh import translate

try:  # the C loader composes ~10x faster; the pure one is identical in result
    _Loader: Any = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - depends on how PyYAML was built
    _Loader = yaml.SafeLoader


class RuleIssue(Exception):
    """One problem in a rules file: where and what."""

    def __init__(self, file: str, line: int, message: str, *, zh: str = "") -> None:
        super().__init__(f"{file}:{line}: {message}")
        self.file = file
        self.line = line
        self.message = message
        self.zh = zh  # the reason in Chinese, where the check gives one (`aid rules check` shows it)

    def text(self, lang: str = "en") -> str:
        """`file:line: reason`; in Chinese when asked: the check's own text, else the catalogue's (messages_zh)."""
        if lang != "zh":
            return f"{self.file}:{self.line}: {self.message}"
        return f"{self.file}:{self.line}: {self.zh or translate(self.message)}"


class YMap(dict[str, Any]):
    """A YAML mapping that remembers its own line and the line of each key."""

    file: str
    line: int
    key_lines: dict[str, int]


class YList(list[Any]):
    """A YAML sequence that remembers its own line and the line of each item."""

    file: str
    line: int
    item_lines: list[int]


_INT = "tag:yaml.org,2002:int"
_FLOAT = "tag:yaml.org,2002:float"
_BOOL = "tag:yaml.org,2002:bool"
_NULL = "tag:yaml.org,2002:null"
_TIMESTAMP = "tag:yaml.org,2002:timestamp"
_STR = "tag:yaml.org,2002:str"


def load_file(path: Path, display: str) -> Any:
    """Parse one YAML file into YMap/YList/scalars; decimals stay exact, dates become `date`."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise RuleIssue(display, 1, f"not UTF-8 text: {exc.reason}") from None
    return load_text(text, display)


def load_text(text: str, display: str) -> Any:
    """Parse YAML text (see load_file)."""
    try:
        node = yaml.compose(text, Loader=_Loader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 1
        raise RuleIssue(display, line, f"YAML syntax error: {exc.problem or exc}") from None
    except yaml.reader.ReaderError as exc:  # a character YAML does not allow (a control character, say)
        line = text.count("\n", 0, max(exc.position, 0)) + 1
        code = exc.character if isinstance(exc.character, int) else ord(str(exc.character)[:1] or "\0")
        raise RuleIssue(display, line, f"YAML syntax error: character U+{code:04X} is not allowed") from None
    if node is None:
        return YMap()
    return _convert(node, display)


def _convert(node: yaml.Node, file: str) -> Any:
    line = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        out = YMap()
        out.file, out.line, out.key_lines = file, line, {}
        for key_node, value_node in node.value:
            key = _convert(key_node, file)
            if isinstance(key, date | bool) or key is None:
                key = key_node.value  # dates and codes used as keys are handled by the caller
            key = str(key) if not isinstance(key, str) else key
            if key in out:
                raise RuleIssue(file, key_node.start_mark.line + 1, f"duplicate key '{key}'")
            out[key] = _convert(value_node, file)
            out.key_lines[key] = key_node.start_mark.line + 1
        return out
    if isinstance(node, yaml.SequenceNode):
        seq = YList(_convert(item, file) for item in node.value)
        seq.file, seq.line = file, line
        seq.item_lines = [item.start_mark.line + 1 for item in node.value]
        return seq
    assert isinstance(node, yaml.ScalarNode)  # the composer makes only mappings, sequences and scalars
    return _scalar(node, file, line)


def _scalar(node: yaml.ScalarNode, file: str, line: int) -> Any:
    tag, text = node.tag, node.value
    if node.style in ("'", '"') or tag == _STR:
        return text
    if tag == _NULL:
        return None
    if tag == _BOOL:
        return text.lower() in ("true", "yes", "on")
    if tag == _INT:
        try:
            return int(text.replace("_", ""), 0)
        except ValueError:
            raise RuleIssue(file, line, f"not an integer: {text!r}") from None
    if tag == _FLOAT:
        try:
            return Decimal(text.replace("_", ""))
        except InvalidOperation:
            raise RuleIssue(file, line, f"not a number: {text!r}") from None
    if tag == _TIMESTAMP:
        try:
            return date.fromisoformat(text)
        except ValueError:
            raise RuleIssue(file, line, f"not a date (YYYY-MM-DD): {text!r}") from None
    return text
