"""Plain factory functions for tests: ``await create_station(conn, name=…, lat=…)``.

They insert rows the way the catalog stores them (WGS84 point, H3 cells at 7/9/11),
with defaults that describe an ordinary open love station in Huaibei.
"""

from __future__ import annotations

import itertools
from typing import Any

import asyncpg

from stations import h3cells

_ids = itertools.count(1)

HUAIBEI_CENTRE = (33.9556, 116.7983)  # 淮北市相山区, near 相山公园

STATION_DEFAULTS: dict[str, Any] = {
    "name": "测试爱心驿站",
    "kind": "love_station",
    "status": "active",
    "amenities": ["drinking_water", "seating", "phone_charging"],
    "access": "open_to_all",
    "opening_hours": "24/7",
    "time_zone": "Asia/Shanghai",
    "country_code": "CN",
    "address": None,
    "district": "相山区",
    "operator": "淮北市总工会",
    "source": "test",
}

_INSERT_STATION = """
INSERT INTO stations (name, kind, status, amenities, access, opening_hours, time_zone,
                      country_code, address, district, operator, source, source_id,
                      original_position, geom, h3_r7, h3_r9, h3_r11, verified_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14,
        ST_SetSRID(ST_MakePoint($16, $15), 4326)::geography, $17, $18, $19, $20)
RETURNING *
"""


async def create_station(
    conn: asyncpg.Connection,
    *,
    lat: float = HUAIBEI_CENTRE[0],
    lng: float = HUAIBEI_CENTRE[1],
    source_id: str | None = None,
    verified_at: Any = None,
    **overrides: Any,
) -> asyncpg.Record:
    unknown = set(overrides) - set(STATION_DEFAULTS)
    if unknown:
        raise TypeError(f"create_station: unknown fields {sorted(unknown)}")
    values = {**STATION_DEFAULTS, **overrides}
    cells = h3cells.catalog_cells_of(lat, lng)
    return await conn.fetchrow(
        _INSERT_STATION,
        values["name"],
        values["kind"],
        values["status"],
        values["amenities"],
        values["access"],
        values["opening_hours"],
        values["time_zone"],
        values["country_code"],
        values["address"],
        values["district"],
        values["operator"],
        values["source"],
        source_id or f"t{next(_ids)}",
        {"crs": "wgs84", "lat": lat, "lng": lng},
        lat,
        lng,
        cells[7],
        cells[9],
        cells[11],
        verified_at,
    )


async def create_demand_point(
    conn: asyncpg.Connection,
    *,
    lat: float,
    lng: float,
    weight: float = 1.0,
    activity: str = "order_pickup",
    source: str = "test",
) -> asyncpg.Record:
    return await conn.fetchrow(
        """
        INSERT INTO demand_points (source, source_id, activity, weight, geom, h3_r11)
        VALUES ($1, $2, $3, $4, ST_SetSRID(ST_MakePoint($6, $5), 4326)::geography, $7)
        RETURNING *
        """,
        source,
        f"d{next(_ids)}",
        activity,
        weight,
        lat,
        lng,
        h3cells.cell_from_latlng(lat, lng, 11),
    )
