"""The one error hierarchy of the domain.

Every error carries a ``detail`` written for the person who sent the request: what
was wrong and how to fix it. ``api/errors.py`` maps each class to an HTTP status in
one table; the CLI prints ``detail`` and exits non-zero.
"""

from __future__ import annotations

from typing import Any


class StationsError(Exception):
    """Base class: ``detail`` is safe to show to the caller."""

    def __init__(self, detail: Any) -> None:
        super().__init__(detail if isinstance(detail, str) else repr(detail))
        self.detail = detail


class InvalidInput(StationsError):
    """The request or file is malformed or breaks a rule (maps to 422)."""

    def __init__(self, detail: Any, *, field: str | None = None) -> None:
        super().__init__(detail)
        self.field = field


class NotFound(StationsError):
    """The thing asked for does not exist (404)."""


class StationNotFound(NotFound):
    """No station has this id (404); one wording wherever a station is looked up."""

    def __init__(self, station_id: int) -> None:
        super().__init__(
            f"there is no station {station_id}; check the id (search or list stations to find it)"
        )


class Conflict(StationsError):
    """The request collides with the current state, e.g. a stale version (409)."""


class Unauthorized(StationsError):
    """No or bad credentials (401)."""


class Forbidden(StationsError):
    """Credentials are fine but the role or ownership is not (403)."""


class DatabaseUnavailable(StationsError):
    """PostgreSQL cannot be reached or is not set up (503)."""


class SetupError(StationsError):
    """The local environment is missing something (packages, permissions, a free port)."""


# --- refusals of the visit rules (claims, check-ins, ratings) ------------------------
# Each names the rule in ``reason`` and starts its ``detail`` with it ("quota_used: …"),
# so a client can branch on the word and show the sentence.


class Refused(Conflict):
    """The current state refuses it: quota used, out of stock, campaign closed (409)."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(f"{reason}: {message}")
        self.reason = reason


class Ineligible(Forbidden):
    """This caller may not do it here and now: suspended, too far away, no visit (403)."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(f"{reason}: {message}")
        self.reason = reason


class InvalidCode(InvalidInput):
    """A scanned QR code is malformed, forged, altered or signed with a retired key (422)."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(f"{reason}: {message}", field="code")
        self.reason = reason


class IdempotencyKeyReused(InvalidInput):
    """An Idempotency-Key already answered a different request (422)."""
