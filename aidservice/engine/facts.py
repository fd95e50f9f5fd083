"""Check and normalise raw facts (JSON or text) into the engine's internal values.

Numbers are bounded on their text before any exact work (aidservice.engine.numbers): a huge exponent or a
5,000-digit integer is refused in microseconds, and money never exceeds `numbers.MONEY_MAX` whatever the rules say.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from fractions import Fraction

from .model import FactSpec
from .numbers import CEILINGS, NumberRefused, bounded_decimal, bounded_int
from .suggest import did_you_mean

TRUE_TEXT = frozenset({"true", "1", "yes", "y", "t", "是"})
FALSE_TEXT = frozenset({"false", "0", "no", "n", "f", "否", ""})


class FactsError(ValueError):
    """Facts that cannot be evaluated; `errors` maps each fact name to its problems."""

    def __init__(self, errors: dict[str, list[str]]) -> None:
        self.errors = errors
        super().__init__("; ".join(f"{k}: {', '.join(v)}" for k, v in errors.items()))


class _Bad(ValueError):
    pass


def normalise(
    catalogue: Mapping[str, FactSpec], raw: Mapping[str, object], *, text: bool = False
) -> dict[str, object]:
    """Every catalogue fact with its internal value (bool, int, str or None); raise FactsError listing all problems.

    With `text=True` values may be strings as read from CSV ("true", "1250.00", "").
    """
    errors: dict[str, list[str]] = {}
    for name in raw:
        if name not in catalogue:
            errors[str(name)] = ["unknown fact" + did_you_mean(str(name), catalogue)]
    out: dict[str, object] = {}
    for name, spec in catalogue.items():
        value = raw.get(name)
        if text and isinstance(value, str) and value.strip() == "" and spec.type != "bool":
            value = None
        if value is None:
            if spec.required:
                errors[name] = ["is required"]
            out[name] = spec.default
            continue
        try:
            out[name] = convert(spec, value, text=text)
        except _Bad as exc:
            errors[name] = [str(exc)]
    if errors:
        raise FactsError(errors)
    return out


def convert(spec: FactSpec, value: object, *, text: bool = False) -> object:
    """One fact value to its internal form, or raise _Bad with the reason."""
    if spec.type == "bool":
        return _bool(value, text)
    if spec.type == "enum":
        return _enum(spec, value)
    if spec.type == "int":
        number = _int(value, text)
        _bounds(spec, Fraction(number))
        return number
    exact = _decimal(value, text)
    exponent = exact.as_tuple().exponent  # an int: _decimal refuses NaN and infinities
    if (
        isinstance(exponent, int)
        and exponent < -spec.decimals
        and exact != exact.quantize(Decimal(1).scaleb(-spec.decimals))
    ):
        unit = "two decimal places (fen)" if spec.type == "money" else f"{spec.decimals} decimal places"
        raise _Bad(f"has more than {unit}")
    _bounds(spec, Fraction(exact))
    return int(exact.scaleb(spec.decimals))


def _bool(value: object, text: bool) -> bool:
    if isinstance(value, bool):
        return value
    if text and isinstance(value, str):
        lowered = value.strip().lower()
        if lowered in TRUE_TEXT:
            return True
        if lowered in FALSE_TEXT:
            return False
    raise _Bad("must be true or false")


def _enum(spec: FactSpec, value: object) -> str:
    if isinstance(value, bool):
        raise _Bad(f"must be one of {', '.join(spec.values)}")
    if isinstance(value, int):
        value = str(value)
    if not isinstance(value, str) or value.strip() not in spec.values:
        shown = ", ".join(spec.values) if len(spec.values) <= 13 else f"{spec.values[0]} … {spec.values[-1]}"
        raise _Bad(f"{value!r} is not one of {shown}")
    return value.strip()


def _int(value: object, text: bool) -> int:
    """An integer fact: a JSON integer (or integral float), or a text of one in text mode; bounded first."""
    try:
        return bounded_int(value, text=text)
    except NumberRefused as exc:
        raise _Bad(str(exc)) from None


def _decimal(value: object, text: bool) -> Decimal:
    """A number fact as a finite Decimal of bounded size (its text checked before it is parsed)."""
    try:
        return bounded_decimal(value)
    except NumberRefused as exc:
        raise _Bad(str(exc)) from None


def _bounds(spec: FactSpec, value: Fraction) -> None:
    ceiling = CEILINGS.get(spec.type)
    high = (
        spec.max if ceiling is None or (spec.max is not None and spec.max <= ceiling) else Fraction(ceiling)
    )
    if spec.min is not None and value < spec.min:
        raise _Bad(f"must be at least {show_bound(spec.min)}")
    if high is not None and value > high:
        raise _Bad(f"must be at most {show_bound(high)}")


def show_bound(value: Fraction) -> str:
    """A bound as the rules wrote it: an integer, or its exact decimal."""
    return (
        str(value.numerator)
        if value.denominator == 1
        else str(Decimal(value.numerator) / Decimal(value.denominator))
    )


def to_json(spec: FactSpec, value: object) -> object:
    """Internal value back to its JSON form: money as "1250.00", numbers as strings, others as is."""
    if value is None or not spec.numeric or spec.type == "int" or isinstance(value, str):
        return value
    return str(Decimal(value).scaleb(-spec.decimals))  # type: ignore[arg-type]
