"""Numbers bounded on their text before they are made exact: every number from outside (JSON, forms, CSV and
spreadsheet cells) passes `bounded_decimal` or `bounded_int` before any Decimal, Fraction or int arithmetic.

A Decimal is cheap to build from a short text but ruinous to use with a huge exponent (`Fraction(Decimal(
"1e100000000"))` computes a 100-million-digit integer), and `int()` of a long digit string is quadratic (and
refused past 4,300 digits). So, in this order: a bool is not a number; a float must be finite; an int must fit
in `MAX_BITS` (an integer fact: under `INTEGER_LIMIT`); a text may hold at most `MAX_TEXT` characters and an exponent of at most `MAX_EXPONENT_DIGITS`
digits; only then is it parsed, and it must have fewer than `MAX_INTEGER_DIGITS` digits before the point and at most
`MAX_FRACTION_DIGITS` after it. Each refusal raises
`NumberRefused` (a ValueError) with a message for the field; callers name the field. Realistic ranges per field
(money, household size, ranks, grades) are the rules' `min`/`max` and `ceiling` below, applied by the caller.
"""

from __future__ import annotations

import math
import re
from decimal import Decimal, InvalidOperation

MAX_TEXT = 40
"""Characters in a number's text, sign and spaces included: 10,000,000.00 needs 11."""
MAX_EXPONENT_DIGITS = 2
MAX_BITS = 64
MAX_INTEGER_DIGITS = 15
"""Digits before the point: no number from outside is 10**15 or more (fields have far smaller bounds)."""
MAX_FRACTION_DIGITS = 20
INTEGER_LIMIT = 10**MAX_INTEGER_DIGITS
MONEY_MAX = Decimal("10000000.00")
"""The largest amount in yuan any money fact or field takes (incomes, fees)."""
CEILINGS = {"money": MONEY_MAX}
"""Upper bounds by fact type, applied beside (below) the rules' own `max`."""
EXPONENT = re.compile(r"[eE][+-]?0*(\d+)")


class NumberRefused(ValueError):
    """A number that is not one, not finite, or too long or large to be a realistic value."""


def bounded_decimal(value: object) -> Decimal:
    """A finite Decimal of bounded size from a JSON number, a Decimal or a text (int, float, str, Decimal)."""
    if isinstance(value, bool):
        raise NumberRefused("must be a number")
    if isinstance(value, float):
        if not math.isfinite(value):
            raise NumberRefused("must be a finite number")
        return _bounded(Decimal(repr(value)))
    if isinstance(value, int):
        if value.bit_length() > MAX_BITS:
            raise NumberRefused("is too large")
        return _bounded(Decimal(value))
    if isinstance(value, Decimal):
        return _bounded(value)
    if isinstance(value, str):
        return _bounded(_parse(value))
    raise NumberRefused("must be a number")


def bounded_int(value: object, *, text: bool = True) -> int:
    """An integer of bounded size from a JSON integer (or an integral float), or from a text when `text`."""
    if isinstance(value, bool) or (isinstance(value, str) and not text):
        raise NumberRefused("must be an integer")
    if isinstance(value, float):
        if not math.isfinite(value):
            raise NumberRefused("must be a finite number")
        if not value.is_integer():
            raise NumberRefused("must be an integer")
    elif isinstance(value, str):
        value = _parse_int(value)
    elif not isinstance(value, int):
        raise NumberRefused("must be an integer")
    if abs(value) >= INTEGER_LIMIT:
        raise NumberRefused("is too large")
    return int(value)


def _parse_int(text: str) -> int:
    """A short text of an integer; its length checked before int() sees it."""
    stripped = text.strip()
    if len(stripped) > MAX_TEXT:
        raise NumberRefused(f"is too long for a number (at most {MAX_TEXT} characters)")
    try:
        return int(stripped)
    except ValueError:
        raise NumberRefused("must be an integer") from None


def _parse(text: str) -> Decimal:
    """A short text with a small exponent as a Decimal; checked on the text before Decimal sees it."""
    stripped = text.strip()
    if len(stripped) > MAX_TEXT:
        raise NumberRefused(f"is too long for a number (at most {MAX_TEXT} characters)")
    exponent = EXPONENT.search(stripped)
    if exponent is not None and len(exponent.group(1)) > MAX_EXPONENT_DIGITS:
        raise NumberRefused("is too large")
    try:
        exact = Decimal(stripped)
    except InvalidOperation:
        raise NumberRefused("must be a number") from None
    if not exact.is_finite():
        raise NumberRefused("must be a finite number")
    return exact


def _bounded(exact: Decimal) -> Decimal:
    """The Decimal if finite and of bounded size (cheap checks on its exponent: no arithmetic)."""
    if not exact.is_finite():
        raise NumberRefused("must be a finite number")
    if exact.is_zero():
        return exact
    if exact.adjusted() >= MAX_INTEGER_DIGITS:
        raise NumberRefused("is too large")
    if int(exact.as_tuple().exponent) < -MAX_FRACTION_DIGITS:
        raise NumberRefused("has too many decimal places")
    return exact
