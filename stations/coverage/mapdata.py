"""What the coverage map shows about each station, loaded from the catalog.

The popup carries the station's name, amenities, hours and access, plus the visit
facts kept by ratings and water stock (average rating, bottles left today), which
:func:`station_visit_facts` provides.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import asyncpg

from stations.catalog import hours
from stations.coverage.analysis import SQL, pad_box
from stations.coverage.regions import Region
from stations.visits import ratings, stock


@dataclass(frozen=True)
class VisitFacts:
    """Facts from members' visits: average stars, how many ratings, water left today."""

    rating: float | None = None
    ratings: int = 0
    water_remaining: int | None = None
    water_allocated: int | None = None


@dataclass(frozen=True)
class MapStation:
    id: int
    code: str
    name: str
    name_en: str | None
    kind: str
    amenities: tuple[str, ...]
    access: str
    opening_hours: str | None
    open_now: bool | None
    address: str | None
    district: str | None
    lat: float
    lng: float
    visit: VisitFacts


async def station_visit_facts(
    conn: asyncpg.Connection, station_ids: list[int]
) -> dict[int, VisitFacts]:
    """Rating and today's water per station (each station's own local day).

    Stations missing from the result, or without ratings or stock, show "no data".
    """
    if not station_ids:
        return {}
    summaries = await ratings.rating_summaries(conn, station_ids)
    water = await stock.water_today(conn, station_ids, at=datetime.now(UTC))
    facts: dict[int, VisitFacts] = {}
    for station_id in station_ids:
        summary, today = summaries.get(station_id), water.get(station_id)
        facts[station_id] = VisitFacts(
            rating=summary.mean_stars if summary and summary.ratings else None,
            ratings=summary.ratings if summary else 0,
            water_remaining=today.remaining if today else None,
            water_allocated=today.allocated if today else None,
        )
    return facts


async def load_map_stations(
    conn: asyncpg.Connection, *, region: Region, at: datetime, margin_m: float = 500.0
) -> list[MapStation]:
    """Active stations in (and just around) the region, with what their popups show."""
    min_lat, max_lat, min_lng, max_lng = pad_box(region, margin_m)
    rows = await conn.fetch(SQL.stations_for_map, min_lat, max_lat, min_lng, max_lng)
    facts = await station_visit_facts(conn, [r["id"] for r in rows])
    out = []
    for r in rows:
        state = hours.state_at(
            r["opening_hours"], time_zone=r["time_zone"], country=r["country_code"], at=at
        )
        out.append(
            MapStation(
                id=r["id"],
                code=r["code"],
                name=r["name"],
                name_en=r["name_en"],
                kind=r["kind"],
                amenities=tuple(r["amenities"]),
                access=r["access"],
                opening_hours=r["opening_hours"],
                open_now=state.is_open,
                address=r["address"],
                district=r["district"],
                lat=r["lat"],
                lng=r["lng"],
                visit=facts.get(r["id"], VisitFacts()),
            )
        )
    return out
