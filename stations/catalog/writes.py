"""Writing one station at a time: the path behind the API's create and update endpoints.

Fields are checked by :func:`stations.catalog.rules.validate_station` (the importer's own
rules), positions are converted and indexed by the same vectorised functions the
importer uses (WGS84 via :mod:`stations.geo.crs`, H3 cells via :func:`h3cells.catalog_cells`,
the zone via :func:`stations.catalog.zones.infer_time_zones`), and every write runs in
:func:`stations.db.connection.transaction` so history names who and why.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

import asyncpg
import numpy as np

from stations.catalog import districts, rules
from stations.catalog.fields import DEFAULTS, STATION_FIELDS, expand_sql
from stations.catalog.text import name_key
from stations.catalog.zones import country_of_zone, infer_time_zones, localise
from stations.db import connection as dbconn
from stations.errors import Conflict, InvalidInput, StationNotFound
from stations.geo import crs as crsmod
from stations.geo import h3cells
from stations.sql import load

SQL = load("catalog", expand=expand_sql)

DEFAULT_SOURCE = "api"
"""The source of stations created one by one (their source id is a random UUID)."""


def locate(lat: float, lng: float, crs: crsmod.Crs) -> dict[str, Any]:
    """A position in catalog form: WGS84 lat/lng, the original as given, H3 cells."""
    if not crs.is_geographic:
        raise InvalidInput(
            f"crs: {crs} is projected; send lat/lng in wgs84, gcj02, bd09 or a geographic EPSG",
            field="crs",
        )
    wlat, wlng = crsmod.to_wgs84(np.array([lat]), np.array([lng]), crs)
    cells = h3cells.catalog_cells(wlat, wlng)
    return {
        "lat": float(wlat[0]),
        "lng": float(wlng[0]),
        "original_position": {"crs": crs.name, "lat": lat, "lng": lng},
        "h3_r7": int(cells[7][0]),
        "h3_r9": int(cells[9][0]),
        "h3_r11": int(cells[11][0]),
    }


def zone_of(lat: float, lng: float, h3_r11: int) -> str:
    """The IANA zone of a WGS84 point, found like the importer finds it."""
    zone = infer_time_zones(np.array([lat]), np.array([lng]), np.array([h3_r11]))[0]
    return str(zone)


def row_of(values: Mapping[str, Any]) -> dict[str, Any]:
    """Every field of the field table with its value, a default where the station must
    have one: the JSON object ``insert_station``/``update_station`` read as a row."""
    out: dict[str, Any] = {name: values.get(name) for name in STATION_FIELDS}
    for name, default in DEFAULTS.items():
        if not out[name]:
            out[name] = default
    out["amenities"] = list(out["amenities"])
    return out


async def get_station(conn: asyncpg.Connection, station_id: int) -> asyncpg.Record:
    """A station with ``lat``/``lng``; NotFound when there is none with this id."""
    row = await conn.fetchrow(SQL.get_station, station_id)
    if row is None:
        raise StationNotFound(station_id)
    return row


async def _refuse_near_duplicate(
    conn: asyncpg.Connection, name: str, lat: float, lng: float, *, station_id: int | None
) -> None:
    nearby = await conn.fetch(SQL.stations_near, lat, lng, rules.NEAR_DUPLICATE_METRES, station_id)
    if not nearby:
        return
    key = name_key(name)
    for other in nearby:
        if name_key(other["name"]) == key:
            raise Conflict(
                f"station {other['code']} ({other['name']!r}) is {other['metres']:.1f} m away "
                f"with the same name; update that station instead of adding a second one, "
                f"or correct the position or name",
                code="near_duplicate",
                station_code=other["code"],
                distance_m=round(other["metres"], 1),
            )


async def create_station(
    conn: asyncpg.Connection,
    fields: Mapping[str, Any],
    *,
    actor: str,
    reason: str | None = None,
    source: str = DEFAULT_SOURCE,
    source_id: str | None = None,
    branch: str | None = None,
) -> asyncpg.Record:
    """Create one station from catalog fields and ``lat``/``lng`` (+ optional ``crs``).

    The time zone comes from the position and the country from the zone when not given.
    Raises InvalidInput (every bad field listed), Conflict (a station with the same
    name within a few metres, or the source id taken), or Forbidden when ``branch`` (the
    writer's union branch) does not own the station's district code.
    """
    clean = rules.validate_station(fields)
    districts.check_district(branch, clean.get("district_code"))
    if not rules.SOURCE_PATTERN.fullmatch(source):
        raise InvalidInput(f"source: {source!r} is not a source name (a-z, 0-9, . _ -)")
    place = locate(clean.pop("lat"), clean.pop("lng"), clean.pop("crs"))
    zone = clean.get("time_zone") or zone_of(place["lat"], place["lng"], place["h3_r11"])
    country = clean.get("country_code") or country_of_zone(zone)
    verified = localise(clean.get("verified_at"), zone)
    async with dbconn.transaction(conn, actor=actor, reason=reason):
        await _refuse_near_duplicate(
            conn, clean["name"], place["lat"], place["lng"], station_id=None
        )
        try:
            station_id = await conn.fetchval(
                SQL.insert_station,
                row_of(
                    {**clean, "time_zone": zone, "country_code": country, "verified_at": verified}
                ),
                source,
                source_id or uuid.uuid4().hex,
                place["original_position"],
                place["lat"],
                place["lng"],
                place["h3_r7"],
                place["h3_r9"],
                place["h3_r11"],
            )
        except asyncpg.UniqueViolationError as exc:
            raise Conflict(
                f"source id {source_id!r} of source {source!r} is taken; update that station",
                code="source_id_taken",
                source=source,
                source_id=source_id,
            ) from exc
        return await get_station(conn, station_id)


async def update_station(
    conn: asyncpg.Connection,
    station_id: int,
    changes: Mapping[str, Any],
    *,
    actor: str,
    expected_version: int | None = None,
    reason: str | None = None,
    branch: str | None = None,
) -> asyncpg.Record:
    """Change some fields of a station (a partial update) and return it.

    With ``expected_version`` the change applies only to that version (else Conflict:
    someone changed it meanwhile). A new position is converted and indexed like on
    create; its time zone (and country) follow it unless given. Unknown id: NotFound.
    With ``branch``, the station must be that union branch's, and stay so.
    """
    clean = rules.validate_station(changes, partial=True)
    async with dbconn.transaction(conn, actor=actor, reason=reason):
        row = await conn.fetchrow(SQL.lock_station, station_id)
        if row is None:
            raise StationNotFound(station_id)
        if not districts.covers(branch, row["district_code"]):
            raise districts.outside(
                branch, f"station {station_id} is not under your branch", station_id=station_id
            )
        if "district_code" in clean:
            districts.check_district(branch, clean["district_code"])
        if expected_version is not None and row["version"] != expected_version:
            raise Conflict(
                f"station {station_id} is at version {row['version']}, not {expected_version}: "
                "someone changed it meanwhile; reload it and apply your change again",
                code="version_conflict",
                version=row["version"],
                expected_version=expected_version,
            )
        merged = dict(row)
        moved = "lat" in clean
        if moved:
            merged.update(locate(clean.pop("lat"), clean.pop("lng"), clean.pop("crs")))
        merged.update(clean)
        if moved and "time_zone" not in clean:
            merged["time_zone"] = zone_of(merged["lat"], merged["lng"], merged["h3_r11"])
            if "country_code" not in clean:
                merged["country_code"] = country_of_zone(merged["time_zone"])
        if "verified_at" in clean:
            merged["verified_at"] = localise(clean["verified_at"], merged["time_zone"])
        if "name" in clean or moved:
            await _refuse_near_duplicate(
                conn, merged["name"], merged["lat"], merged["lng"], station_id=station_id
            )
        await conn.execute(
            SQL.update_station,
            station_id,
            row_of(merged),
            merged["original_position"],
            merged["lat"],
            merged["lng"],
            merged["h3_r7"],
            merged["h3_r9"],
            merged["h3_r11"],
        )
        return await get_station(conn, station_id)


async def set_station_status(
    conn: asyncpg.Connection, station_id: int, status: str, *, actor: str, reason: str
) -> asyncpg.Record:
    """Open, pause or close a station; ``reason`` goes into its history."""
    clean = rules.validate_station({"status": status}, partial=True)
    if not clean.get("status") or status in (None, ""):
        raise InvalidInput(f"status: give one of {', '.join(rules.STATUSES)}", field="status")
    async with dbconn.transaction(conn, actor=actor, reason=reason):
        found = await conn.fetchval(SQL.set_status, station_id, clean["status"])
        if found is None:
            raise StationNotFound(station_id)
        return await get_station(conn, station_id)
