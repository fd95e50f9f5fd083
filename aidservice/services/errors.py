"""Domain errors: services raise these without knowing about HTTP; the API maps them to problems."""

from __future__ import annotations

from collections.abc import Mapping, Sequence


class DomainError(Exception):
    """Base of errors a use case reports to its caller; `status` and `title` say how to present it."""

    status: int = 400
    title: str = "Bad request"
    type_suffix: str = "bad-request"

    def __init__(self, detail: str = "", errors: Mapping[str, Sequence[str]] | None = None) -> None:
        super().__init__(detail or self.title)
        self.detail = detail or self.title
        self.errors: dict[str, list[str]] = {k: list(v) for k, v in (errors or {}).items()}
        self.extra: dict[str, object] = {}
        """Extension members of the problem+json answer (an import's `rows` list and `total_errors`)."""


class NotFound(DomainError):
    """The thing asked for does not exist (or is outside the caller's scope to know about)."""

    status = 404
    title = "Not found"
    type_suffix = "not-found"


class Conflict(DomainError):
    """The request contradicts the current state: a replayed batch with another body, a stale version."""

    status = 409
    title = "Conflict"
    type_suffix = "conflict"


class Forbidden(DomainError):
    """The caller is known but the subject is outside their scope."""

    status = 403
    title = "Forbidden"
    type_suffix = "forbidden"


class ValidationFailed(DomainError):
    """Input that is well-formed but wrong; `errors` maps each field to its messages."""

    status = 422
    title = "Validation failed"
    type_suffix = "validation-error"

    def __init__(self, errors: Mapping[str, Sequence[str]], detail: str = "") -> None:
        super().__init__(detail or "The request has invalid fields; see errors.", errors)


class PayloadTooLarge(DomainError):
    """An upload over a size bound: bytes, rows, or what a compressed file inflates to."""

    status = 413
    title = "Payload too large"
    type_suffix = "payload-too-large"
