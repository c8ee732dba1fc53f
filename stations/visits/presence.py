"""Proof of presence: a rotating code that only someone at the station can read.

A position is what the phone says it is, so a member five kilometres away who sends a
station's coordinates passes any geofence. A station can therefore show a **presence
code** on its counter (the operator console's presence page, on the operator's phone
or a cheap phone left at the counter): six digits that change every
:data:`STEP_S` seconds, also drawn as a QR code that leads the rider page to the
station with the code filled in. A campaign with ``presence_required`` grants water
only to a claim that carries the current code; check-ins carry it too, and a rating
from a visit that carried it (or from a granted claim) is a *verified* visit, the only
kind whose reports that a listing is wrong count toward the review queue.

The code is TOTP as RFC 6238 describes it: HOTP (RFC 4226: HMAC, dynamic truncation,
six decimal digits) over the number of :data:`STEP_S`-second steps since the epoch,
with HMAC-SHA-256 (one of the RFC's three). Steps of 30 s, the RFC's default: a code
read at the last second of its step is still accepted for one more step, so a rider
always has at least 30 s (and at most 60 s) from reading it to the server checking it,
plenty for a scan or six typed digits, while a code passed on to someone elsewhere
is useless within a minute. The current and the previous step are accepted
(:data:`ACCEPTED_STEPS`); a code two steps old is refused as ``presence_code_invalid``,
as is another station's code.

Each station's secret is derived, never stored: HMAC-SHA-256 under the server's
``STATIONS_PII_HASH_KEY`` of a label and the station's code, so a copy of the database
alone yields no presence code (the claim codes' key of migration 0020 lives in the
database; this one must not, as a dump would let anyone compute every station's
codes). The console never receives the secret either: it asks the service for the
current code (``GET /v1/stations/{id}/presence``) at every step.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import struct
import time
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

import asyncpg

from stations.errors import PresenceCodeInvalid
from stations.settings import SecuritySettings
from stations.sql import load

SQL = load("visits")

STEP_S = 30
"""Seconds per code (RFC 6238's time step X)."""
DIGITS = 6
ACCEPTED_STEPS = 2
"""Steps whose code is accepted: the current one and the one before it."""
QR_PARAMETER = "p"
"""The query parameter of the presence QR code (the signed poster URL plus the code)."""

_CODE = re.compile(r"[0-9]{6}")


def clock() -> float:
    """Unix time now: the one clock codes are made and checked by (tests replace it)."""
    return time.time()


_LABEL = b"love-stations presence totp v1\0"


def hotp(secret: bytes, counter: int, *, digits: int = DIGITS) -> str:
    """RFC 4226's HOTP with HMAC-SHA-256: dynamic truncation, ``digits`` decimal digits."""
    mac = hmac.new(secret, struct.pack(">Q", counter), hashlib.sha256).digest()
    offset = mac[-1] & 0x0F
    value = struct.unpack(">I", mac[offset : offset + 4])[0] & 0x7FFFFFFF
    return str(value % 10**digits).zfill(digits)


def step_at(at: float) -> int:
    """The TOTP step (RFC 6238's T) of a Unix time."""
    return int(at // STEP_S)


def station_secret(station_code: str, *, security: SecuritySettings) -> bytes:
    """The station's TOTP secret: derived from the server key, never stored anywhere."""
    key = security.pii_hash_key.get_secret_value().encode()
    return hmac.new(key, _LABEL + station_code.encode(), hashlib.sha256).digest()


@dataclass(frozen=True)
class PresenceCode:
    """The code a station shows at one moment, and when the next one replaces it."""

    station_code: str
    code: str
    step: int
    changes_at: float  # Unix time of the next step

    @property
    def seconds_left(self) -> float:
        return max(0.0, self.changes_at - clock())


def current_code(
    station_code: str, *, security: SecuritySettings, now: float | None = None
) -> PresenceCode:
    """The code station ``station_code`` shows at ``now`` (Unix time; default: the clock)."""
    at = clock() if now is None else now
    step = step_at(at)
    return PresenceCode(
        station_code=station_code,
        code=hotp(station_secret(station_code, security=security), step),
        step=step,
        changes_at=(step + 1) * STEP_S,
    )


def normalize(text: str | None) -> str | None:
    """A typed code without its blanks (``123 456``); None when nothing was given."""
    if text is None:
        return None
    cleaned = re.sub(r"[\s-]", "", text)
    return cleaned or None


def from_scanned(scanned: str) -> str | None:
    """The presence code a scanned presence QR code carries (its ``p``), if any."""
    values = parse_qs(urlsplit(scanned.strip()).query).get(QR_PARAMETER, [])
    return values[0] if len(values) == 1 else None


def given(scanned: str, presence_code: str | None) -> str | None:
    """The presence code a scan carries: the one sent, else the scanned presence QR's."""
    sent = normalize(presence_code)
    return sent if sent is not None else normalize(from_scanned(scanned))


def verify(
    station_code: str, code: str, *, security: SecuritySettings, now: float | None = None
) -> None:
    """Accept the station's code of the current or the previous step; refuse anything else.

    Raises :class:`~stations.errors.PresenceCodeInvalid` for a malformed code, a code of
    another station and a code two or more steps old (or from the future).
    """
    if not _CODE.fullmatch(code):
        raise PresenceCodeInvalid(
            "the presence code is six digits, as the station's screen shows it; "
            "scan its QR code or type the digits again"
        )
    secret = station_secret(station_code, security=security)
    step = step_at(clock() if now is None else now)
    # Every accepted step is compared, in constant time, whichever matches.
    matched = False
    for back in range(ACCEPTED_STEPS):
        matched |= hmac.compare_digest(hotp(secret, step - back), code)
    if not matched:
        raise PresenceCodeInvalid(
            "this is not the code this station shows now (codes change every "
            f"{STEP_S} s and belong to one station); read or scan the code on the "
            "station's screen again"
        )


def presence_url(poster_url: str, code: PresenceCode) -> str:
    """The presence QR code's text: the station's signed poster URL plus the code."""
    return f"{poster_url}&{QR_PARAMETER}={code.code}"


async def required_at(conn: asyncpg.Connection, *, station_id: int) -> bool:
    """Whether a campaign requiring presence runs at the station today (its local day)."""
    return bool(await conn.fetchval(SQL.presence_required, station_id))
