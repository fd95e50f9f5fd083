"""Where a rule item was written: the `file:line` every loader message and explanation names."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Where:
    """Where a rule item was written, for error messages and explanations."""

    file: str
    line: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}"
