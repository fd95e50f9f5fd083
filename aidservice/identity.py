"""Resident identity numbers (GB 11643-1999): validation, masking, and the keyed hash used to match them."""

from __future__ import annotations

import hashlib
import hmac

from stdnum.cn import ric
from stdnum.exceptions import InvalidChecksum, InvalidComponent, InvalidFormat, InvalidLength, ValidationError


class InvalidIdNumber(ValueError):
    """An identity number that is not a valid 18-character resident ID; the message says why."""


def normalise_id_number(value: object) -> str:
    """The canonical form (upper-case X) of a valid number, or InvalidIdNumber naming the problem."""
    if not isinstance(value, str):
        raise InvalidIdNumber("must be an 18-character resident identity number")
    number = ric.compact(value)
    if len(number) != 18:
        raise InvalidIdNumber("must have 18 characters")
    try:
        return ric.validate(number)
    except InvalidChecksum:
        raise InvalidIdNumber("check character does not match (GB 11643 MOD 11-2)") from None
    except InvalidComponent:
        raise InvalidIdNumber("birth date is not a valid date") from None
    except (InvalidFormat, InvalidLength):
        raise InvalidIdNumber("must be 17 digits followed by a digit or X") from None
    except ValidationError as exc:  # pragma: no cover - any other stdnum complaint
        raise InvalidIdNumber(str(exc)) from None


def mask(number: str) -> str:
    """First 6 and last 4 characters; what lists, notices, logs and exports show."""
    if len(number) < 10:
        return "*" * len(number)
    return number[:6] + "*" * (len(number) - 10) + number[-4:]


def id_hmac(key: str | bytes, number: str) -> str:
    """Keyed hash for matching across agencies: without the key, a table of hashes reveals nothing."""
    secret = key.encode() if isinstance(key, str) else key
    return hmac.new(secret, number.encode("ascii"), hashlib.sha256).hexdigest()
