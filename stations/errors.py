"""The one error hierarchy of the domain.

Every error carries three things. ``detail`` is written for the person who sent the
request: what was wrong and how to fix it. ``code`` is a stable word for programs to
branch on (``quota_used``, ``station_not_found``): each class has a default, and a raise
site names a more specific one where a client may act on the difference. ``facts`` are
the numbers and names behind the words (``distance_m``, ``radius_m``, ``daily_quota``),
so that no client ever reads them out of a sentence: wording may change, codes and
facts may not.

``api/errors.py`` lists every code in one table, with its HTTP status and the facts it
carries, and shapes the answer ``{"detail": …, "code": …, **facts}``; the CLI prints
``detail`` and exits non-zero.
"""

from __future__ import annotations

from typing import Any


class StationsError(Exception):
    """Base class: ``detail`` is safe to show to the caller, ``code`` and ``facts`` to act on."""

    code: str = "internal_error"

    def __init__(self, detail: Any, *, code: str | None = None, **facts: Any) -> None:
        super().__init__(detail if isinstance(detail, str) else repr(detail))
        self.detail = detail
        if code is not None:
            self.code = code
        self.facts = facts


class InvalidInput(StationsError):
    """The request or file is malformed or breaks a rule (maps to 422).

    With ``field`` (the one parameter or field at fault) and no more specific code, the
    code is ``invalid_parameter`` and ``field`` is one of its facts, as for the request
    validation FastAPI does before a route runs.
    """

    code = "invalid_input"

    def __init__(
        self, detail: Any, *, field: str | None = None, code: str | None = None, **facts: Any
    ) -> None:
        if field is not None and code is None:
            code = "invalid_parameter"
            facts = {"field": field, **facts}
        super().__init__(detail, code=code, **facts)
        self.field = field


class ControlCharacter(InvalidInput):
    """A text holds NUL or another control character (422, see :mod:`stations.plaintext`)."""

    code = "control_character"

    def __init__(self, detail: Any, *, field: str, character: str) -> None:
        super().__init__(detail, code=self.code)
        self.field = field
        self.facts = {"field": field, "character": character}


class NotFound(StationsError):
    """The thing asked for does not exist (404)."""

    code = "not_found"


class BadQuery(StationsError):
    """A query parameter of the OGC API is unknown, malformed or out of range (400, as
    OGC API – Features asks, where the rest of the API answers 422); ``field`` names it."""

    code = "bad_query_parameter"

    def __init__(self, field: str, detail: str) -> None:
        super().__init__(detail, field=field)
        self.field = field


class StationNotFound(NotFound):
    """No station has this id (404); one wording wherever a station is looked up."""

    code = "station_not_found"

    def __init__(self, station_id: int) -> None:
        super().__init__(
            f"there is no station {station_id}; check the id (search or list stations to find it)",
            station_id=station_id,
        )


class Conflict(StationsError):
    """The request collides with the current state, e.g. a stale version (409)."""

    code = "conflict"


class Unauthorized(StationsError):
    """No or bad credentials (401)."""

    code = "unauthorized"


class Forbidden(StationsError):
    """Credentials are fine but the role or ownership is not (403)."""

    code = "forbidden"


class TooManyAttempts(StationsError):
    """Too many failed attempts from this name or address: wait ``retry_after_s`` (429)."""

    code = "too_many_attempts"

    def __init__(self, detail: Any, *, retry_after_s: int) -> None:
        super().__init__(detail, retry_after_s=retry_after_s)
        self.retry_after_s = retry_after_s


class TooLarge(StationsError):
    """The request's body (an uploaded file) is larger than accepted (413)."""

    code = "body_too_large"


class DatabaseUnavailable(StationsError):
    """PostgreSQL cannot be reached or is not set up (503)."""

    code = "database_unavailable"


class SetupError(StationsError):
    """The local environment is missing something (packages, permissions, a free port)."""

    code = "not_set_up"


# --- refusals of the visit rules (claims, check-ins, ratings) ------------------------
# Each names its rule as its code and starts its ``detail`` with it ("quota_used: …"):
# clients in the field read the word from the sentence; new clients read ``code``.


class Refused(Conflict):
    """The current state refuses it: quota used, out of stock, campaign closed (409)."""

    def __init__(self, code: str, message: str, **facts: Any) -> None:
        super().__init__(f"{code}: {message}", code=code, **facts)


class Ineligible(Forbidden):
    """This caller may not do it here and now: suspended, too far away, no visit (403)."""

    def __init__(self, code: str, message: str, **facts: Any) -> None:
        super().__init__(f"{code}: {message}", code=code, **facts)


class InvalidCode(InvalidInput):
    """A scanned QR code is malformed, forged, altered or signed with a retired key (422)."""

    def __init__(self, code: str, message: str, **facts: Any) -> None:
        super().__init__(f"{code}: {message}", field="code", code=code, **facts)


class IdempotencyKeyReused(InvalidInput):
    """An Idempotency-Key already answered a different request (422)."""

    code = "idempotency_key_reused"


class PresenceCodeInvalid(Ineligible):
    """A presence code that is not the station's current one: another station's, two or
    more steps old, or not six digits (403)."""

    def __init__(self, message: str) -> None:
        super().__init__("presence_code_invalid", message)


class PresenceCodeRequired(Ineligible):
    """The campaign running at the station needs proof of presence and none came (403)."""

    def __init__(self, message: str) -> None:
        super().__init__("presence_code_required", message)


class HandoverProofRequired(InvalidInput):
    """A hand-over named by its typed code alone: the member's proof is missing (422)."""

    code = "handover_proof_required"

    def __init__(self, detail: str) -> None:
        super().__init__(detail, code=self.code)


class HandoverProofInvalid(Forbidden):
    """The member's proof does not match the claim: wrong digits of the member number
    (``handover_digits_wrong``) or a claim QR code that its member's page did not show
    (``handover_qr_invalid``) (403)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}", code=code)
