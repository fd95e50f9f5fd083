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
        raise InvalidIdNumber(
            "must be written with the ASCII digits 0-9 and X only "
            "(not full-width, Arabic-Indic or other digits)"
        )
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


MASK_KEEP_HEAD = 6
"""The division code (where the person was first registered): reports group by it."""
MASK_KEEP_TAIL = 1
"""The check character: with the head alone a list cannot tell two people of one county apart at a glance."""


def mask(number: str) -> str:
    """Region code and check character (320102***********1); what lists, notices, logs and exports show.

    Hidden: the birth date (8 digits) and the sequence (3 digits). The check character is a function of the
    other 17, so it rules out 10 of every 11 guesses: someone who knows the student's grade (the birth year
    within about two years: ~730 dates) still faces ~730 x 1000 / 11 = ~66,000 numbers (~33,000 knowing the
    sex, the sequence's parity), against ~130 when the last four were shown (sequence and check known, the
    birth date the only unknown). Masks of another shape (too short to be a number) are all stars.
    """
    if len(number) < MASK_KEEP_HEAD + MASK_KEEP_TAIL + 4:
        return "*" * len(number)
    return (
        number[:MASK_KEEP_HEAD]
        + "*" * (len(number) - MASK_KEEP_HEAD - MASK_KEEP_TAIL)
        + number[-MASK_KEEP_TAIL:]
    )


def id_hmac(key: str | bytes, number: str) -> str:
    """Keyed hash for matching across agencies: without the key, a table of hashes reveals nothing."""
    secret = key.encode() if isinstance(key, str) else key
    return hmac.digest(secret, number.encode("ascii"), "sha256").hex()  # one-shot: 10x faster than hmac.new


def birth_date(number: str) -> date:
    """The birth date a normalised ID number carries (its 7th to 14th characters). Never log or show it."""
    return date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
