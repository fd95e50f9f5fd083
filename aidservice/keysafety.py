"""Is a key safe for production, and does it match the database: strength estimates and key fingerprints.

Strength (production refuses a weak key at start, config.ProductionConfig). A text secret (SECRET_KEY,
AID_ID_HMAC_KEY) is credited `length × log2(alphabet)` bits, where the alphabet is the smallest of hex (16),
base64/base64url (64) and printable ASCII (95) holding every character; it must reach 256 bits (64 hex
characters, 43 base64 characters, 39 other characters), hold at least 10 distinct characters and not be one
short piece repeated. This is an estimate that refuses the obvious mistakes (a word, a short token, `aaaa…`,
`abcabc…`); a key from `secrets.token_hex(32)` always passes. An AES key (32 bytes) is refused when it is one
repeated byte (all zero included) or has fewer than 16 distinct bytes, which 32 random bytes practically never do.

Fingerprints (the database records which keys its data was written with, services/accounts/keyprints.py): the
fingerprint of a key is HMAC-SHA256 under that key of a fixed label naming its kind and id: it tells "same key or
not" and nothing else. It is never the key and never a plain hash of it (the same key under two kinds or ids gives
unrelated fingerprints), and fingerprints are compared in constant time.

Stdlib only: config.py imports this module.
"""

from __future__ import annotations

import hmac
import math
import string

MIN_SECRET_BITS = 256
MIN_SECRET_DISTINCT = 10
MIN_AES_DISTINCT = 16
HEX = frozenset(string.hexdigits)
BASE64 = frozenset(string.ascii_letters + string.digits + "+/=-_")
FINGERPRINT_LABEL = "aidservice:key-fingerprint:v1"
HMAC_KIND = "hmac"
AES_KIND = "aes"


class KeysMismatch(RuntimeError):
    """A configured key is not the one the database's data was written with; the message names the variable."""

    def __init__(self, variable: str, message: str) -> None:
        self.variable = variable
        super().__init__(message)


def estimated_bits(value: str) -> float:
    """Bits of entropy credited to a text secret: its length times log2 of the smallest alphabet that holds it."""
    chars = set(value)
    alphabet = 16 if chars <= HEX else 64 if chars <= BASE64 else 95
    return len(value) * math.log2(alphabet)


def _repeats_a_piece(value: str) -> bool:
    """True when `value` is a shorter piece repeated (abcabc); the classic rotation test."""
    return len(value) > 1 and value in (value + value)[1:-1]


def weak_secret(variable: str, value: str) -> str | None:
    """Why a text secret is too weak for production (one line naming the variable), or None when it is not."""
    advice = 'e.g. python3 -c "import secrets; print(secrets.token_hex(32))"'
    bits = estimated_bits(value)
    if bits < MIN_SECRET_BITS:
        return (
            f"{variable} is too weak for production: about {bits:.0f} bits, at least {MIN_SECRET_BITS} needed "
            f"(64 hex characters; {advice})"
        )
    if len(set(value)) < MIN_SECRET_DISTINCT or _repeats_a_piece(value):
        return f"{variable} is too regular for production (repeated characters or a repeated piece; {advice})"
    return None


def weak_aes_key(key_id: str, key: bytes) -> str | None:
    """Why an AES key of AID_ID_KEYS is unsafe (one line naming the variable and the key id), or None."""
    advice = "generate one with: flask --app wsgi aid keys generate"
    if len(set(key)) <= 1:
        return f"AID_ID_KEYS key {key_id!r} is one repeated byte (all zero or alike): not a key; {advice}"
    if len(set(key)) < MIN_AES_DISTINCT:
        return f"AID_ID_KEYS key {key_id!r} has only {len(set(key))} distinct bytes: not random; {advice}"
    return None


def fingerprint(kind: str, key_id: str, key: str | bytes) -> str:
    """HMAC-SHA256 under `key` of a label naming the key's kind and id, in hex; never the key, never its plain hash."""
    secret = key.encode() if isinstance(key, str) else key
    return hmac.digest(secret, f"{FINGERPRINT_LABEL}:{kind}:{key_id}".encode(), "sha256").hex()


def same_fingerprint(recorded: str, computed: str) -> bool:
    """Constant-time comparison of two fingerprints."""
    return hmac.compare_digest(recorded.encode(), computed.encode())
