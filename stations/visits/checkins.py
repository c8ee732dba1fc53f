"""Check-ins: a scan at any station, recorded as a visit (no quota, no stock).

A check-in is what lets a member rate a station without claiming water there. It is
accepted within :data:`GEOFENCE_M` of the station and keeps only the H3 cell of the
member's position.

A check-in may carry the station's rotating presence code (:mod:`stations.visits.presence`;
sent, or the ``p`` of a scanned presence QR code). A valid one makes it a verified visit
(``presence_verified``), whose rating's reports that the listing is wrong count toward
the review queue; a wrong one is refused (``presence_code_invalid``); and while a
campaign that requires presence runs at the station, a check-in without one is refused
(``presence_code_required``), as a claim there would be.
"""

from __future__ import annotations

from typing import Any

import asyncpg

from stations.errors import Ineligible, InvalidCode, PresenceCodeRequired
from stations.settings import SecuritySettings
from stations.sql import load
from stations.visits import presence
from stations.visits.scan import read_scan

SQL = load("visits")

GEOFENCE_M = 300
"""How far from the station a check-in is accepted (the campaigns' default radius)."""


async def check_in(
    conn: asyncpg.Connection,
    *,
    member_id: int,
    code: str,
    lat: float,
    lng: float,
    crs: str | None,
    security: SecuritySettings,
    visit_resolution: int,
    presence_code: str | None = None,
    now: float | None = None,
) -> dict[str, Any]:
    """Record a visit; ``now`` (Unix time) is the clock the presence code is checked by."""
    scan = read_scan(
        code=code, lat=lat, lng=lng, crs=crs, security=security, resolution=visit_resolution
    )
    given = presence.given(code, presence_code)
    if given is not None:
        presence.verify(scan.station_code, given, security=security, now=now)
    row = await conn.fetchrow(
        SQL.check_in,
        scan.station_code,
        scan.lat,
        scan.lng,
        member_id,
        scan.cell,
        GEOFENCE_M,
        given is not None,
    )
    if row is None:
        raise InvalidCode(
            "invalid_code",
            f"no station has the code {scan.station_code} any more; "
            "ask the staff for the current poster",
        )
    if row["member_status"] != "active":
        raise Ineligible(
            "member_suspended",
            "your union membership is suspended; ask your union branch to reinstate it",
        )
    if row["id"] is None and row["presence_required"] and given is None:
        raise PresenceCodeRequired(
            "a campaign at this station needs proof that you are there: scan the rotating "
            "code on the station's screen (or type its six digits) and check in again"
        )
    if row["id"] is None:
        raise Ineligible(
            "outside_geofence",
            f"you are about {row['distance_m']:.0f} m from the station; check-ins are "
            f"accepted within {GEOFENCE_M} m, so scan again at the station",
            distance_m=round(row["distance_m"]),
            radius_m=GEOFENCE_M,
        )
    return {
        "checkin_id": row["id"],
        "station": {
            "id": row["station_id"],
            "code": row["station_code"],
            "name": row["station_name"],
        },
        "local_day": row["local_day"],
        "checked_in_at": row["checked_in_at"],
        "presence_verified": row["presence_verified"],
    }
