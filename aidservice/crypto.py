"""Identity numbers at rest: AES-256-GCM under a keyring of named keys, so keys can rotate.

A stored number is `nonce (12 bytes) || ciphertext || tag` plus the id of the key that sealed it. The
associated data binds the ciphertext to the row kind (student or guardian), its key id and the row's keyed
hash, so a ciphertext moved to another row, table or key id no longer opens. Lookups never decrypt: they go
through the keyed hash (`identity.id_hmac`); only an authorised, audited read opens a number.
"""

from __future__ import annotations

import base64
import binascii
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from aidservice.identity import id_hmac, mask

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

Kind = Literal["student", "guardian"]
KINDS: tuple[Kind, ...] = ("student", "guardian")
NONCE_BYTES = 12
KEY_BYTES = 32
KEY_ID = re.compile(r"^[A-Za-z0-9_-]{1,16}$")
DEV_KEY_ID = "dev"
DEV_KEY = base64.b64encode(b"dev-only-insecure-id-key-32bytes").decode()  # development/testing only


class KeyringError(ValueError):
    """AID_ID_KEYS / AID_ID_KEY_CURRENT do not describe a usable keyring; the message says which part."""


class CannotOpen(RuntimeError):
    """A stored number did not decrypt: unknown key id, wrong key, or a ciphertext altered or moved."""


def parse_keys(text: str, current: str = "") -> tuple[dict[str, bytes], str]:
    """`kid1:base64key,kid2:base64key` and the current key id (default: the only or the last key listed)."""
    keys: dict[str, bytes] = {}
    for part in text.split(","):
        item = part.strip()
        if not item:
            continue
        kid, sep, encoded = item.partition(":")
        kid = kid.strip()
        if not sep or not KEY_ID.fullmatch(kid):
            raise KeyringError(
                "AID_ID_KEYS must be comma-separated kid:base64key (kid: 1-16 of A-Z a-z 0-9 _ -)"
            )
        if kid in keys:
            raise KeyringError(f"AID_ID_KEYS lists key id {kid!r} twice")
        try:
            key = base64.b64decode(encoded.strip(), validate=True)
        except (binascii.Error, ValueError):
            raise KeyringError(f"AID_ID_KEYS: key {kid!r} is not valid base64") from None
        if len(key) != KEY_BYTES:
            raise KeyringError(
                f"AID_ID_KEYS: key {kid!r} must be {KEY_BYTES} bytes (AES-256), got {len(key)}"
            )
        keys[kid] = key
    if not keys:
        raise KeyringError("AID_ID_KEYS holds no key")
    chosen = current.strip() or list(keys)[-1]
    if chosen not in keys:
        raise KeyringError(f"AID_ID_KEY_CURRENT {chosen!r} is not one of the ids in AID_ID_KEYS")
    return keys, chosen


def generate_key_line(kid: str) -> str:
    """A fresh `kid:base64key` entry for AID_ID_KEYS (32 random bytes from the OS)."""
    if not KEY_ID.fullmatch(kid):
        raise KeyringError("a key id is 1-16 of A-Z a-z 0-9 _ -")
    return f"{kid}:{base64.b64encode(os.urandom(KEY_BYTES)).decode()}"


def _aad(kind: Kind, key_id: str, hmac: str) -> bytes:
    if kind not in KINDS:
        raise ValueError(f"unknown identity row kind {kind!r}")
    return f"aidservice:id_number:v1:{kind}:{key_id}:{hmac}".encode("ascii")


def _blob_aad(purpose: str, key_id: str) -> bytes:
    return f"aidservice:blob:v1:{purpose}:{key_id}".encode()


@dataclass(frozen=True)
class IdVault:
    """The keys identity numbers are sealed and matched with; built once per app from its config."""

    keys: Mapping[str, bytes]
    current: str
    hmac_key: str
    _ciphers: dict[str, AESGCM] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # imported here, not at the top: config.py imports this module and must stay light
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        if self.current not in self.keys:
            raise KeyringError(f"current key id {self.current!r} is not in the keyring")
        object.__setattr__(self, "_ciphers", {kid: AESGCM(key) for kid, key in self.keys.items()})

    def __repr__(self) -> str:  # never print key material
        return f"IdVault(keys={sorted(self.keys)}, current={self.current!r})"

    def hmac(self, number: str) -> str:
        """The keyed hash a number is matched by."""
        return id_hmac(self.hmac_key, number)

    def seal(self, kind: Kind, number: str, hmac: str | None = None) -> dict[str, Any]:
        """The stored columns of a (validated) number: id_cipher, id_key_id, id_hmac and id_mask.

        The one function every writer uses (ORM rows, bulk inserts, COPY loaders)."""
        digest = hmac if hmac is not None else self.hmac(number)
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._ciphers[self.current].encrypt(
            nonce, number.encode("ascii"), _aad(kind, self.current, digest)
        )
        columns: dict[str, Any] = {
            "id_cipher": nonce + sealed,
            "id_key_id": self.current,
            "id_hmac": digest,
            "id_mask": mask(number),
        }
        if kind == "student":  # the roster's search by the last digits (services/lists/search.py)
            columns.update(self.tails(number))
        return columns

    def tail_digest(self, digits: str) -> str:
        """Keyed digest of a number's last 4 or 6 characters: equal tails match, the digits are not stored."""
        return id_hmac(self.hmac_key, f"aidservice:id-tail:{len(digits)}:{digits.upper()}")[:TAIL_DIGEST_HEX]

    def tails(self, number: str) -> dict[str, str]:
        """The stored tail digests of a student's number: id_tail4 and id_tail6."""
        return {f"id_tail{n}": self.tail_digest(number[-n:]) for n in TAIL_LENGTHS}

    def open(self, kind: Kind, *, cipher: bytes, key_id: str, hmac: str) -> str:
        """The plain number of a stored row; CannotOpen when the key is missing or anything was altered."""
        from cryptography.exceptions import InvalidTag

        aes = self._ciphers.get(key_id)
        if aes is None:
            raise CannotOpen(f"key id {key_id!r} is not in the keyring (AID_ID_KEYS)")
        data = bytes(cipher)
        if len(data) <= NONCE_BYTES:
            raise CannotOpen("stored ciphertext is truncated")
        try:
            plain = aes.decrypt(data[:NONCE_BYTES], data[NONCE_BYTES:], _aad(kind, key_id, hmac))
        except InvalidTag:
            raise CannotOpen(f"stored {kind} number does not authenticate under key {key_id!r}") from None
        return plain.decode("ascii")

    def seal_blob(self, purpose: str, data: bytes) -> bytes:
        """An opaque sealed copy of a file that holds identity numbers (a queued upload): key id, nonce, ciphertext."""
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._ciphers[self.current].encrypt(nonce, data, _blob_aad(purpose, self.current))
        return self.current.encode("ascii") + b"$" + nonce + sealed

    def open_blob(self, purpose: str, blob: bytes) -> bytes:
        """The plain bytes of `seal_blob`; CannotOpen when its key is gone or anything was altered."""
        from cryptography.exceptions import InvalidTag

        kid, sep, rest = bytes(blob).partition(b"$")
        aes = self._ciphers.get(kid.decode("ascii", "replace")) if sep else None
        if aes is None or len(rest) <= NONCE_BYTES:
            raise CannotOpen(
                "the sealed file's key is not in the keyring (AID_ID_KEYS) or the file is truncated"
            )
        try:
            return aes.decrypt(
                rest[:NONCE_BYTES], rest[NONCE_BYTES:], _blob_aad(purpose, kid.decode("ascii"))
            )
        except InvalidTag:
            raise CannotOpen(f"sealed {purpose} does not authenticate") from None

    def open_row(self, kind: Kind, row: Any) -> str:
        """`open` for a row (model instance or result row) with id_cipher, id_key_id and id_hmac."""
        return self.open(kind, cipher=row.id_cipher, key_id=row.id_key_id, hmac=row.id_hmac)


TAIL_LENGTHS = (4, 6)
TAIL_DIGEST_HEX = 32
"""128 bits of the keyed hash: equality only; without the HMAC key the 10^4 or 10^6 tails cannot be tried."""

SEALED_COLUMNS = ("id_cipher", "id_key_id", "id_hmac", "id_mask")
"""The stored columns of a number, in the order COPY loaders list them."""


def vault_from_config(config: Mapping[str, Any] | object) -> IdVault:
    """The vault of an app's config mapping or a config object (AID_ID_KEYS, AID_ID_KEY_CURRENT, AID_ID_HMAC_KEY)."""
    if not isinstance(config, Mapping):
        config = vars(config)
    return IdVault(
        keys=config["AID_ID_KEYS"], current=config["AID_ID_KEY_CURRENT"], hmac_key=config["AID_ID_HMAC_KEY"]
    )
