"""Keys match the data: the database records the fingerprint of the HMAC key and of each AES key id it holds data
under, and a process whose keys differ is refused (it would otherwise match nothing and open nothing).

`ensure_keys` is what every start runs (aidservice/keycheck.py):

1. every recorded fingerprint of a configured key is compared (constant time) with the configured key's: a
   difference is KeysMismatch naming the variable (AID_ID_HMAC_KEY, or AID_ID_KEYS and the key id);
2. a key id the stored numbers are sealed with but AID_ID_KEYS lacks is KeysMismatch naming it: a recorded id
   absent from the keyring is looked up in the rows (none left: its fingerprint is retired, so that scan happens
   once); when no AES fingerprint is recorded yet, the rows' distinct key ids are (once). Every key the service
   seals with is recorded before its first use, so these two cover every id its own writes can leave;
3. the fingerprints not recorded yet (a fresh database, a database from before fingerprints, a new key id added
   for rotation) are recorded, after one stored number sealed under that key id has been opened with it, and one
   stored number opened and hashed again has given its stored keyed hash (so a database that already holds
   numbers is never recorded against the wrong keys).

The caller commits; two processes recording at once meet on the primary key and the loser checks again.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, exists, select, union
from sqlalchemy.orm import Session

from aidservice.crypto import CannotOpen, IdVault, Kind
from aidservice.keysafety import AES_KIND, HMAC_KIND, KeysMismatch, fingerprint, same_fingerprint
from aidservice.models import Guardian, KeyFingerprint, Student

SEALED: tuple[tuple[Kind, Any], ...] = (("student", Student), ("guardian", Guardian))
HMAC_VARIABLE, AES_VARIABLE = "AID_ID_HMAC_KEY", "AID_ID_KEYS"


@dataclass(frozen=True, slots=True)
class KeysChecked:
    """What a check found: the fingerprints it recorded now (kind, key id), those that already matched, and the AES
    key ids retired (gone from the keyring, no row sealed under them)."""

    recorded: tuple[tuple[str, str], ...]
    matched: tuple[tuple[str, str], ...]
    retired: tuple[str, ...] = ()

    @property
    def writes(self) -> bool:
        """True when recording this check changes the table."""
        return bool(self.recorded or self.retired)


def hmac_mismatch() -> KeysMismatch:
    return KeysMismatch(
        HMAC_VARIABLE, "AID_ID_HMAC_KEY does not match the key this database's numbers were matched with"
    )


def aes_mismatch(key_id: str) -> KeysMismatch:
    return KeysMismatch(
        AES_VARIABLE,
        f"AID_ID_KEYS key {key_id!r} does not match the key this database's numbers "
        f"under {key_id!r} were sealed with",
    )


def aes_missing(key_id: str) -> KeysMismatch:
    return KeysMismatch(
        AES_VARIABLE, f"AID_ID_KEYS lacks key id {key_id!r}, which stored numbers are sealed with"
    )


def configured(vault: IdVault) -> dict[tuple[str, str], str]:
    """The fingerprints of the configured keys: the HMAC key and every key id of the keyring."""
    prints = {(HMAC_KIND, ""): fingerprint(HMAC_KIND, "", vault.hmac_key)}
    prints.update({(AES_KIND, kid): fingerprint(AES_KIND, kid, key) for kid, key in vault.keys.items()})
    return prints


def ensure_keys(session: Session, vault: IdVault, *, record: bool = True) -> KeysChecked:
    """Compare the configured keys with the recorded fingerprints and record the missing ones (the caller commits);
    with `record=False` only report them (`recorded` then lists what would be recorded; nothing is written).

    KeysMismatch (naming the variable) when a key differs or a key id the data needs is not configured."""
    recorded = {
        (row.kind, row.key_id): row.fingerprint for row in session.execute(select(KeyFingerprint)).scalars()
    }
    ours = configured(vault)
    matched = []
    for slot, computed in ours.items():
        if slot in recorded:
            if not same_fingerprint(recorded[slot], computed):
                raise hmac_mismatch() if slot[0] == HMAC_KIND else aes_mismatch(slot[1])
            matched.append(slot)
    retired = _require_used_ids(session, vault, recorded)
    missing = [slot for slot in ours if slot not in recorded]
    for kind, key_id in missing:
        _verify_against_a_stored_number(session, vault, kind, key_id)
    if record and (missing or retired):
        session.add_all(
            KeyFingerprint(kind=kind, key_id=key_id, fingerprint=ours[(kind, key_id)])
            for kind, key_id in missing
        )
        if retired:
            session.execute(
                delete(KeyFingerprint).where(
                    KeyFingerprint.kind == AES_KIND, KeyFingerprint.key_id.in_(retired)
                )
            )
        session.flush()
    return KeysChecked(recorded=tuple(missing), matched=tuple(matched), retired=tuple(retired))


def _require_used_ids(session: Session, vault: IdVault, recorded: dict[tuple[str, str], str]) -> list[str]:
    """Every key id the stored numbers are sealed with is in the keyring; returns the recorded ids that left the
    keyring with no row sealed under them any more (their fingerprints are retired, so the scan happens once)."""
    absent = [kid for kind, kid in recorded if kind == AES_KIND and kid not in vault.keys]
    for kid in absent:  # rare: a key taken out of AID_ID_KEYS; allowed once no row is sealed with it
        if any(session.scalar(select(exists().where(model.id_key_id == kid))) for _, model in SEALED):
            raise aes_missing(kid)
    if not any(kind == AES_KIND for kind, _ in recorded):  # nothing recorded yet: ask the rows (once)
        used = session.execute(union(*(select(model.id_key_id).distinct() for _, model in SEALED))).scalars()
        for kid in sorted(used):
            if kid not in vault.keys:
                raise aes_missing(kid)
    return absent


def _verify_against_a_stored_number(session: Session, vault: IdVault, kind: str, key_id: str) -> None:
    """Before recording a fingerprint: a stored number under that key opens with it (AES) and hashes to its stored
    keyed hash (HMAC). No stored number: nothing to contradict the key, it is recorded as it is."""
    for row_kind, model in SEALED:
        condition = model.id_key_id == key_id if kind == AES_KIND else model.id_key_id.in_(list(vault.keys))
        row = session.execute(
            select(model.id_cipher, model.id_key_id, model.id_hmac).where(condition).limit(1)
        ).first()
        if row is None:
            continue
        try:
            number = vault.open_row(row_kind, row)
        except CannotOpen:
            raise aes_mismatch(row.id_key_id) from None
        if kind == HMAC_KIND and not hmac.compare_digest(vault.hmac(number), row.id_hmac):
            raise hmac_mismatch()
        return
