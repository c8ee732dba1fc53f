"""Check-ins: a scan at any station, recorded as a visit (no quota, no stock).

A check-in is what lets a member rate a station without claiming water there. It is
accepted within :data:`GEOFENCE_M` of the station and keeps only the H3 cell of the
member's position.
"""

from __future__ import annotations

from typing import Any

import asyncpg

from stations.errors import Ineligible, InvalidCode
from stations.settings import SecuritySettings
from stations.sql import load
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
) -> dict[str, Any]:
    scan = read_scan(
        code=code, lat=lat, lng=lng, crs=crs, security=security, resolution=visit_resolution
    )
    row = await conn.fetchrow(
        SQL.check_in, scan.station_code, scan.lat, scan.lng, member_id, scan.cell, GEOFENCE_M
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
    if row["id"] is None:
        raise Ineligible(
            "outside_geofence",
            f"you are {row['distance_m']:.0f} m from the station; check-ins are accepted "
            f"within {GEOFENCE_M} m, so scan again at the station",
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
    }
