"""A scan at a station: the signed code plus where the member stands, made safe to keep.

Claims and check-ins both start here: the QR code is verified (no database needed),
the position converted to WGS84 from the CRS the phone's map SDK used, and reduced to
the H3 cell that is all the database will keep of it (settings
``STATIONS_H3_VISIT_LOCATION``). The raw point is used only for the geofence check.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from stations.errors import InvalidInput
from stations.geo import h3cells
from stations.geo.crs import parse_named_crs, position_to_wgs84
from stations.settings import SecuritySettings
from stations.visits import qr


@dataclass(frozen=True)
class Scan:
    station_code: str
    lat: float  # WGS84
    lng: float
    cell: int  # H3 cell at the visit-location resolution


def wgs84_position(lat: float, lng: float, crs: str | None) -> tuple[float, float]:
    """A reported position in WGS84; ``crs`` is wgs84 (default), gcj02 or bd09."""
    parsed = parse_named_crs(crs)
    if not (math.isfinite(lat) and math.isfinite(lng) and -90 <= lat <= 90 and -180 <= lng <= 180):
        raise InvalidInput("lat/lng: latitude must be -90..90 and longitude -180..180", field="lat")
    return position_to_wgs84(lat, lng, parsed)


def read_scan(
    *,
    code: str,
    lat: float,
    lng: float,
    crs: str | None,
    security: SecuritySettings,
    resolution: int,
) -> Scan:
    verified = qr.verify(code, security=security)
    wlat, wlng = wgs84_position(lat, lng, crs)
    return Scan(
        station_code=verified.station_code,
        lat=wlat,
        lng=wlng,
        cell=h3cells.cell_from_latlng(wlat, wlng, resolution),
    )
