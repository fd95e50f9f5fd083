"""A job's payload (an uploaded roster file) holds identity numbers: it waits in the database sealed like them,
with the ID vault under a purpose of its own, and is opened only by the attempt that imports it."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from aidservice.crypto import IdVault

UPLOAD_PURPOSE = "job-upload"


def seal_upload(vault: IdVault, data: bytes) -> bytes:
    """The upload as it is stored on the job row."""
    return vault.seal_blob(UPLOAD_PURPOSE, data)


def open_upload(vault: IdVault, sealed: bytes) -> bytes:
    """The upload again (crypto.CannotOpen when the keys that sealed it are gone)."""
    return vault.open_blob(UPLOAD_PURPOSE, sealed)


__all__ = ["UPLOAD_PURPOSE", "open_upload", "seal_upload"]
