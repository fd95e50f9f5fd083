"""Device tokens: proof that a client has signed in to one account before (OWASP's "device cookie").

After a successful sign-in the client gets a token `<user id>.<nonce>.<issued>.<signature>`: the nonce is 16
random bytes, `issued` the Unix time, and the signature an HMAC-SHA256 under a key derived from SECRET_KEY over
the first three parts *and the account's current password hash*. The web UI keeps the tokens in a cookie, an API
client sends its token back in the login body. `verify` accepts a token only for the account it names, within
`max_age`, with an intact signature: a forged, expired, altered or other account's token is no token at all.

The throttle (services.throttle) counts a known device's failures against that device alone (its nonce), and
everything else against the account's "unrecognised devices" bucket, so a stranger's failures never lock out the
owner's known devices.

Revoking: changing the password (`aid user password`) changes the hash that every signature covers, so every
device token of that account stops counting as known (as its sessions end). Nothing is stored server-side.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from aidservice.models import User

MAX_AGE_SECONDS = 180 * 24 * 3600
TOKEN_MAX_LENGTH = 160  # longer values are not looked at
TOKEN = re.compile(r"^([1-9][0-9]{0,18})\.([A-Za-z0-9_-]{22})\.([0-9]{1,12})\.([A-Za-z0-9_-]{43})$")
KEY_LABEL = b"aidservice device token v1"


@dataclass(frozen=True, slots=True)
class DeviceTokens:
    """Issues and checks device tokens under one secret (the app's SECRET_KEY)."""

    secret: str = field(repr=False)
    max_age: int = MAX_AGE_SECONDS
    clock: Callable[[], float] = time.time

    def _key(self) -> bytes:
        return hmac.new(self.secret.encode(), KEY_LABEL, hashlib.sha256).digest()

    def _signature(self, user: User, nonce: str, issued: int) -> str:
        message = f"{user.id}.{nonce}.{issued}\x00{user.password_hash}".encode()
        digest = hmac.new(self._key(), message, hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).decode().rstrip("=")

    def issue(self, user: User) -> str:
        """A new token for this account (a new nonce each time)."""
        nonce = secrets.token_urlsafe(16)
        issued = int(self.clock())
        return f"{user.id}.{nonce}.{issued}.{self._signature(user, nonce, issued)}"

    def verify(self, tokens: Iterable[str], user: User | None) -> str | None:
        """The nonce of the first of `tokens` valid for `user` (signature, account, age), else None."""
        if user is None:
            return None
        now = self.clock()
        for token in tokens:
            match = TOKEN.fullmatch(token) if len(token) <= TOKEN_MAX_LENGTH else None
            if match is None or int(match[1]) != user.id:
                continue
            nonce, issued = match[2], int(match[3])
            if not 0 <= now - issued <= self.max_age:
                continue
            if hmac.compare_digest(match[4], self._signature(user, nonce, issued)):
                return nonce
        return None


def token_user_id(token: str) -> int | None:
    """The account a token claims (unchecked): to replace that account's token in a cookie holding several."""
    match = TOKEN.fullmatch(token) if len(token) <= TOKEN_MAX_LENGTH else None
    return int(match[1]) if match else None


def merged(tokens: Sequence[str], new: str, keep: int) -> list[str]:
    """`new` first, then the other accounts' well-formed tokens, at most `keep` (a shared office computer)."""
    owner = token_user_id(new)
    others = [t for t in tokens if (uid := token_user_id(t)) is not None and uid != owner]
    return [new, *others][:keep]
