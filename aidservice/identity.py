"""Resident identity numbers (GB 11643-1999): validation, masking, and the keyed hash used to match them."""

from __future__ import annotations

import hmac
import re
from datetime import date

ID_TEXT_MAX = 40
"""Longest text looked at as a number (18 characters and the spaces a spreadsheet may put in); longer: refused."""
ASCII_ID = re.compile(r"[0-9]{17}[0-9X]\Z")
"""[0-9], not \\d: Arabic-Indic (٠١٢), full-width (０１２) and other Unicode digits are not ID digits."""


class InvalidIdNumber(ValueError):
    """An identity number that is not a valid 18-character resident ID; the message says why."""


def normalise_id_number(value: object, today: date | None = None) -> str:
    """The canonical form (upper-case X) of a valid number, or InvalidIdNumber naming the problem.

    Checks the format, the birth date and the check character (GB 11643). The division code is
    not checked against a list: people keep the code of where they were first registered, and a
    stale list would turn away real students. Only ASCII digits 0-9 and a final X (or x) are taken,
    checked on the text as sent: Python's int() and str.isdigit() take any Unicode digit, and
    python-stdnum quietly maps full-width digits to ASCII.
    """
    from stdnum.cn import ric  # 70 ms to import (division list): only where numbers are validated
    from stdnum.exceptions import ValidationError

    if not isinstance(value, str):
        raise InvalidIdNumber("must be an 18-character resident identity number")
    text = value.strip()
    if len(text) > ID_TEXT_MAX:
        raise InvalidIdNumber("must have 18 characters")
    if not text.isascii():
        raise InvalidIdNumber("must be written with the ASCII digits 0-9 and X only "
                              "(not full-width, Arabic-Indic or other digits)")
    number = ric.compact(text)
    if len(number) != 18:
        raise InvalidIdNumber("must have 18 characters")
    if not ASCII_ID.match(number):
        raise InvalidIdNumber("must be 17 digits followed by a digit or X")
    try:
        birth = ric.get_birth_date(number)
    except ValidationError:
        raise InvalidIdNumber("birth date is not a valid date") from None
    if birth > (today or date.today()) or birth.year < 1900:
        raise InvalidIdNumber("birth date is not plausible")
    if ric.calc_check_digit(number) != number[17]:
        raise InvalidIdNumber("check character does not match (GB 11643 MOD 11-2)")
    return number


def mask(number: str) -> str:
    """First 6 and last 4 characters; what lists, notices, logs and exports show."""
    if len(number) < 10:
        return "*" * len(number)
    return number[:6] + "*" * (len(number) - 10) + number[-4:]


def id_hmac(key: str | bytes, number: str) -> str:
    """Keyed hash for matching across agencies: without the key, a table of hashes reveals nothing."""
    secret = key.encode() if isinstance(key, str) else key
    return hmac.digest(secret, number.encode("ascii"), "sha256").hex()  # one-shot: 10x faster than hmac.new
