"""Keys a production configuration accepts (random, fixed so tests are repeatable; never used anywhere real)."""

from __future__ import annotations

SECRET_KEY = "9687491a457cf8ea2ad2180b9ba2944bcc9a598b72005fcce80fb0ed9886e24c"
HMAC_KEY = "3993a8cc2a5afac602dc94f3f39554a0cfb3f5393dc3e3a21167b7a5d5b70395"
AES_K1 = "HSzRN0PLNb5C6VDvturwREPZRD2tyPYwaA/AXH3J/4c="
AES_K2 = "Gqte7exCIlQ2yvrqW5MUZ/PJh2OaOv62dsFtxJsf+Ao="
PRODUCTION_SECRETS = {"SECRET_KEY": SECRET_KEY, "AID_ID_HMAC_KEY": HMAC_KEY, "AID_ID_KEYS": f"k1:{AES_K1}"}
"""The three secrets production requires, each safe: `{**PRODUCTION_SECRETS, ...}` then change one."""
