"""Claiming a free bottle by scanning a station's QR code, and the staff hand-over.

:func:`claim_water` is one use case and one transaction: the QR signature and the
position are checked here, then a single call of the database function
``claim_water`` (migration ``0003_visits.sql``) checks everything that depends on
the database's state, decrements stock, draws a prize, inserts the claim and stores
the answer under the member's ``Idempotency-Key`` — all before the same commit.

Idempotency: the first answer to a key (granted or refused) is stored and returned
again for the same request, even after a restart; the same key with a different
request is refused. Answers are rebuilt from the stored facts by pure functions, so
a replay is byte-for-byte the first answer. A refusal is final for its key: a member
who wants to try again later (after a top-up, say) sends a new key.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from typing import Any

import asyncpg
import orjson

from stations.errors import (
    DatabaseUnavailable,
    Forbidden,
    IdempotencyKeyReused,
    Ineligible,
    InvalidCode,
    InvalidInput,
    NotFound,
    Refused,
    StationsError,
    Unauthorized,
)
from stations.integrity import translating
from stations.scan import read_scan
from stations.settings import SecuritySettings
from stations.sql import load

SQL = load("visits")

IDEMPOTENCY_KEY_MAX = 100
DEADLOCK_RETRIES = 3


@dataclass(frozen=True)
class ClaimResult:
    """A granted claim: the stored answer, and whether this is a replay of it."""

    body: dict[str, Any]
    replayed: bool


def validate_idempotency_key(key: str | None) -> str:
    if key is None or not key.strip():
        raise InvalidInput(
            "Idempotency-Key: send a header with a new unique value (e.g. a UUID) for each "
            "claim, and the same value when retrying that claim",
            field="Idempotency-Key",
        )
    if len(key) > IDEMPOTENCY_KEY_MAX or not key.isascii() or not key.isprintable():
        raise InvalidInput(
            f"Idempotency-Key: use up to {IDEMPOTENCY_KEY_MAX} printable ASCII characters",
            field="Idempotency-Key",
        )
    return key


def request_fingerprint(
    *, code: str, lat: float, lng: float, crs: str | None, security: SecuritySettings
) -> bytes:
    """Keyed hash of what was asked; keyed because it is derived from the member's position."""
    canonical = orjson.dumps(
        {"code": code.strip(), "lat": lat, "lng": lng, "crs": (crs or "wgs84").lower()},
        option=orjson.OPT_SORT_KEYS,
    )
    key = security.pii_hash_key.get_secret_value().encode()
    return hmac.new(key, b"claim:" + canonical, hashlib.sha256).digest()


def refusal(reason: str, facts: dict[str, Any]) -> StationsError:
    """The domain error for a stored refusal; the same facts always give the same words."""
    if reason == "member_suspended":
        return Ineligible(
            reason, "your union membership is suspended; ask your union branch to reinstate it"
        )
    if reason == "outside_geofence":
        return Ineligible(
            reason,
            f"you are {facts['distance_m']:.0f} m from the station; claims are accepted within "
            f"{facts['geofence_m']} m, so scan again at the station",
        )
    if reason == "unknown_station":
        return InvalidCode(
            "invalid_code",
            f"no station has the code {facts['station_code']} any more; "
            "ask the staff for the current poster",
        )
    if reason == "station_closed":
        return Refused(
            reason,
            f"this station is {facts['station_status'].replace('_', ' ')} and hands out no water",
        )
    if reason == "campaign_closed":
        if "daily_start" in facts:
            return Refused(
                reason,
                f"water is handed out here from {facts['daily_start']} to "
                f"{facts['daily_end']} local time; come back then",
            )
        return Refused(reason, "no water campaign runs at this station today")
    if reason == "station_not_in_campaign":
        return Refused(
            reason,
            "this station does not take part in today's water campaign; "
            "look for a participating water point nearby",
        )
    if reason == "quota_used":
        quota = facts["daily_quota"]
        bottles = "bottle" if quota == 1 else "bottles"
        return Refused(
            reason, f"you have claimed your {quota} {bottles} for today; come back tomorrow"
        )
    if reason == "out_of_stock":
        if not facts.get("stock_set"):
            return Refused(
                reason, "this station has not set today's water stock yet; ask the staff"
            )
        return Refused(
            reason, "this station has no bottles left today; try another water point nearby"
        )
    return Refused(reason, "the claim was refused")


async def claim_water(
    conn: asyncpg.Connection,
    *,
    token_digest: bytes,
    idempotency_key: str | None,
    code: str,
    lat: float,
    lng: float,
    crs: str | None,
    security: SecuritySettings,
    visit_resolution: int,
) -> ClaimResult:
    """Claim a bottle at the scanned station; a refusal raises the error naming its rule.

    The member is whoever ``token_digest`` (SHA-256 of the bearer token) belongs to; the
    database checks the token in the claim's own transaction.
    """
    key = validate_idempotency_key(idempotency_key)
    scan = read_scan(
        code=code, lat=lat, lng=lng, crs=crs, security=security, resolution=visit_resolution
    )
    fingerprint = request_fingerprint(code=code, lat=lat, lng=lng, crs=crs, security=security)
    for attempt in range(DEADLOCK_RETRIES):
        try:
            with translating():
                result = await conn.fetchval(
                    SQL.claim_water,
                    token_digest,
                    key,
                    fingerprint,
                    scan.station_code,
                    scan.lat,
                    scan.lng,
                    scan.cell,
                )
            break
        except asyncpg.DeadlockDetectedError:
            # The whole transaction was rolled back, key included: running it again is
            # the same request. The claim's lock order makes this a safety net only.
            if attempt == DEADLOCK_RETRIES - 1:
                raise DatabaseUnavailable(
                    "the database is too busy to decide this claim; retry with the same "
                    "Idempotency-Key"
                ) from None
    outcome = result["outcome"]
    if outcome == "granted":
        return ClaimResult(body=result["response"], replayed=result["replayed"])
    if outcome == "token_invalid":
        raise Unauthorized("the bearer token is not valid (expired, revoked or mistyped)")
    if outcome == "not_a_member":
        raise Forbidden(f"this needs the role member; you are {result['response']['role']}")
    if outcome == "idempotency_key_reused":
        raise IdempotencyKeyReused(
            "idempotency_key_reused: this Idempotency-Key already answered a different "
            "claim request; send a new key for a new claim and the same body when retrying"
        )
    raise refusal(outcome, result["response"])


async def confirm_handover(
    conn: asyncpg.Connection, *, code: str, station_ids: frozenset[int] | None, actor: str
) -> dict[str, Any]:
    """Staff confirm the bottle was handed over; ``station_ids`` None means any station.

    Confirming twice is harmless (the first confirmation stays). A claim is good for the
    station's local day it was made on.
    """
    claim_code = code.strip().upper()[:20]
    async with conn.transaction():
        row = await conn.fetchrow(SQL.claim_for_handover, claim_code)
        if row is None:
            raise NotFound(f"no claim has the code {claim_code}; check the code with the member")
        if station_ids is not None and row["station_id"] not in station_ids:
            raise Forbidden(f"you do not operate station {row['station_id']}")
        if row["handed_over_at"] is None:
            if row["local_day"] != row["station_today"]:
                raise Refused(
                    "claim_expired",
                    f"this claim was for {row['local_day'].isoformat()}; claims are good on "
                    "the day they are made only",
                )
            await conn.execute(SQL.mark_handed_over, row["id"], actor)
        view = await conn.fetchrow(SQL.claim_view, row["id"])
    return dict(view)


async def member_claims(
    conn: asyncpg.Connection, *, member_id: int, limit: int = 50
) -> list[dict[str, Any]]:
    return [dict(r) for r in await conn.fetch(SQL.member_claims, member_id, limit)]


async def station_claims_today(
    conn: asyncpg.Connection, *, station_ids: list[int], limit: int = 500
) -> list[dict[str, Any]]:
    return [dict(r) for r in await conn.fetch(SQL.station_claims_today, station_ids, limit)]
