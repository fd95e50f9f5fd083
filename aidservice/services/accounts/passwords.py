"""Password rules for officers', administrators' and auditors' accounts, checked when a password is set.

At least 12 characters; at least two kinds of character (lower-case, upper-case, digits, others); not the
username nor containing it; not a well-known password, nor one with a well-known word as its only letters
(`Password2020!`, `qwerty123456`). Argon2 makes each guess slow; these rules keep the first guesses useless.

Beyond the rules, the zxcvbn estimator (Dropbox's, pinned) must score the password at least `MIN_SCORE` (3 of
4: about 10^8 guesses or more), with the username and the service's own words as known inputs. It is asked
twice: about the password as typed, and about the same keys pressed without Shift (`1qaz@WSX#EDC` is the
keyboard walk `1qaz2wsx3edc`, which zxcvbn does not see through the Shift key); the lower score counts.
zxcvbn reads at most `ESTIMATED_LENGTH` characters: a longer password is judged by its beginning.
"""

from __future__ import annotations

import re

from zxcvbn import zxcvbn

MIN_LENGTH = 12
MAX_LENGTH = 1024  # argon2 takes any length; this only bounds the work one request can ask for
MIN_CLASSES = 2

COMMON = frozenset(
    {
        "000000000000",
        "111111111111",
        "123123123123",
        "123456789012",
        "1234567890ab",
        "1q2w3e4r5t6y",
        "1qaz2wsx3edc",
        "a1b2c3d4e5f6",
        "abc123456789",
        "abcd12345678",
        "abcdefghijkl",
        "asdfghjkl123",
        "iloveyou1234",
        "password1234",
        "password123!",
        "qazwsxedcrfv",
        "qwerty123456",
        "qwertyuiop12",
        "qwertyuiopas",
        "zaq12wsxcde3",
        "zxcvbnm12345",
        "woaini1314520",
        "5201314woaini",
        "aa123456789a",
        "p@ssw0rd1234",
        "passw0rd1234",
        "welcome12345",
        "changeme1234",
        "letmein12345",
        "admin1234567",
    }
)
"""Well-known passwords of 12 characters or more (from public lists of the most used ones), lower-cased."""

COMMON_WORDS = frozenset(
    {
        "password",
        "passwort",
        "qwerty",
        "qwertyuiop",
        "asdfgh",
        "asdfghjkl",
        "zxcvbnm",
        "abcdef",
        "abcdefgh",
        "abcdefghijkl",
        "abc",
        "abcd",
        "admin",
        "administrator",
        "root",
        "welcome",
        "letmein",
        "changeme",
        "iloveyou",
        "woaini",
        "jiangsu",
        "nanjing",
        "china",
        "zhongguo",
        "aidservice",
        "secret",
        "default",
        "test",
        "user",
        "login",
        "qazwsx",
        "qazwsxedc",
        "qwe",
        "qweasd",
        "monkey",
        "dragon",
        "football",
        "baseball",
        "master",
        "shadow",
        "sunshine",
        "princess",
        "superman",
        "trustno",
        "xuesheng",
        "zizhu",
        "school",
        "officer",
        "auditor",
        "province",
        "county",
        "city",
    }
)
"""Words that, with only digits and symbols around them, make a guessable password (`Welcome2020!!`)."""

MIN_SCORE = 3
ESTIMATED_LENGTH = 72  # zxcvbn refuses longer input; its work grows with the length
KNOWN_INPUTS = ("aidservice", "jiangsu", "xuesheng", "zizhu", "xueshengzizhu", "jiangsuzizhu")
"""Words of this service the estimator treats as known to an attacker, beside the username."""
UNSHIFT = str.maketrans('!@#$%^&*()_+{}|:"<>?~', "1234567890-=[]\\;',./`")
"""A US keyboard's shifted symbols back to the keys that type them (letters are lower-cased apart)."""

LEET = str.maketrans({"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "@": "a", "$": "s"})
CLASSES = (re.compile(r"[a-z]"), re.compile(r"[A-Z]"), re.compile(r"[0-9]"), re.compile(r"[^a-zA-Z0-9]"))


RULES: dict[str, str] = {
    "too_short": f"must have at least {MIN_LENGTH} characters",
    "too_long": f"must have at most {MAX_LENGTH} characters",
    "only_digits": "must not be only digits",
    "one_kind": "must mix at least two kinds of character: lower-case, upper-case, digits, symbols",
    "has_username": "must not contain the username",
    "common": "is a well-known password; choose another",
    "guessable": "is too easy to guess (a keyboard pattern, repeats, a sequence or common words); "
    "use a longer phrase of uncommon words",
}
"""Each rule's code and its message; pages show their own wording by code (web.account)."""


def problems(password: str, username: str | None = None) -> list[str]:
    """Every rule the password breaks, in words an officer can act on (empty when it is acceptable)."""
    return [RULES[code] for code in broken_rules(password, username)]


def broken_rules(password: str, username: str | None = None) -> list[str]:
    """The codes (keys of `RULES`) of every rule the password breaks, in the order they are checked."""
    found: list[str] = []
    if len(password) < MIN_LENGTH:
        found.append("too_short")
    elif len(password) > MAX_LENGTH:
        found.append("too_long")
    if password.isdigit():
        found.append("only_digits")
    elif sum(1 for kind in CLASSES if kind.search(password)) < MIN_CLASSES:
        found.append("one_kind")
    name = (username or "").strip().casefold()
    if name and name in password.casefold():
        found.append("has_username")
    elif is_common(password):
        found.append("common")
    elif MIN_LENGTH <= len(password) <= MAX_LENGTH and strength(password, username) < MIN_SCORE:
        found.append("guessable")
    return found


def strength(password: str, username: str | None = None) -> int:
    """zxcvbn's score 0-4, the lower of the password as typed and the same keys without Shift."""
    inputs = [*KNOWN_INPUTS, *([username.strip()] if username and username.strip() else [])]
    typed = password[:ESTIMATED_LENGTH]
    unshifted = typed.translate(UNSHIFT).lower()
    scores = [
        int(zxcvbn(candidate, user_inputs=inputs)["score"]) for candidate in dict.fromkeys((typed, unshifted))
    ]
    return min(scores)


def is_common(password: str) -> bool:
    """A listed password, or a listed word (letters for look-alike digits too) with only digits and symbols around it."""
    lowered = password.casefold()
    if lowered in COMMON:
        return True
    core = re.sub(r"^[^a-z]+|[^a-z]+$", "", lowered).translate(LEET)
    return re.sub(r"[^a-z]", "", core) in COMMON_WORDS
