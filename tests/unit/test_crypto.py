"""Identity numbers at rest: the AES-GCM vault (round trip, tampering, wrong key, moved ciphertext) and its keyring."""

from __future__ import annotations

import base64

import pytest

from aidservice.crypto import (
    DEV_KEY,
    DEV_KEY_ID,
    CannotOpen,
    IdVault,
    KeyringError,
    generate_key_line,
    parse_keys,
)
from aidservice.identity import id_hmac
from config import ConfigError, DevelopmentConfig, ProductionConfig
from tests.production_keys import AES_K1, AES_K2, SECRET_KEY
from tests.production_keys import HMAC_KEY as PROD_HMAC_KEY
from tests.world.factories import HMAC_KEY, id_number

NUMBER = id_number(7)
K1 = "k1:" + base64.b64encode(b"1" * 32).decode()
K2 = "k2:" + base64.b64encode(b"2" * 32).decode()


def vault(keys: str = K1, current: str = "") -> IdVault:
    return IdVault(*parse_keys(keys, current), hmac_key=HMAC_KEY)


def test_a_sealed_number_opens_to_itself_and_stores_no_plain_digits() -> None:
    sealed = vault().seal("student", NUMBER)
    assert set(sealed) == {"id_cipher", "id_key_id", "id_hmac", "id_mask", "id_tail4", "id_tail6"}
    assert sealed["id_tail4"] == vault().tail_digest(NUMBER[-4:]) != vault().tail_digest(NUMBER[-5:-1])
    assert not any(NUMBER[-4:] in str(sealed[t]) for t in ("id_tail4", "id_tail6"))  # digests, not digits
    assert sealed["id_key_id"] == "k1" and sealed["id_hmac"] == id_hmac(HMAC_KEY, NUMBER)
    assert sealed["id_mask"] == NUMBER[:6] + "*" * 11 + NUMBER[-1:]
    assert NUMBER.encode() not in sealed["id_cipher"] and len(sealed["id_cipher"]) == 12 + 18 + 16
    assert vault().open("student", cipher=sealed["id_cipher"], key_id="k1", hmac=sealed["id_hmac"]) == NUMBER


def test_sealing_twice_gives_different_ciphertexts() -> None:
    assert vault().seal("student", NUMBER)["id_cipher"] != vault().seal("student", NUMBER)["id_cipher"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda s: {**s, "id_cipher": s["id_cipher"][:-1] + bytes([s["id_cipher"][-1] ^ 1])},
            "does not authenticate",
        ),
        (
            lambda s: {**s, "id_cipher": bytes([s["id_cipher"][0] ^ 1]) + s["id_cipher"][1:]},
            "does not authenticate",
        ),
        (lambda s: {**s, "id_cipher": s["id_cipher"][:8]}, "truncated"),
        (lambda s: {**s, "id_hmac": id_hmac(HMAC_KEY, id_number(8))}, "does not authenticate"),
        (lambda s: {**s, "id_key_id": "k9"}, "not in the keyring"),
    ],
    ids=["tag-flipped", "nonce-flipped", "truncated", "other-rows-hash", "unknown-key-id"],
)
def test_an_altered_or_moved_ciphertext_does_not_open(change, message) -> None:  # type: ignore[no-untyped-def]
    stored = change(vault().seal("student", NUMBER))
    with pytest.raises(CannotOpen, match=message):
        vault().open(
            "student", cipher=stored["id_cipher"], key_id=stored["id_key_id"], hmac=stored["id_hmac"]
        )


def test_a_guardian_ciphertext_does_not_open_as_a_student() -> None:
    sealed = vault().seal("guardian", NUMBER)
    with pytest.raises(CannotOpen):
        vault().open("student", cipher=sealed["id_cipher"], key_id="k1", hmac=sealed["id_hmac"])


def test_a_ciphertext_relabelled_with_another_key_id_does_not_open_even_under_the_same_key() -> None:
    same_key_twice = vault(f"{K1},k1b:{K1.split(':')[1]}", "k1")
    sealed = same_key_twice.seal("student", NUMBER)
    with pytest.raises(CannotOpen):
        same_key_twice.open("student", cipher=sealed["id_cipher"], key_id="k1b", hmac=sealed["id_hmac"])


def test_the_wrong_key_under_the_right_id_does_not_open() -> None:
    sealed = vault().seal("student", NUMBER)
    impostor = vault("k1:" + base64.b64encode(b"3" * 32).decode())
    with pytest.raises(CannotOpen, match="does not authenticate"):
        impostor.open("student", cipher=sealed["id_cipher"], key_id="k1", hmac=sealed["id_hmac"])


def test_old_keys_stay_readable_while_new_numbers_use_the_current_key() -> None:
    old = vault(K1).seal("student", NUMBER)
    both = vault(f"{K1},{K2}")
    assert both.current == "k2" and both.seal("student", NUMBER)["id_key_id"] == "k2"
    assert both.open("student", cipher=old["id_cipher"], key_id="k1", hmac=old["id_hmac"]) == NUMBER
    assert vault(f"{K1},{K2}", "k1").seal("student", NUMBER)["id_key_id"] == "k1"


@pytest.mark.parametrize(
    ("keys", "current", "message"),
    [
        ("", "", "holds no key"),
        ("k1", "", "kid:base64key"),
        ("bad id!:" + K1.split(":")[1], "", "kid:base64key"),
        ("k1:not base64!", "", "not valid base64"),
        ("k1:" + base64.b64encode(b"short").decode(), "", "must be 32 bytes"),
        (f"{K1},{K1}", "", "twice"),
        (K1, "k2", "AID_ID_KEY_CURRENT"),
    ],
)
def test_a_bad_keyring_is_refused_naming_the_problem(keys: str, current: str, message: str) -> None:
    with pytest.raises(KeyringError, match=message):
        parse_keys(keys, current)


def test_generated_key_lines_parse_and_differ() -> None:
    first, second = generate_key_line("k7"), generate_key_line("k7")
    assert first != second and first.startswith("k7:")
    assert parse_keys(first)[1] == "k7"
    with pytest.raises(KeyringError):
        generate_key_line("no spaces")


def test_production_needs_the_keys_and_development_uses_the_labelled_dev_key() -> None:
    secrets = {"SECRET_KEY": SECRET_KEY, "AID_ID_HMAC_KEY": PROD_HMAC_KEY}
    with pytest.raises(ConfigError, match="AID_ID_KEYS must be set"):
        ProductionConfig.from_env(secrets)
    with pytest.raises(ConfigError, match="must be 32 bytes"):
        ProductionConfig.from_env({**secrets, "AID_ID_KEYS": "k1:AAAA"})
    prod = ProductionConfig.from_env(
        {**secrets, "AID_ID_KEYS": f"k1:{AES_K1},k2:{AES_K2}", "AID_ID_KEY_CURRENT": "k1"}
    )
    assert (sorted(prod.AID_ID_KEYS), prod.AID_ID_KEY_CURRENT) == (["k1", "k2"], "k1")
    dev = DevelopmentConfig.from_env({})
    assert (dev.AID_ID_KEY_CURRENT, dev.AID_ID_KEYS[DEV_KEY_ID]) == ("dev", base64.b64decode(DEV_KEY))
    assert b"dev-only-insecure" in dev.AID_ID_KEYS["dev"]


def test_the_vault_never_prints_key_material() -> None:
    text = repr(vault(f"{K1},{K2}"))
    assert K1.split(":")[1] not in text and "k1" in text


def test_a_sealed_blob_opens_only_for_its_purpose_and_untouched() -> None:
    from aidservice.crypto import CannotOpen, IdVault

    vault = IdVault(keys={"k1": b"k" * 32}, current="k1", hmac_key="h")
    blob = vault.seal_blob("job-upload", b"320102200001011234,name")
    assert (
        b"320102200001011234" not in blob
        and vault.open_blob("job-upload", blob) == b"320102200001011234,name"
    )
    for bad in (blob[:-1] + bytes([blob[-1] ^ 1]), b"k2$" + blob[3:], b"no-separator"):
        with pytest.raises(CannotOpen):
            vault.open_blob("job-upload", bad)
    with pytest.raises(CannotOpen):
        vault.open_blob("report", blob)
