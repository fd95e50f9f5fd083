"""Plain text a person typed: names are one line without hidden controls; notes may break lines.

A name (a student's, a guardian's, a school's, an agency record's person, an agency client's, a county's) is
shown in lists, notices, reports, CSV and XLSX files and audit summaries. A bidirectional control (U+202A-U+202E,
U+2066-U+2069, U+200E, U+200F, U+061C) makes it display as something else than it is (`张三<U+202E>...` reverses
what follows, in the name and in the cells after it); a line break (CR, LF, U+0085, U+2028, U+2029) splits a
list row, a CSV record or a log line in two; other control characters (C0, DEL, C1) have no place in a name
either. Such names are refused, naming the field, never silently cleaned: the sender finds the bad record.

An officer's note (an application action's reason) may keep line breaks (CR, LF) and tabs, but no bidirectional
control and no other control character.
"""

from __future__ import annotations

import re
from typing import Any

from marshmallow import ValidationError, fields

BIDI_CONTROLS = "\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069"
"""Arabic letter mark, LRM, RLM, the embeddings and overrides (LRE RLE PDF LRO RLO), the isolates (LRI RLI FSI PDI)."""
NOT_IN_NAME = re.compile(f"[\x00-\x1f\x7f-\x9f\u2028\u2029{BIDI_CONTROLS}]")
"""C0 controls (TAB, LF, CR among them), DEL, C1 controls (NEL U+0085 among them), line and paragraph separators,
bidirectional controls."""
NOT_IN_NOTE = re.compile(f"[\x00-\x08\x0b-\x0c\x0e-\x1f\x7f-\x9f\u2028\u2029{BIDI_CONTROLS}]")
"""The same, less TAB, LF and CR."""
NAME_MESSAGE = (
    "must be one line of plain text: no line break, control character or bidirectional control "
    "(U+202A-U+202E, U+2066-U+2069, U+200E, U+200F, U+061C)"
)
NOTE_MESSAGE = (
    "must not contain a bidirectional control (U+202A-U+202E, U+2066-U+2069, U+200E, U+200F, U+061C) "
    "or a control character other than a line break or tab"
)


def name_problem(value: str) -> str | None:
    """Why this name is refused, or None when it is one line of plain text."""
    return NAME_MESSAGE if NOT_IN_NAME.search(value) else None


def note_problem(value: str, limit: int) -> str | None:
    """Why this note is refused (over `limit` characters, a hidden control), or None: line breaks are kept."""
    if len(value) > limit:
        return f"at most {limit} characters"
    return NOTE_MESSAGE if NOT_IN_NOTE.search(value) else None


class Text(fields.String):
    """A string with surrounding whitespace removed; never U+0000 (PostgreSQL cannot store it; imports read files)."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        text = super()._deserialize(value, attr, data, **kwargs).strip()
        if "\x00" in text:
            raise ValidationError("must not contain the character U+0000")
        return text


class Line(Text):
    """A name or a short label: `Text` that is one line of plain text (see `name_problem`)."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        text = super()._deserialize(value, attr, data, **kwargs)
        problem = name_problem(text)
        if problem:
            raise ValidationError(problem)
        return text
