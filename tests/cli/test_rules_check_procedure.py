"""`aid rules check` on the procedure section: a quota order without special groups first is refused, why in
Chinese (English with --lang en), with its file and line."""

from __future__ import annotations

from pathlib import Path

import pytest
from flask import Flask

ORDER = "value: [special_group, level, per_capita_income, applied_at]"


def _demote_special_groups(rules_copy: Path) -> int:
    path = rules_copy / "procedure.yaml"
    text = path.read_text(encoding="utf-8")
    assert ORDER in text
    path.write_text(
        text.replace(ORDER, "value: [level, special_group, per_capita_income, applied_at]"), encoding="utf-8"
    )
    return next(i for i, line in enumerate(text.splitlines(), 1) if ORDER in line)


@pytest.mark.parametrize(
    ("lang", "reason"),
    [
        ("zh", "special_group（特殊群体）必须排在第一位：应助尽助"),
        ("en", "'special_group' must come first: special-group students are funded first"),
    ],
)
def test_special_groups_not_first_is_refused_saying_why(
    app: Flask, rules_copy: Path, lang: str, reason: str
) -> None:
    line = _demote_special_groups(rules_copy)
    result = app.test_cli_runner().invoke(
        args=["aid", "rules", "check", "--rules", str(rules_copy), "--lang", lang]
    )
    assert result.exit_code == 1
    where = f"rules/procedure.yaml:{line}: procedure.quota_order"
    assert any(out.startswith(where) and reason in out for out in result.output.splitlines()), result.output
