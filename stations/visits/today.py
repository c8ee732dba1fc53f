"""A station's day at a glance, for its operator: what the console's first screen shows.

Water (allocated, remaining, handed out, and where a default comes from), claims still
waiting for their bottle, the opening state now and its next change (the station's
hours in its own zone; a station paused or closed by its operator is closed whatever
its hours say), and whether members reported the listing as wrong. Each part comes from
the function that owns it (:mod:`stations.visits.stock`, :mod:`stations.catalog.hours`,
:func:`stations.visits.ratings.review_queue`); this module only puts them together.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import asyncpg

from stations.catalog import hours
from stations.catalog.hours_words import week_in_words
from stations.errors import StationNotFound
from stations.sql import load
from stations.visits import ratings, stock

SQL = load("visits")


async def station_today(
    conn: asyncpg.Connection, *, station_id: int, at: datetime
) -> dict[str, Any]:
    """Everything the operator's first screen shows about one station at ``at``."""
    station = await conn.fetchrow(SQL.station_glance, station_id)
    if station is None:
        raise StationNotFound(station_id)
    state = hours.state_at(
        station["opening_hours"],
        time_zone=station["time_zone"],
        country=station["country_code"],
        at=at,
    )
    counts = await conn.fetchrow(SQL.claims_today_counts, station_id)
    review = await ratings.review_queue(conn, station_ids=frozenset({station_id}))
    return {
        "station": dict(station),
        "open": {
            "is_open": state.is_open if station["status"] == "active" else False,
            "hours_say_open": state.is_open,
            "next_change": state.next_change,
        },
        "hours_next_7_days": week_in_words(
            station["opening_hours"],
            time_zone=station["time_zone"],
            country=station["country_code"],
            start=at,
        ),
        "stock": await stock.get_stock(conn, station_id=station_id),
        "claims": dict(counts),
        "review": review[0] if review else None,
    }
