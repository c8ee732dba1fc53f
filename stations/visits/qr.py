"""Signed station codes for the QR posters: making them, reading them back, rendering.

A poster's QR code holds a URL
``{public_base_url}/s/{station_code}?k={key_id}&sig={signature}`` where the signature
is HMAC-SHA256 over ``key_id:station_code`` with that key's secret, base32 (lowercase,
no padding) cut to 16 characters: 80 bits, far beyond what can be guessed online.

Keys rotate (settings ``STATIONS_QR_KEYS``, ``_ACTIVE_KEYS``, ``_RETIRED_KEYS``): new
posters are signed with the first active key; codes of every active key verify, so
old posters keep working until their key is retired, and then they are refused with a
reason that tells the rider to ask for the new poster. Verification needs no database.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import io
import re
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import parse_qs, urlsplit

import segno

from stations.errors import InvalidCode
from stations.settings import SecuritySettings

SIGNATURE_LENGTH = 16
STATION_CODE = re.compile(r"^[0-9A-HJKMNP-TV-Z]{4,12}$")
_KEY_ID = re.compile(r"^[a-z0-9]{1,8}$")
_SIGNATURE = re.compile(rf"^[a-z2-7]{{{SIGNATURE_LENGTH}}}$")
_PATH = re.compile(r"(?:^|/)s/([^/]+)/?$")

NOT_A_CODE = "this is not a Love Stations station code; scan the QR code on the station's poster"
FORGED = (
    "the code's signature does not match its station (altered or forged code); "
    "scan the poster at the station itself"
)
UNKNOWN_KEY = "the code is signed with an unknown key (forged code); scan the poster at the station"
RETIRED = (
    "this poster was printed with a signing key that has been retired; "
    "ask the staff for the current poster"
)


@dataclass(frozen=True)
class StationCode:
    """A verified scan: which station, signed with which key."""

    station_code: str
    key_id: str


def signature(station_code: str, *, key_id: str, secret: str) -> str:
    mac = hmac.new(secret.encode(), f"{key_id}:{station_code}".encode(), hashlib.sha256)
    return _encode(mac.digest())


def _encode(digest: bytes) -> str:
    return base64.b32encode(digest).decode().lower()[:SIGNATURE_LENGTH]


class _KeyRing:
    """The signing keys of one settings object, with HMAC states prepared once.

    Verified codes are remembered (a poster is scanned again and again; the answer is
    a pure function of the scanned text and these keys). Refusals are not remembered,
    so a flood of forged codes cannot push real ones out.
    """

    def __init__(self, security: SecuritySettings) -> None:
        self.security = security
        self.macs = {
            key_id: hmac.new(secret.get_secret_value().encode(), digestmod=hashlib.sha256)
            for key_id, secret in security.qr_keys.items()
        }
        self.verified = lru_cache(maxsize=65_536)(self._verify_text)

    def signature(self, station_code: str, key_id: str) -> str:
        mac = self.macs[key_id].copy()
        mac.update(f"{key_id}:{station_code}".encode())
        return _encode(mac.digest())

    def _verify_text(self, text: str) -> StationCode:
        parts = urlsplit(text)
        path_match = _PATH.search(parts.path)
        query = parse_qs(parts.query, keep_blank_values=True)
        keys, sigs = query.get("k", []), query.get("sig", [])
        if path_match is None or len(keys) != 1 or len(sigs) != 1:
            raise InvalidCode("invalid_code", NOT_A_CODE)
        return self.verify_parts(path_match.group(1), keys[0], sigs[0])

    def verify_parts(self, station_code: str, key_id: str, sig: str) -> StationCode:
        security = self.security
        if not (
            STATION_CODE.fullmatch(station_code)
            and _KEY_ID.fullmatch(key_id)
            and _SIGNATURE.fullmatch(sig)
        ):
            raise InvalidCode("invalid_code", NOT_A_CODE)
        retired = key_id in security.qr_retired_keys
        if key_id not in self.macs or (key_id not in security.qr_active_keys and not retired):
            if retired:
                raise InvalidCode("code_retired", RETIRED)
            raise InvalidCode("invalid_code", UNKNOWN_KEY)
        if not hmac.compare_digest(self.signature(station_code, key_id), sig):
            raise InvalidCode("invalid_code", FORGED)
        if retired:
            raise InvalidCode("code_retired", RETIRED)
        return StationCode(station_code=station_code, key_id=key_id)


# Settings objects are few (one per app; tests make several) and immutable.
_KEYRINGS: dict[int, _KeyRing] = {}


def _keyring(security: SecuritySettings) -> _KeyRing:
    ring = _KEYRINGS.get(id(security))
    if ring is None or ring.security is not security:
        ring = _KEYRINGS[id(security)] = _KeyRing(security)
    return ring


def poster_url(station_code: str, *, security: SecuritySettings, base_url: str) -> str:
    """The URL printed as the station's QR code, signed with the current key."""
    key_id = security.qr_active_keys[0]
    secret = security.qr_keys[key_id].get_secret_value()
    sig = signature(station_code, key_id=key_id, secret=secret)
    return f"{base_url.rstrip('/')}/s/{station_code}?k={key_id}&sig={sig}"


def verify(scanned: str, *, security: SecuritySettings) -> StationCode:
    """Check a scanned code; InvalidCode says whether it is malformed, forged or retired."""
    text = (scanned or "").strip()
    if len(text) > 500:
        raise InvalidCode("invalid_code", NOT_A_CODE)
    return _keyring(security).verified(text)


def verify_parts(
    station_code: str, key_id: str, sig: str, *, security: SecuritySettings
) -> StationCode:
    """Check a code given as its three parts (station code, key id, signature)."""
    return _keyring(security).verify_parts(station_code, key_id, sig)


def qr_symbol(url: str) -> segno.QRCode:
    """The QR symbol of a poster URL (error correction M: survives scuffs and glare)."""
    return segno.make(url, error="m", boost_error=False)


def render_svg(url: str, *, scale: int = 8) -> bytes:
    buffer = io.BytesIO()
    qr_symbol(url).save(buffer, kind="svg", scale=scale, border=4, xmldecl=False)
    return buffer.getvalue()


def render_claim_svg(claim_code: str, *, scale: int = 10) -> bytes:
    """A claim's hand-over text (its code and tag) as a QR symbol for the console to scan.

    Always a full QR symbol: for short texts segno would pick a Micro QR, which
    browsers' barcode detectors and the console's decoder do not read.
    """
    buffer = io.BytesIO()
    segno.make_qr(claim_code, error="m").save(
        buffer, kind="svg", scale=scale, border=4, xmldecl=False
    )
    return buffer.getvalue()


def render_png(url: str, *, scale: int = 8) -> bytes:
    buffer = io.BytesIO()
    qr_symbol(url).save(buffer, kind="png", scale=scale, border=4)
    return buffer.getvalue()
